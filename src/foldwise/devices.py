"""Which device a job runs on.

Snakemake's ``resources: gpu=1`` only counts GPUs; it never assigns one. Locally a job
therefore takes a free GPU through a lock-file slot (an flock on one file per GPU, released
by the kernel when the process dies, even by SIGKILL). Inside a cluster job whose scheduler
set CUDA_VISIBLE_DEVICES (SLURM, PBS, LSF, Kubernetes), the GPU given is used as it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch

log = logging.getLogger(__name__)

# set in the jobs of these schedulers, which also set CUDA_VISIBLE_DEVICES to the GPUs given
SCHEDULER_JOB_VARIABLES = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "KUBERNETES_SERVICE_HOST")


def scheduler_assigned() -> bool:
    """True inside a cluster job whose scheduler chose the GPUs and named them in CUDA_VISIBLE_DEVICES.

    CUDA_VISIBLE_DEVICES alone may be a workstation user narrowing the GPUs that local jobs share
    through the slots; a job without it asked for no GPU.
    """
    return bool(os.environ.get("CUDA_VISIBLE_DEVICES")) and any(v in os.environ for v in SCHEDULER_JOB_VARIABLES)


def slot_folder(lock_dir: str | None, count: int) -> Path:
    """The folder of the ``count`` GPU slots: the shared one, or this user's own where the shared one is unusable."""
    shared = Path(lock_dir or Path(tempfile.gettempdir()) / "foldwise-gpu-slots")
    try:
        _make_slots(shared, count)
        return shared
    except OSError as error:  # another user's folder, or a file in the way
        own = Path(tempfile.gettempdir()) / f"foldwise-gpu-slots-uid{os.getuid()}"
        log.warning(
            "GPU slots: cannot use %s (%s); using %s, where the jobs of other users do not see these slots",
            shared,
            error.strerror or error,
            own,
        )
        _make_slots(own, count)
        return own


def _make_slots(folder: Path, count: int) -> None:
    """Create ``folder`` (open to all like /tmp when created here) and its lock files, lockable by every user."""
    try:
        folder.mkdir(parents=True)
        folder.chmod(0o1777)
    except FileExistsError:
        pass
    for index in range(count):
        os.close(_open_slot(folder, index))


def _open_slot(folder: Path, index: int) -> int:
    # read-only: flock needs no write access, so another user's lock file is still usable
    return os.open(folder / f"gpu{index}.lock", os.O_RDONLY | os.O_CREAT, 0o666)


@contextlib.contextmanager
def acquire(lock_dir: str | None = None, poll_seconds: float = 2.0) -> Iterator[torch.device]:
    """Hold a device for the duration of the block: a free local GPU, the scheduler's GPU, or the CPU."""
    if not torch.cuda.is_available():
        log.info("device: cpu (no CUDA device visible)")
        yield torch.device("cpu")
        return
    if scheduler_assigned():
        log.info(
            "device: cuda:0 as assigned by the scheduler (CUDA_VISIBLE_DEVICES=%s)", os.environ["CUDA_VISIBLE_DEVICES"]
        )
        yield torch.device("cuda", 0)
        return
    count = torch.cuda.device_count()
    folder = slot_folder(lock_dir, count)
    waited = False
    while True:
        for index in range(count):
            slot = _open_slot(folder, index)
            try:
                fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(slot)
                continue
            try:
                log.info(
                    "device: cuda:%d (%s), slot %s",
                    index,
                    torch.cuda.get_device_name(index),
                    folder / f"gpu{index}.lock",
                )
                torch.cuda.set_device(index)
                yield torch.device("cuda", index)
            finally:
                fcntl.flock(slot, fcntl.LOCK_UN)
                os.close(slot)
            return
        if not waited:
            log.info("all %d GPU slot(s) in %s are taken; waiting", count, folder)
            waited = True
        time.sleep(poll_seconds)
