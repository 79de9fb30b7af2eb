"""A safetensors header checked completely before anything else reads the file (no torch here).

A safetensors file is an 8-byte little-endian header length, that many bytes of UTF-8 JSON, then
the tensor data. :func:`check_safetensors_file` verifies every field of the header against the
rules the safetensors library itself applies (and the few PyTorch adds when the tensors are
built), so a damaged or hand-made file is refused with a one-line reason instead of a
traceback from deep inside a loader:

- the header length fits in the file and is at most 100,000,000 bytes (safetensors' own limit);
- the header is UTF-8 JSON, nested at most :data:`MAX_DEPTH` levels (checked on the bytes before
  parsing), an object without repeated keys, with no ``NaN``/``Infinity``;
- ``__metadata__``, if present, is an object of string → string;
- every other entry is ``{"dtype": D, "shape": [...], "data_offsets": [begin, end]}`` and
  nothing else, with a dtype safetensors knows and PyTorch can hold, a shape of at most
  :data:`MAX_DIMS` whole numbers ≥ 0, ``0 ≤ begin ≤ end``, and ``end - begin`` equal to the
  number of elements × the dtype's size;
- the tensors' byte ranges, sorted by offset, cover the data area exactly: no overlap, no gap,
  nothing cut off and nothing left over (safetensors refuses a file otherwise).

Every failure raises :class:`SafetensorsHeaderError` whose message names the file and, where
it applies, the tensor. Callers turn it into their own error type.
"""
from __future__ import annotations

import json
import math
import os
import re
import struct
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .errors import EngineError

MAX_HEADER_BYTES = 100_000_000  # safetensors refuses a longer header (MAX_HEADER_SIZE)
MAX_DEPTH = 64  # a valid header nests 3 levels: {name: {"shape": [...]}}
MAX_DIMS = 64
MAX_NAME_CHARS = 1024
_MAX_ELEMENTS = 2**63 - 1  # PyTorch sizes and strides are int64

# dtype → (bits per element, name of the torch dtype or None when PyTorch has none); the
# dtypes of safetensors 0.4 … 0.8 (F4 packs two elements per byte: torch.float4_e2m1fn_x2).
DTYPES: dict[str, tuple[int, str | None]] = {
    "BOOL": (8, "bool"), "U8": (8, "uint8"), "I8": (8, "int8"),
    "I16": (16, "int16"), "U16": (16, "uint16"), "F16": (16, "float16"), "BF16": (16, "bfloat16"),
    "I32": (32, "int32"), "U32": (32, "uint32"), "F32": (32, "float32"),
    "I64": (64, "int64"), "U64": (64, "uint64"), "F64": (64, "float64"), "C64": (64, "complex64"),
    "F8_E4M3": (8, "float8_e4m3fn"), "F8_E5M2": (8, "float8_e5m2"), "F8_E8M0": (8, "float8_e8m0fnu"),
    "F8_E4M3FNUZ": (8, "float8_e4m3fnuz"), "F8_E5M2FNUZ": (8, "float8_e5m2fnuz"),
    "F4": (4, "float4_e2m1fn_x2"), "F6_E2M3": (6, None), "F6_E3M2": (6, None),
}
_DAMAGED = "the file is damaged or was not written by safetensors; export or copy it again"
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class SafetensorsHeaderError(EngineError, ValueError):
    """A safetensors file whose header cannot be trusted; the message is one line."""


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class SafetensorsHeader:
    header_bytes: int
    data_bytes: int
    tensors: tuple[TensorEntry, ...]
    metadata: dict[str, str] = field(default_factory=dict)


@cache
def torch_dtypes() -> frozenset[str]:
    """The safetensors dtypes the installed PyTorch can hold (all of them if torch is absent)."""
    try:
        import torch
    except ImportError:
        return frozenset(k for k, (_, attr) in DTYPES.items() if attr)
    return frozenset(k for k, (_, attr) in DTYPES.items() if attr and isinstance(getattr(torch, attr, None),
                                                                                   torch.dtype))


