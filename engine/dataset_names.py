"""The datasets :func:`engine.data.load` knows by name, with one line each, importable without
torch (the app's dataset chooser is filled before torch has been imported)."""
from __future__ import annotations

BUILTIN = {
    "digits": "8×8 handwritten digits (UCI, 1,797 images, bundled)",
    "shapes": "procedural circles, squares, triangles and crosses (any size and channels)",
    "signal": "procedural noisy 1-D sequences with a pattern hidden anywhere",
    "mnist": "MNIST handwritten digits 28×28 (downloaded once)",
    "fashion-mnist": "Fashion-MNIST clothing 28×28 (downloaded once)",
    "cifar10": "CIFAR-10 colour photos 32×32 (downloaded once)",
}


def names() -> list[str]:
    return list(BUILTIN)


def describe(name: str) -> str:
    return BUILTIN.get(name, "a folder of images or a CSV file")


__all__ = ["BUILTIN", "names", "describe"]
