"""The random generators a checkpoint saves and a resume restores: the CPU generator and the
generator of the one device the run trains on, nothing else.

A checkpoint once held ``torch.cuda.get_rng_state_all()`` (one state per visible GPU); resuming
it where fewer GPUs are visible crashed with an IndexError in ``set_rng_state_all``. Now it holds
``{"torch": cpu_state, "cuda": state}`` (one tensor, the training GPU's) or
``{"torch": cpu_state, "mps": state}``. Old checkpoints whose ``"cuda"`` is a list still load: the
entry of the device being resumed on is used if there is one, else the GPU generator keeps its
seed (a resumed run then differs from an uninterrupted one in its GPU randomness only, as it did
before when the device changed).
"""
from __future__ import annotations

import torch


def _cuda_index(device: torch.device) -> int:
    return device.index if device.index is not None else torch.cuda.current_device()


def capture(device) -> dict:
    """The CPU generator's state and the training device's (CUDA or MPS) as a plain dict of tensors."""
    device = torch.device(device)
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(_cuda_index(device))
    elif device.type == "mps":
        state["mps"] = torch.mps.get_rng_state()
    return state


def restore(state: dict, device) -> list[str]:
    """Put the generators saved by :func:`capture` (or by an older checkpoint) back for a run on
    ``device``; returns notes on what could not be restored (never raises for a device mismatch)."""
    device = torch.device(device)
    notes = []
    if state.get("torch") is not None:
        torch.set_rng_state(state["torch"])
    if device.type == "cuda":
        saved, index = state.get("cuda"), _cuda_index(device)
        if isinstance(saved, (list, tuple)):  # an older checkpoint: one state per GPU visible when it was saved
            saved = saved[index] if index < len(saved) else None
            if saved is None:
                notes.append(f"the checkpoint holds no random state for cuda:{index}; its generator keeps the seed")
        if saved is not None:
            torch.cuda.set_rng_state(saved, index)
    elif device.type == "mps" and state.get("mps") is not None:
        torch.mps.set_rng_state(state["mps"])
    return notes
