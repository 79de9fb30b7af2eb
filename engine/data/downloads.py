"""torchvision's MNIST, Fashion-MNIST and CIFAR-10, downloaded once into the user's cache.

Downloads show torchvision's progress bar on stderr, or report to a ``progress(fraction,
message)`` callback when one is given (the app's progress bar). Before downloading, a short
connection test turns "no network" into one clear message (instead of a minute of retries and a
traceback).
"""
from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch

from ..dataset_names import offline
from .base import DatasetError, TensorSet

SETS = {
    "mnist": ("MNIST", [str(i) for i in range(10)]),
    "fashion-mnist": ("FashionMNIST", ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                       "Sneaker", "Bag", "Ankle boot"]),
    "cifar10": ("CIFAR10", ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                            "truck"]),
}


def cache_dir() -> Path:
    """Where downloaded datasets live: $NETWORK_DESIGNER_DATA, else the user's cache folder."""
    if os.environ.get("NETWORK_DESIGNER_DATA"):
        return Path(os.environ["NETWORK_DESIGNER_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "network-designer" / "datasets"


def _urls(cls) -> list[str]:
    if hasattr(cls, "mirrors"):
        return [m for m in cls.mirrors]
    return [getattr(cls, "url", "")]


def online(urls: list[str], timeout: float = 3.0) -> bool:
    for url in urls:
        parsed = urlparse(url)
        if not parsed.hostname:
            continue
        try:
            with socket.create_connection((parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)),
                                          timeout=timeout):
                return True
        except OSError:
            continue
    return False


_REPORTING = threading.Lock()  # one download at a time reports through torchvision's progress bar


class _ProgressBar:
    """Stands in for torchvision's tqdm bar of one file: hands the bytes received to ``report``."""

    def __init__(self, report, name: str, total=None, **_ignored):
        self.report, self.name, self.total, self.done = report, name, total or 0, 0
        self._last = -1.0

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        return False

    def update(self, count: int) -> None:
        self.done += count
        fraction = self.done / self.total if self.total else 0.0
        if fraction - self._last >= 0.01 or fraction >= 1:  # ~100 reports a file, not one a chunk
            self._last = fraction
            megabytes = f"{self.done / 1e6:.1f} of {self.total / 1e6:.1f} MB" if self.total else \
                f"{self.done / 1e6:.1f} MB"
            self.report(min(fraction, 1.0), f"downloading {self.name}: {megabytes}")


@contextlib.contextmanager
def _reporting(progress, name: str):
    """torchvision's download progress goes to ``progress`` instead of stderr while this lasts."""
    if progress is None:
        yield
        return
    import torchvision.datasets.utils as tv_utils
    with _REPORTING:
        original = tv_utils.tqdm
        tv_utils.tqdm = lambda *args, **kwargs: _ProgressBar(progress, name, **kwargs)
        try:
            yield
        finally:
            tv_utils.tqdm = original


def load_torchvision(name: str, root: Path | None = None, progress=None) -> tuple[TensorSet, list[str]]:
    """The training split of a torchvision dataset as uint8 [N, C, H, W] in memory.
    ``progress(fraction, message)`` hears how the download goes, per file."""
    import torchvision.datasets as tvd
    class_name, classes = SETS[name]
    cls = getattr(tvd, class_name)
    root = Path(root) if root else cache_dir()
    try:
        ds = cls(str(root), train=True, download=False)
    except RuntimeError:  # not downloaded yet (or damaged): fetch it
        if progress is not None:
            progress(0.0, f"checking the network to download {name}…")
        if not online(_urls(cls)):
            raise DatasetError(
                f"{name} is not in the cache ({root}) and there is no network connection to download it. "
                f"Connect to the internet and try again, copy an existing torchvision '{class_name}' folder "
                f"into {root}, or use a built-in dataset that works offline ({', '.join(offline())}).") from None
        try:
            root.mkdir(parents=True, exist_ok=True)
            with _reporting(progress, name):
                ds = cls(str(root), train=True, download=True)
        except Exception as e:  # network and archive errors of all kinds
            raise DatasetError(f"downloading {name} into {root} failed: {e}. Check the connection and try "
                               "again; a partial download is resumed or replaced.") from None
    data = ds.data
    x = torch.as_tensor(np.asarray(data)) if not isinstance(data, torch.Tensor) else data
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)  # CIFAR is stored NHWC
    y = torch.as_tensor(np.asarray(ds.targets), dtype=torch.long)
    return TensorSet(x.to(torch.uint8).contiguous(), y), classes
