import threading
import time

import torch

from foldwise import devices


def test_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with devices.acquire() as device:
        assert device.type == "cpu"


def fake_gpus(monkeypatch, count):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
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


def test_scheduler_assigned_gpu_is_used_as_given(monkeypatch, tmp_path):
    fake_gpus(monkeypatch, 1)
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    with devices.acquire(str(tmp_path)) as device:
        assert device == torch.device("cuda", 0)
    assert not list(tmp_path.iterdir())  # no lock-file slot taken
