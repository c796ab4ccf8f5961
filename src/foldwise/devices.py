"""Which device a job runs on.

Snakemake's ``resources: gpu=1`` only counts GPUs; it never assigns one. Locally a job
therefore takes a free GPU through a lock-file slot (an flock on one file per GPU, released
by the kernel when the process dies, even by SIGKILL). Inside a cluster job whose scheduler
set CUDA_VISIBLE_DEVICES (SLURM, PBS, LSF, Kubernetes) to exactly one GPU, that GPU is used as
it is. An allocation of several (``sbatch --gpus=4`` around one snakemake, a pod with 4 GPUs)
shares them among its jobs through the slots, as a workstation does: in a folder of that
allocation, so that two allocations on one node do not wait for each other's slots.
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

# set in the jobs of these schedulers, which also set CUDA_VISIBLE_DEVICES to the GPUs given; the
# first three hold the job's id (a pod has its own /tmp, so Kubernetes needs none)
SCHEDULER_JOB_VARIABLES = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "KUBERNETES_SERVICE_HOST")


def scheduler_job() -> str | None:
    """The scheduler variable of the cluster job this runs in, where its scheduler named the job's
    GPUs in CUDA_VISIBLE_DEVICES; None elsewhere.

    CUDA_VISIBLE_DEVICES alone may be a workstation user narrowing the GPUs that local jobs share
    through the slots; a job without it asked for no GPU.
    """
    if not os.environ.get("CUDA_VISIBLE_DEVICES"):
        return None
    return next((v for v in SCHEDULER_JOB_VARIABLES if v in os.environ), None)


def scheduler_assigned() -> bool:
    """True inside a cluster job whose scheduler gave it exactly one GPU: the device is then chosen.

    With several visible (one snakemake in a multi-GPU allocation) the scheduler chose them for the
    whole allocation, not for this job, and the job takes one through the slots.
    """
    return scheduler_job() is not None and torch.cuda.device_count() == 1


def default_slot_folder() -> Path:
    """$TMPDIR/foldwise-gpu-slots, with the job's id inside a multi-GPU allocation of a batch scheduler
    (its GPU indices are the allocation's own, and another allocation on the node counts from 0 too)."""
    folder = Path(tempfile.gettempdir()) / "foldwise-gpu-slots"
    job = scheduler_job()
    if job is None or job == "KUBERNETES_SERVICE_HOST":
        return folder
    return folder.with_name(f"{folder.name}-job{os.environ[job]}")


def slot_folder(lock_dir: str | None, count: int) -> Path:
    """The folder of the ``count`` GPU slots: the shared one, or this user's own where the shared one is unusable."""
    shared = Path(lock_dir or default_slot_folder())
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
    """Hold a device for the duration of the block: the scheduler's one GPU, a free GPU of those
    visible (on a workstation, or of a multi-GPU allocation), or the CPU."""
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
    if scheduler_job():
        log.info(
            "%d GPUs visible to this cluster job (CUDA_VISIBLE_DEVICES=%s): taking one through a slot",
            *(count, os.environ["CUDA_VISIBLE_DEVICES"]),
        )
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
