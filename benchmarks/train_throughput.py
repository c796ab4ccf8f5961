"""Training throughput on the current device (CUDA if present, else CPU), as one JSON object on stdout.

    python benchmarks/train_throughput.py --configfile config/presets/plant_pathology_2020.yaml --workers 16

Config files are laid over config/config.yaml as snakemake's --configfile lays them; the
options override the model, sizes and system settings. In one run, each rate in images/s
after warm-up steps (compilation included there), CUDA synchronised around the timers:

  ceiling    the model's own train and inference rates on synthetic tensors already on the
             device: same precision, channels-last, compile, loss and optimizer as the config
  ours       foldwise's training, ``train.train_fold`` itself, fed by its data path (a uint8
             memmap cache of synthetic images, the config's albumentations, DataLoader
             workers, normalisation on the device): the images/s of its second epoch
  data_path  augmented images/s the DataLoader delivers alone, with 1 worker and with all,
             and per CPU second (one core's worth, whatever else the machine runs)
  naive      the public Plant Pathology 2020 code's way: every sample decoded from a
             full-resolution 2048x1365 JPEG (a grayscale one per channel unless RGB, as HPA's), resized, augmented
             per epoch, normalised on the CPU; fp32, NCHW

Logs go to stderr. Nothing is downloaded: models start from random init.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import timm
import torch
from albumentations.pytorch import ToTensorV2
from timm.optim import create_optimizer_v2
from torch.utils.data import DataLoader, Dataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's foldwise, installed or not

from foldwise import augment, cache, configs, losses, models, predict, train  # noqa: E402

PHASES = ("ceiling", "ours", "data_path", "naive")
NAIVE_SOURCE = (1365, 2048)  # (h, w) of a Plant Pathology 2020 photo
log = logging.getLogger("train_throughput")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", nargs="+", default=[], help="laid over config/config.yaml, in order")
    parser.add_argument("--model", help="timm model (default: train.model)")
    parser.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), help="cached image size (default: cache.size)")
    parser.add_argument("--channels", type=int, help="image channels (default: the dataset's, else 3)")
    parser.add_argument("--batch-size", type=int, help="default: train.batch_size")
    parser.add_argument("--workers", type=int, help="DataLoader workers (default: train.num_workers)")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile the model (default: train.compile)",
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps (batches) of each phase")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before them")
    parser.add_argument("--images", type=int, default=64, help="distinct synthetic images in the cache")
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    return parser.parse_args(argv)


def train_config(config: dict, args: argparse.Namespace) -> train.TrainConfig:
    """The config's ``train:`` section with the command line's overrides; random init always."""
    names = {f.name for f in dataclasses.fields(train.TrainConfig)}
    cfg = train.TrainConfig(**{k: v for k, v in config["train"].items() if k in names})
    overrides = {
        "model": args.model,
        "batch_size": args.batch_size,
        "num_workers": args.workers,
        "compile": args.compile,
    }
    return dataclasses.replace(cfg, pretrained=None, **{k: v for k, v in overrides.items() if v is not None})


def channel_count(dataset: dict | None) -> int:
    """Channels of the configured dataset: one per file of a channel mapping, else ``channels``, else 3."""
    dataset = dataset or {}
    if isinstance(dataset.get("images"), dict):
        return len(dataset["images"])
    return dataset.get("channels") or 3


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rate(step, steps: int, warmup: int, batch_size: int, device: torch.device, clock=time.perf_counter) -> float:
    """Images per second of ``clock`` of ``step()`` (one batch each), over ``steps`` calls after
    ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    synchronize(device)
    started = clock()
    for _ in range(steps):
        step()
    synchronize(device)
    return steps * batch_size / (clock() - started)


