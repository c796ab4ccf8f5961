"""Pretrained weights as a cached artifact: fetched once through timm's hub, then read from a file.

``train.pretrained: true`` means the model's default pretrained weights, wherever timm's
``pretrained_cfg`` finds them (a Hugging Face hub id, else a URL; cached under HF_HUB_CACHE
or TORCH_HOME). The local rule ``fetch_weights`` stores them once as a file on the
submitting host, and training reads that file through ``models.create``, so cluster nodes
without internet never download. Offline with no stored file is one error line saying which
file to place where, after a bounded wait, never a hang.
"""

from __future__ import annotations

import contextlib
import os
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import safetensors.torch
import timm
from huggingface_hub import constants as hub_constants

from foldwise import FoldwiseError, artifacts, models


def reachable(url: str, timeout: float) -> bool:
    """Whether a TCP connection to ``url``'s host (or to the proxy for its scheme) opens within ``timeout``."""
    target = urlparse(urllib.request.getproxies().get(urlparse(url).scheme) or url)
    try:
        socket.create_connection(
            (target.hostname, target.port or (443 if target.scheme == "https" else 80)), timeout
        ).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def bounded_network(timeout: float) -> Iterator[bool]:
    """Every blocking socket call bounded by ``timeout`` (torch.hub's URL downloads have no timeout
    of their own), and huggingface_hub's offline mode when HF_HUB_OFFLINE is set or the hub does
    not answer: its local cache then answers at once, instead of after a minute of retries.
    Yields whether offline."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"} or not reachable(
        hub_constants.ENDPOINT, timeout
    )
    previous = socket.getdefaulttimeout(), hub_constants.HF_HUB_OFFLINE
    socket.setdefaulttimeout(timeout)
    hub_constants.HF_HUB_OFFLINE = offline
    try:
        yield offline
    finally:
        socket.setdefaulttimeout(previous[0])
        hub_constants.HF_HUB_OFFLINE = previous[1]


def fetch(model: str, path: str | Path, cache_dir: str | Path | None = None, timeout: float = 10.0) -> None:
    """Store the default pretrained weights of timm ``model`` at ``path`` as a safetensors state dict.

    The weights are those ``timm.create_model(model, pretrained=True)`` loads, through timm's own
    resolution and caches (HF_HUB_OFFLINE honoured); a 1000-class head and 3-channel stem stay
    as published: ``models.create`` adapts them to the dataset when it loads the file.

    Args:
        model: a timm model name, optionally with a tag ("seresnext50_32x4d.racm_in1k").
        path: where to store them (written atomically).
        cache_dir: timm's download cache instead of HF_HUB_CACHE / TORCH_HOME.
        timeout: seconds any one network call may block.
    """
    models.check_name(model)
    try:
        with bounded_network(timeout) as offline:
            network = timm.create_model(model, pretrained=True, cache_dir=cache_dir)
    except Exception as error:  # offline, no hub, no such weights: every cause has the same remedy
        reason = (
            "offline, and not in the download cache"
            if offline
            else (str(error).strip().splitlines() or [type(error).__name__])[0]
        )
        raise FoldwiseError(
            f"cannot fetch the pretrained weights of {model} ({reason}); place them at {path} "
            "(a timm state dict, e.g. fetched on a host with internet) or set train.pretrained "
            "to a local weights file"
        ) from None
    with artifacts.atomic_path(path) as tmp:
        safetensors.torch.save_file({k: v.contiguous() for k, v in network.state_dict().items()}, tmp)
