"""The devices this machine really has, for the device selector: the CPU (with the thread count
training will use), every CUDA device with its name and memory, and Apple's MPS.

:func:`available_devices` asks torch, so it runs in the background import
(:mod:`designer.training.torch_runtime`), never on the UI thread."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceChoice:
    key: str  # what the trainer config takes: "cpu", "cuda:0", "mps"
    label: str  # what the user reads


def training_threads() -> int:
    """One core fewer than the machine has, so the UI thread keeps a core and stays smooth."""
    return max(1, (os.cpu_count() or 1) - 1)


def available_devices() -> list[DeviceChoice]:
    import torch

    choices = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            choices.append(DeviceChoice(f"cuda:{i}", f"GPU {i}: {props.name} ({props.total_memory / 2 ** 30:.1f} GiB)"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        choices.append(DeviceChoice("mps", "Apple GPU (MPS)"))
    cores = os.cpu_count() or 1
    choices.append(DeviceChoice("cpu", f"CPU ({training_threads()} of {cores} threads for training)"))
    return choices