def whole_bursts(steps: int, warmup: int, workers: int) -> tuple[int, int]:
    """(timed, untimed) batches for a DataLoader with ``workers``: they start together and deliver a
    batch each at about the same time, so the untimed batches take at least the first burst (start-up
    included) and the timed ones whole bursts; the rate then counts no batch made before the timer."""
    workers = max(workers, 1)
    return -(-steps // workers) * workers, max(warmup, workers)


def loader_rate(loader: DataLoader, steps: int, warmup: int) -> float:
    """Images/s a DataLoader delivers over about ``steps`` batches, after ``warmup`` (see ``whole_bursts``)."""
    batches = iter(loader)
    steps, warmup = whole_bursts(steps, warmup, loader.num_workers)
    return rate(lambda: next(batches), steps, warmup, loader.batch_size, torch.device("cpu"))


@contextlib.contextmanager
def peak_memory(device: torch.device, into: dict):
    """Record the device's peak allocated GiB during the block in ``into["peak_memory_gib"]`` (CUDA only)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    yield
    into["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def photo(rng: np.random.Generator, size: tuple[int, int], channels: int) -> np.ndarray:
    """A smooth random image with some grain, (h, w, channels) uint8: compresses and blurs like a photo."""
    h, w = size
    coarse = rng.uniform(0, 255, (max(h // 32, 2), max(w // 32, 2), channels)).astype(np.float32)
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, channels)
    return np.clip(smooth + rng.normal(0, 8, smooth.shape), 0, 255).astype(np.uint8)


def one_hot(rng: np.random.Generator, rows: int, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float32)[rng.integers(0, classes, rows)]


def measure_ceiling(
    cfg: train.TrainConfig,
    channels: int,
    train_size: tuple[int, int],
    classes: int,
    device: torch.device,
    steps: int,
    warmup: int,
) -> dict:
    """Train and inference images/s of the model on a synthetic batch that never leaves the device."""
    model = models.create(cfg.model, classes, channels, None, cfg.drop_rate, cfg.global_pool, cfg.head).to(device)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer_spec = dict(cfg.optimizer)
    optimizer = create_optimizer_v2(model, opt=optimizer_spec.pop("name", "adam"), **optimizer_spec)
    criterion = losses.create(cfg.loss, cfg.focal_gamma)
    forward = torch.compile(model) if cfg.compile else model
    autocast, _ = predict.precision_context(device, cfg.precision)
    x = torch.randn(cfg.batch_size, channels, *train_size, device=device).contiguous(memory_format=memory_format)
    y = torch.from_numpy(one_hot(np.random.default_rng(0), cfg.batch_size, classes)).to(device)

    def train_step():
        with autocast:
            loss = criterion(forward(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def inference_step():
        with autocast:
            forward(x)

    result = {}
    with peak_memory(device, result):
        model.train()
        result["train_images_per_s"] = rate(train_step, steps, warmup, cfg.batch_size, device)
        model.eval()
        result["inference_images_per_s"] = rate(inference_step, steps, warmup, cfg.batch_size, device)
    return result


def measure_ours(
    cfg: train.TrainConfig, images: np.ndarray, classes: int, task: str, device: torch.device, steps: int, workdir: Path
) -> dict:
    """foldwise's own training, two epochs of ``steps`` updates: the first warms up (workers, compilation),
    the second is timed by train_fold itself (its history's images/s)."""
    rng = np.random.default_rng(1)
    rows = np.arange(steps * cfg.batch_size) % len(images)
    val_rows = np.arange(min(cfg.batch_size, len(images)))
    data = train.FoldData(
        train_rows=rows,
        train_targets=one_hot(rng, len(rows), classes),
        val_rows=val_rows,
        val_targets=one_hot(rng, len(val_rows), classes),
        classes=[f"c{c}" for c in range(classes)],
        fold=0,
    )
    channels = images.shape[-1]
    stats = {"mean": [0.5] * channels, "std": [0.25] * channels}
    result = {}
    with peak_memory(device, result):
        fold = train.train_fold(
            dataclasses.replace(cfg, epochs=2),
            data,
            images,
            stats,
            task,
            device,
            workdir / "checkpoint.pt",
            seed=0,
            name="benchmark",
        )
    result["train_images_per_s"] = float(fold["history"].images_per_s.iloc[-1])
    return result


def measure_data_path(
    cfg: train.TrainConfig, images: np.ndarray, device: torch.device, steps: int, warmup: int
) -> dict:
    """Augmented images/s from the cache through CachedImages and a DataLoader, with 1 worker and with
    all; and images per CPU second in this process, what one core delivers however loaded the machine."""
    rows = np.arange(sum(whole_bursts(steps, warmup, cfg.num_workers)) * cfg.batch_size) % len(images)
    dataset = train.CachedImages(
        images, rows, np.zeros((len(rows), 1), np.float32), augment.create(cfg.augment, seed=0)
    )
    result = {"workers": cfg.num_workers}
    for key, workers in (("images_per_s_1_worker", 1), ("images_per_s_all_workers", cfg.num_workers)):
        loader = train.make_loader(dataset, train.EpochSampler(len(dataset), seed=0), cfg.batch_size, workers, device)
        result[key] = loader_rate(loader, steps, warmup)
    batches = iter(
        train.make_loader(dataset, train.EpochSampler(len(dataset), seed=0), cfg.batch_size, 0, torch.device("cpu"))
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a DataLoader worker: collation's idle OpenMP threads would count as work
    try:
        result["images_per_cpu_s"] = rate(
            lambda: next(batches), steps, warmup, cfg.batch_size, device, time.process_time
        )
    finally:
        torch.set_num_threads(threads)
    return result


class FullResolutionImages(Dataset):
    """The public Plant Pathology 2020 dataset: decode the full-size JPEG(s) of a sample on every access,
    then resize, augment and normalise on the CPU (albumentations), returning float32 CHW."""

    def __init__(self, files: list[list[str]], targets: np.ndarray, transform: A.Compose):
        self.files, self.targets, self.transform = files, targets, transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i):
        paths = self.files[i % len(self.files)]
        if len(paths) == 1:
            image = cv2.cvtColor(cv2.imread(paths[0]), cv2.COLOR_BGR2RGB)
        else:  # one single-channel file per channel (HPA)
            image = np.dstack([cv2.imread(path, cv2.IMREAD_GRAYSCALE) for path in paths])
        return self.transform(image=image)["image"], torch.from_numpy(self.targets[i])


def write_jpegs(directory: Path, count: int, channels: int) -> list[list[str]]:
    """``count`` samples of full-resolution JPEGs: one RGB file each, or one grayscale file per channel."""
    rng = np.random.default_rng(2)
    files = []
    for i in range(count):
        image = photo(rng, NAIVE_SOURCE, channels)
        planes = [image] if channels == 3 else [image[..., c] for c in range(channels)]
        files.append([str(directory / f"{i}_{c}.jpg") for c in range(len(planes))])
        for path, plane in zip(files[-1], planes):
            cv2.imwrite(path, plane, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return files


def measure_naive(
    cfg: train.TrainConfig,
    size: tuple[int, int],
    channels: int,
    classes: int,
    device: torch.device,
    steps: int,
    warmup: int,
    workdir: Path,
) -> dict:
    """Images/s of the public code's training: full-resolution decode per sample, fp32, NCHW, eager."""
    files = write_jpegs(workdir, 8, channels)
    transform = A.Compose(
        [A.Resize(*size), augment.create(cfg.augment), A.Normalize([0.5] * channels, [0.25] * channels), ToTensorV2()]
    )
    steps, warmup = whole_bursts(steps, warmup, cfg.num_workers)  # the loader must not run ahead of the timer
    targets = one_hot(np.random.default_rng(3), (warmup + steps) * cfg.batch_size, classes)
    loader = DataLoader(
        FullResolutionImages(files, targets, transform),
        batch_size=cfg.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=cfg.num_workers,
    )
    model = models.create(cfg.model, classes, channels, None, cfg.drop_rate, cfg.global_pool, cfg.head).to(device)
    optimizer_spec = dict(cfg.optimizer)
    optimizer = create_optimizer_v2(model, opt=optimizer_spec.pop("name", "adam"), **optimizer_spec)
    criterion = losses.create(cfg.loss, cfg.focal_gamma)
    batches = iter(loader)

    def step():
        x, y = next(batches)
        loss = criterion(model(x.to(device)), y.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    result = {}
    with peak_memory(device, result):
        model.train()
        result["train_images_per_s"] = rate(step, steps, warmup, cfg.batch_size, device)
    return result


def ratio(numerator: dict, denominator: dict) -> float | None:
    if "train_images_per_s" in numerator and "train_images_per_s" in denominator:
        return numerator["train_images_per_s"] / denominator["train_images_per_s"]
    return None


def main(argv=None) -> dict:
    args = parse_args(argv)
    config = configs.load(ROOT / "config" / "config.yaml", *args.configfile)
    cfg = train_config(config, args)
    dataset = config.get("dataset") or {}
    size = tuple(args.size or config["cache"]["size"])
    channels = args.channels or channel_count(dataset)
    # without a dataset, the task the configured loss trains (HPA's focal+lovasz: multi-label)
    first_loss = cfg.loss.split("+")[0].split("*")[0]
    classes, task = dataset.get("num_classes") or 4, dataset.get("task") or losses.TASKS.get(first_loss, "multiclass")
    cfg = dataclasses.replace(cfg, loss=losses.for_task(cfg.loss, task))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(config["train"]["threads"])  # as rule train_fold sets them
    cfg = dataclasses.replace(cfg, num_workers=train.resolve_workers(cfg.num_workers, device))
    rng = np.random.default_rng(0)
    # the model's input size: the cached size after the configured augmentation (HPA crops 512 of 768)
    train_size = augment.create(cfg.augment, seed=0)(image=photo(rng, size, channels))["image"].shape[:2]
    _, dtype = predict.precision_context(device, cfg.precision)
    log.info(
        "%s on %s: %d-channel %dx%d images (model input %dx%d), batch %d, %d workers, compile %s",
        cfg.model,
        device,
        channels,
        *size,
        *train_size,
        cfg.batch_size,
        cfg.num_workers,
        cfg.compile,
    )

    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({os.cpu_count()} cores)",
        "torch": torch.__version__,
        "timm": timm.__version__,
        "albumentations": A.__version__,
        "settings": {
            "configfiles": args.configfile,
            "model": cfg.model,
            "size": list(size),
            "train_size": list(train_size),
            "channels": channels,
            "classes": classes,
            "batch_size": cfg.batch_size,
            "workers": cfg.num_workers,
            "threads": torch.get_num_threads(),
            "compile": cfg.compile,
            "precision": str(dtype).removeprefix("torch."),
            "channels_last": cfg.channels_last,
            "steps": args.steps,
            "warmup": args.warmup,
            "images": args.images,
            "augment": [entry["name"] for entry in cfg.augment],
        },
    }
    with tempfile.TemporaryDirectory(prefix="train_throughput.") as tmp:
        workdir = Path(tmp)
        cache_path = workdir / "images.npy"
        synthetic = np.lib.format.open_memmap(
            cache_path, mode="w+", dtype=np.uint8, shape=(args.images, *size, channels)
        )
        for i in range(args.images):
            synthetic[i] = photo(rng, size, channels)
        synthetic.flush()
        images = cache.load(cache_path)
        measured = {
            "ceiling": lambda: measure_ceiling(cfg, channels, train_size, classes, device, args.steps, args.warmup),
            "ours": lambda: measure_ours(cfg, images, classes, task, device, args.steps, workdir),
            "data_path": lambda: measure_data_path(cfg, images, device, args.steps, args.warmup),
            "naive": lambda: measure_naive(cfg, size, channels, classes, device, args.steps, args.warmup, workdir),
        }
        for phase in args.phases:
            started = time.perf_counter()
            result[phase] = measured[phase]()
            torch.compiler.reset()  # compiled code holds its model: free it before the next phase's peak
            log.info("%s: %s (%.0f s)", phase, result[phase], time.perf_counter() - started)
    result["ratios"] = {
        "ours_over_ceiling": ratio(result.get("ours", {}), result.get("ceiling", {})),
        "ours_over_naive": ratio(result.get("ours", {}), result.get("naive", {})),
    }
    return result


if __name__ == "__main__":
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S"
    )
    print(json.dumps(main(), indent=2))
