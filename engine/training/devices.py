"""What differs between the CPU, CUDA and Apple's MPS, in one place: device names, moving a
batch there, mixed precision, out-of-memory errors and the global determinism flags.

    device = parse_device("cuda:1")           # ConfigError for "cudaX", "gpu", "mps:1"
    x = to_device(x, device)                  # pinned + non_blocking on CUDA only
    autocast_dtype(device)                    # bf16 where supported, else fp16 (+ GradScaler)
    if out_of_memory(e): ...                  # torch.OutOfMemoryError or MPS's RuntimeError
    with global_flags(): configure_determinism(True, device); ...   # flags restored afterwards

Why ``non_blocking`` only for pinned memory on CUDA: a non-blocking copy from ordinary
(pageable) memory returns before the copy is done; if the source is freed — the batch is
replaced by the next one — before the device has read it, the batch on the device is
corrupted, which PyTorch reports happening on MPS. CUDA's pinned-memory allocator keeps a
pinned block until the copy that reads it has finished, so pinned + non_blocking is safe there.
"""
from __future__ import annotations

import contextlib
import os

import torch

from .config import ConfigError, check_device_name

CUBLAS_WORKSPACE = ":4096:8"  # what cuBLAS needs for reproducible results (CUDA docs, "Results reproducibility")


def parse_device(device) -> torch.device:
    """A ``torch.device`` from a name checked by :func:`check_device_name` (``auto`` is not a
    device: see :func:`engine.training.optim.resolve_device`) or a ``torch.device``."""
    if isinstance(device, torch.device):
        return device
    if check_device_name(device) == "auto":
        raise ConfigError("device 'auto' must be resolved first (engine.training.resolve_device)")
    return torch.device(device)


def device_words(device: torch.device) -> str:
    """The device as a user calls it: "the GPU", "the Apple GPU (MPS)", "the CPU"."""
    return {"cuda": "the GPU", "mps": "the Apple GPU (MPS)", "cpu": "the CPU"}.get(device.type, str(device))


def mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


# -- moving batches ------------------------------------------------------------------------
def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``. On CUDA through pinned memory with ``non_blocking=True`` (the copy
    overlaps the computation); everywhere else a plain, synchronous copy (see the module notes)."""
    if device.type == "cuda":
        if not tensor.is_pinned():
            tensor = tensor.pin_memory()
        return tensor.to(device, non_blocking=True)
    return tensor.to(device)


def pin_memory_for(device: torch.device) -> bool:
    """Whether a DataLoader feeding ``device`` should pin its batches."""
    return device.type == "cuda"


def as_float(x: torch.Tensor) -> torch.Tensor:
    """Samples as float32, uint8 images scaled to [0, 1]; done on the device after the transfer,
    so a uint8 batch crosses the bus at a quarter of the float size."""
    if x.dtype == torch.uint8:
        return x.float().div_(255)
    return x if x.dtype == torch.float32 else x.float()


# -- mixed precision -----------------------------------------------------------------------
def autocast_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 where the device runs it (CUDA from Ampere on, the CPU), else float16. bfloat16
    has float32's range, so it needs no loss scaling; float16 does (:func:`needs_grad_scaler`)."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        return torch.bfloat16  # the only dtype CPU autocast supports well
    return torch.float16  # MPS: bf16 autocast only on recent macOS; fp16 everywhere


def needs_grad_scaler(device: torch.device, dtype: torch.dtype | None) -> bool:
    return device.type == "cuda" and dtype == torch.float16


# -- out of memory -------------------------------------------------------------------------
_OOM_TYPES = tuple({getattr(torch, "OutOfMemoryError", RuntimeError), torch.cuda.OutOfMemoryError} - {RuntimeError})
_OOM_MESSAGES = ("out of memory",  # "CUDA out of memory", "MPS backend out of memory", "HIP out of memory"
                 "can't allocate memory",  # the CPU allocator: "DefaultCPUAllocator: can't allocate memory"
                 "cublas_status_alloc_failed", "cudnn_status_alloc_failed")


def out_of_memory(error: BaseException) -> bool:
    """Is ``error`` the device (or the CPU) running out of memory? CUDA raises
    ``torch.OutOfMemoryError``; MPS and the CPU raise a plain RuntimeError whose message says so."""
    if isinstance(error, _OOM_TYPES):
        return True
    return isinstance(error, RuntimeError) and any(m in str(error).lower() for m in _OOM_MESSAGES)


def free_cached_memory(device: torch.device) -> None:
    """Give the allocator's cached blocks back. Call it after leaving the ``except`` block of an
    out-of-memory error: inside it the traceback still holds the failed batch's activations."""
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device.type == "mps" and mps_available():
        torch.mps.empty_cache()


# -- determinism and other global flags ----------------------------------------------------
NO_DETERMINISTIC_OP = "does not have a deterministic implementation"


def configure_determinism(deterministic: bool, device: torch.device) -> None:
    """Deterministic: cuBLAS's fixed workspace (CUDA), cuDNN's deterministic algorithms without
    autotuning, and ``use_deterministic_algorithms(True)`` — an operation without a deterministic
    version then raises (:func:`no_deterministic_version`) instead of silently differing. Not
    deterministic, on CUDA: cuDNN autotuning (``benchmark``), the fastest convolution per shape.
    The flags are global: run inside :func:`global_flags` to restore them."""
    if deterministic:
        if device.type == "cuda":
            # read when cuBLAS first creates its workspace: set before the first matrix product
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def no_deterministic_version(error: BaseException) -> bool:
    return isinstance(error, RuntimeError) and NO_DETERMINISTIC_OP in str(error)


def not_deterministic_message(error: BaseException, device) -> str:
    """What to do when ``use_deterministic_algorithms(True)`` refused an operation."""
    first = str(error).split(". ")[0].strip()
    return (f"deterministic training is on, but an operation of this design has no deterministic version on "
            f"{device or 'this device'} ({first}); turn deterministic off for this run, or replace the block "
            "that uses it (e.g. another pooling or upsampling mode)")


@contextlib.contextmanager
def global_flags():
    """Restores torch's global determinism and cuDNN flags (and ``CUBLAS_WORKSPACE_CONFIG``) on
    exit, so one run's settings do not leak into the next run in the same process (the app)."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
             os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    try:
        yield
    finally:
        algorithms, warn_only, cudnn_deterministic, benchmark, workspace = saved
        torch.use_deterministic_algorithms(algorithms, warn_only=warn_only)
        torch.backends.cudnn.deterministic = cudnn_deterministic
        torch.backends.cudnn.benchmark = benchmark
        if workspace is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = workspace