def _show(value, limit: int = 60) -> str:
    """A value as short one-line JSON-like text for a message."""
    try:
        text = json.dumps(value, ensure_ascii=True, allow_nan=True)
    except (TypeError, ValueError):
        text = ascii(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _tensor_label(name: str) -> str:
    text = ascii(name)  # quoted, escapes newlines and anything unprintable
    return text if len(text) <= 80 else text[:79] + "…'"


def _nests_deeper_than(header: bytes, limit: int) -> bool:
    """Whether brackets outside JSON strings nest deeper than ``limit``, found without parsing (at
    C speed, no recursion). Brackets count type-blind (``[}`` is a pair): for valid JSON the answer
    is exact, for anything else it errs on the deep side, so it bounds what a JSON parser would
    reach before it stops at the first mismatch."""
    brackets = _STRING.sub(b'""', header).translate(_BRACKETS, _NOT_BRACKETS)
    passes = 0  # each pass removes every innermost pair: one level of nesting
    while brackets:
        shorter = brackets.replace(b"()", b"")
        if len(shorter) == len(brackets):
            break
        brackets, passes = shorter, passes + 1
        if passes > limit:
            return True
    # What is left is ")))(((": unmatched brackets, the opening ones nest to the end.
    return passes + brackets.count(b"(") > limit


class _DuplicateKey(Exception):
    pass


def _object(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _parse_int(text: str):
    value = int(text)
    return -0.0 if value == 0 and text.startswith("-") else value  # safetensors reads -0 as a float


def _refuse_constant(text: str):
    raise ValueError(f"{text} is not JSON")


def _is_text(value) -> bool:
    """A str that is valid Unicode (JSON escapes can produce lone surrogates, which safetensors refuses)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_count(value) -> bool:
    return type(value) is int and value >= 0


def check_safetensors_file(path) -> SafetensorsHeader:
    """Check the whole header of the safetensors file at ``path``; raise SafetensorsHeaderError."""
    path = Path(path)
    label = path.name or str(path)

    def fail(reason: str, tensor: str | None = None, hint: str | None = _DAMAGED):
        where = f"{label}: tensor {_tensor_label(tensor)}: " if tensor is not None else f"{label}: "
        raise SafetensorsHeaderError(where + reason + (f" ({hint})" if hint else ""))

    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) < 8:
                raise SafetensorsHeaderError(f"{label} is {size} bytes: too short to be a safetensors file "
                                             "(it is empty or was cut off while copying)")
            (header_len,) = struct.unpack("<Q", head)
            if header_len > MAX_HEADER_BYTES:
                raise SafetensorsHeaderError(
                    f"{label} is not a safetensors file: its header claims {header_len:,} bytes, more than "
                    f"the {MAX_HEADER_BYTES:,} safetensors allows")
            if header_len > size - 8:
                raise SafetensorsHeaderError(
                    f"{label} is truncated or not a safetensors file: its header claims {header_len:,} bytes "
                    f"but the file has {size - 8:,} after the length field")
            raw = f.read(header_len)
    except OSError as e:
        raise SafetensorsHeaderError(f"{label} cannot be read: {e.strerror or e}") from None
    if len(raw) != header_len:
        raise SafetensorsHeaderError(f"{label} changed while it was read; try again")
    data_bytes = size - 8 - header_len

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SafetensorsHeaderError(f"{label} is not a safetensors file (its header is not UTF-8 text)") from None
    if _nests_deeper_than(raw, MAX_DEPTH):
        raise SafetensorsHeaderError(f"{label} is not a safetensors file (its header nests brackets "
                                     f"deeper than {MAX_DEPTH} levels)")
    try:
        header = json.loads(text, object_pairs_hook=_object, parse_int=_parse_int, parse_constant=_refuse_constant)
    except _DuplicateKey as e:
        raise SafetensorsHeaderError(f"{label} is not a safetensors file (its header has the key "
                                     f"{_tensor_label(e.args[0])} twice)") from None
    except json.JSONDecodeError as e:
        raise SafetensorsHeaderError(f"{label} is not a safetensors file (its header is not JSON: {e.msg} "
                                     f"at byte {e.pos})") from None
    except (ValueError, RecursionError):
        raise SafetensorsHeaderError(f"{label} is not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise SafetensorsHeaderError(f"{label} is not a safetensors file (its header is a JSON "
                                     f"{type(header).__name__}, not an object)")

    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict):
        fail(f"__metadata__ must be an object of text values, found {_show(metadata)}")
    for key, value in metadata.items():
        if not _is_text(key) or not _is_text(value):
            fail(f"__metadata__ must map text to text, found {_tensor_label(key)}: {_show(value)}")

    loadable = torch_dtypes()
    tensors = []
    for name, entry in header.items():
        if not _is_text(name):
            fail(f"the tensor name {_tensor_label(name)} is not valid Unicode text")
        if len(name) > MAX_NAME_CHARS:
            fail(f"a tensor name may have at most {MAX_NAME_CHARS:,} characters, found one of {len(name):,}: "
                 f"{_tensor_label(name)}")
        if not isinstance(entry, dict):
            fail(f"must be an object with dtype, shape and data_offsets, found {_show(entry)}", name)
        missing = [k for k in ("dtype", "shape", "data_offsets") if k not in entry]
        if missing:
            fail(f"has no {', '.join(missing)}", name)
        extra = sorted(set(entry) - {"dtype", "shape", "data_offsets"})
        if extra:
            fail(f"has unexpected keys {_show(extra)} (only dtype, shape and data_offsets belong there)", name)
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]

        if not isinstance(dtype, str) or dtype not in DTYPES:
            fail(f"unknown dtype {_show(dtype)} (safetensors knows {', '.join(DTYPES)})", name)
        if dtype not in loadable:
            fail(f"PyTorch cannot hold dtype {dtype}", name, "convert the weights to another dtype")
        if (not isinstance(shape, list) or len(shape) > MAX_DIMS
                or not all(_is_count(d) for d in shape)):
            fail(f"shape must be a list of at most {MAX_DIMS} whole numbers ≥ 0, found {_show(shape)}", name)
        if math.prod(max(d, 1) for d in shape) > _MAX_ELEMENTS:
            fail(f"shape {_show(shape)} is too large for PyTorch", name)
        if dtype == "F4" and (not shape or shape[-1] % 2):
            fail(f"an F4 tensor needs a last dimension divisible by 2 (PyTorch packs two values per byte), "
                 f"found shape {_show(shape)}", name)
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)):
            fail(f"data_offsets must be two whole numbers [begin, end], found {_show(offsets)}", name)
        begin, end = offsets
        if begin > end:
            fail(f"data_offsets [{begin}, {end}] end before they begin", name)
        bits = math.prod(shape) * DTYPES[dtype][0]
        if bits % 8:
            fail(f"{_show(shape)} {dtype} values do not fill whole bytes", name)
        if end - begin != bits // 8:
            fail(f"data_offsets [{begin}, {end}] hold {end - begin:,} bytes but shape {_show(shape)} of "
                 f"{dtype} needs {bits // 8:,}", name)
        if end > data_bytes:
            raise SafetensorsHeaderError(
                f"{label} is truncated: tensor {_tensor_label(name)} ends at byte {end:,} of the tensor data "
                f"but only {data_bytes:,} are present; copy or export the file again")
        tensors.append(TensorEntry(name, dtype, tuple(shape), begin, end))

    # safetensors reads the ranges in offset order and needs each to start where the last ended.
    position, previous = 0, ""  # the tensor whose bytes end at ``position``
    for t in sorted(tensors, key=lambda t: (t.begin, t.end)):
        if t.begin < position:
            fail(f"bytes {t.begin:,}–{t.end:,} overlap those of tensor {_tensor_label(previous)} "
                 f"(which end at {position:,})", t.name)
        if t.begin > position:
            fail(f"bytes {position:,}–{t.begin:,} of the tensor data belong to no tensor (safetensors "
                 "stores tensors back to back)", t.name)
        position, previous = t.end, t.name
    if position != data_bytes:
        fail(f"{data_bytes - position:,} bytes follow the last tensor's data (the header describes "
             f"{position:,} of the {data_bytes:,})")
    return SafetensorsHeader(header_len, data_bytes, tuple(tensors), metadata)


__all__ = ["SafetensorsHeaderError", "SafetensorsHeader", "TensorEntry", "check_safetensors_file", "DTYPES",
           "MAX_DEPTH", "MAX_DIMS", "MAX_HEADER_BYTES", "MAX_NAME_CHARS", "torch_dtypes"]
