import builtins
import contextlib
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest
import torch

from foldwise import devices


def test_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with devices.acquire() as device:
        assert device.type == "cpu"


def fake_gpus(monkeypatch, count):
    for variable in ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "KUBERNETES_SERVICE_HOST", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: f"fake{index}")


def test_concurrent_jobs_never_share_a_gpu(monkeypatch, tmp_path):
    fake_gpus(monkeypatch, 2)
    held, events = [], []

    def job(name, seconds):
        with devices.acquire(str(tmp_path), poll_seconds=0.05) as device:
            held.append(device.index)
            events.append((name, "start", device.index, time.monotonic()))
            time.sleep(seconds)
            events.append((name, "end", device.index, time.monotonic()))

    threads = [threading.Thread(target=job, args=(n, 0.4)) for n in "abc"]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert sorted(held[:2]) == [0, 1]  # the first two take both GPUs
    third = next(e for e in events if e[0] == "c" and e[1] == "start")
    first_end = min(e[3] for e in events if e[1] == "end")
    assert third[3] >= first_end  # the third waited for a free slot


@pytest.mark.parametrize("job", ["SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "KUBERNETES_SERVICE_HOST"])
def test_scheduler_assigned_gpu_is_used_as_given(monkeypatch, tmp_path, job):
    fake_gpus(monkeypatch, 1)
    monkeypatch.setenv(job, "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with devices.acquire(str(tmp_path)) as device:
        assert device == torch.device("cuda", 0)
    assert not list(tmp_path.iterdir())  # no lock-file slot taken


@pytest.mark.parametrize("job", ["SLURM_JOB_ID", "KUBERNETES_SERVICE_HOST"])
def test_jobs_of_a_multi_gpu_allocation_share_its_gpus_through_slots(monkeypatch, tmp_path, job):
    # sbatch --gpus=4 around one snakemake --resources gpu=4, or a pod with 4 GPUs: the scheduler
    # chose the GPUs of the allocation, not of each job
    fake_gpus(monkeypatch, 4)
    monkeypatch.setenv(job, "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    with contextlib.ExitStack() as jobs:
        held = [jobs.enter_context(devices.acquire(str(tmp_path))).index for _ in range(4)]
    assert sorted(held) == [0, 1, 2, 3]


def test_two_multi_gpu_allocations_on_one_node_keep_their_own_slots(monkeypatch, tmp_path):
    # each counts its GPUs from 0 (cgroup-constrained CUDA_VISIBLE_DEVICES=0,1): one folder of slots
    # per allocation, so that neither waits for the other's
    fake_gpus(monkeypatch, 2)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv("SLURM_JOB_ID", "41")
    with devices.acquire(poll_seconds=0.01) as a0, devices.acquire(poll_seconds=0.01) as a1:
        monkeypatch.setenv("SLURM_JOB_ID", "42")
        with devices.acquire(poll_seconds=0.01) as b0:
            assert (a0.index, a1.index, b0.index) == (0, 1, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foldwise-gpu-slots-job41", "foldwise-gpu-slots-job42"]


def test_a_workstation_cuda_visible_devices_still_takes_a_slot(monkeypatch, tmp_path):
    fake_gpus(monkeypatch, 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # the user's own choice of GPUs, no scheduler
    with devices.acquire(str(tmp_path)) as first, devices.acquire(str(tmp_path)) as second:
        assert {first.index, second.index} == {0, 1}


def refuse_in(folder, real_open):
    def denied(path, *args, **kwargs):
        if Path(path).parent == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    return denied


@pytest.mark.parametrize("unusable", ["another user's folder", "a file in the way"])
def test_an_unusable_slot_folder_falls_back_to_one_of_this_user(monkeypatch, tmp_path, caplog, unusable):
    fake_gpus(monkeypatch, 2)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = tmp_path / "shared"
    if unusable == "a file in the way":
        shared.write_text("")
    else:  # what the kernel answers a user who may not create files in another user's 0755 folder
        shared.mkdir()
        for module, name in [(os, "open"), (builtins, "open")]:
            monkeypatch.setattr(module, name, refuse_in(shared, getattr(module, name)))
    with (
        caplog.at_level(logging.WARNING, logger="foldwise.devices"),
        devices.acquire(str(shared)) as first,
        devices.acquire(str(shared)) as second,
    ):
        assert {first.index, second.index} == {0, 1}  # the fallback slots still keep jobs apart
    own = tmp_path / f"foldwise-gpu-slots-uid{os.getuid()}"
    assert sorted(p.name for p in own.iterdir()) == ["gpu0.lock", "gpu1.lock"]
    assert f"GPU slots: cannot use {shared}" in caplog.text and str(own) in caplog.text
