"""Which device a job runs on.

Snakemake's ``resources: gpu=1`` only counts GPUs; it never assigns one. Locally a job
therefore takes a free GPU through a lock-file slot (an flock on one file per GPU, released
by the kernel when the process dies, even by SIGKILL). Inside a SLURM job, or wherever
CUDA_VISIBLE_DEVICES was set by a scheduler, the GPU given is used as it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Iterator

import torch

log = logging.getLogger(__name__)


def scheduler_assigned() -> bool:
    """True inside a cluster job whose scheduler already chose the GPUs."""
    return "SLURM_JOB_ID" in os.environ


@contextlib.contextmanager
def acquire(lock_dir: str | None = None, poll_seconds: float = 2.0) -> Iterator[torch.device]:
    """Hold a device for the duration of the block: a free local GPU, the scheduler's GPU, or the CPU."""
    if not torch.cuda.is_available():
        log.info("device: cpu (no CUDA device visible)")
        yield torch.device("cpu")
        return
    if scheduler_assigned():
        log.info("device: cuda:0 as assigned by the scheduler (CUDA_VISIBLE_DEVICES=%s)",
                 os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
        yield torch.device("cuda", 0)
        return
    lock_dir = Path(lock_dir or Path(tempfile.gettempdir()) / "foldwise-gpu-slots")
    lock_dir.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        for index in range(torch.cuda.device_count()):
            handle = open(lock_dir / f"gpu{index}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                log.info("device: cuda:%d (%s), slot %s", index, torch.cuda.get_device_name(index), handle.name)
                torch.cuda.set_device(index)
                yield torch.device("cuda", index)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if not waited:
            log.info("all %d GPU slot(s) in %s are taken; waiting", torch.cuda.device_count(), lock_dir)
            waited = True
        time.sleep(poll_seconds)
