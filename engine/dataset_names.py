"""The datasets :func:`engine.data.load` knows by name, with one line each, importable without
torch (the app's dataset chooser is filled before torch has been imported)."""
from __future__ import annotations

BUILTIN = {
    "digits": "8×8 handwritten digits (UCI, 1,797 images, bundled)",
    "shapes": "procedural circles, squares, triangles and crosses (any size and channels)",
    "signal": "procedural noisy 1-D sequences with a pattern hidden anywhere",
    "volumes": "procedural 3-D volumes 1×16×16×16 of a sphere, a cube or a rod (for Conv3d)",
    "mnist": "MNIST handwritten digits 28×28 (downloaded once)",
    "fashion-mnist": "Fashion-MNIST clothing 28×28 (downloaded once)",
    "cifar10": "CIFAR-10 colour photos 32×32 (downloaded once)",
}
DOWNLOADS = ("mnist", "fashion-mnist", "cifar10")  # need the network the first time


def names() -> list[str]:
    return list(BUILTIN)


def offline() -> list[str]:
    """The names that load without a network."""
    return [n for n in BUILTIN if n not in DOWNLOADS]


def short_name(name: str) -> str:
    """A built-in's name, or a folder's or file's own name without its path (for a status line)."""
    if name in BUILTIN:
        return name
    return str(name).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or str(name)


def describe(name: str) -> str:
    return BUILTIN.get(name, "a folder of images or a CSV file")


__all__ = ["BUILTIN", "DOWNLOADS", "names", "offline", "short_name", "describe"]
