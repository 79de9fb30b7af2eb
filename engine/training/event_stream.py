"""Training events as JSON lines: how a distributed run's rank 0 tells the app (or the terminal)
what a local trainer would tell it through ``on_event``.

The writer appends one line per event to ``RUN_DIR/events.jsonl`` and flushes it; the reader
tails the file and rebuilds the same frozen dataclasses, so the app's curves, run table and
checkpoint views cannot tell a distributed run from a local one. Numpy arrays (confusion
matrices, feature maps) travel as base64 of their bytes with dtype and shape. Reading executes
nothing: only the event classes named in :data:`EVENT_TYPES` are built, from their own fields,
and only plain numeric dtypes are accepted for arrays.
"""
from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import events

EVENTS_FILE = "events.jsonl"
EVENT_TYPES = {cls.__name__: cls for cls in (
    events.RunStarted, events.BatchProgress, events.EpochEnd, events.FeatureMaps, events.Health,
    events.HealthDiagnostic, events.Warning, events.Error, events.Paused, events.Resumed, events.Finished)}
ARRAY_DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"}


def encode(event) -> str:
    """One JSON line for ``event`` (an instance of a class in EVENT_TYPES)."""
    fields = {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}
    return json.dumps({"type": type(event).__name__, "fields": fields}, allow_nan=True) + "\n"


def decode(line: str):
    """The event a line of :func:`encode` describes; ValueError for anything else."""
    record = json.loads(line)
    if not isinstance(record, dict) or record.get("type") not in EVENT_TYPES or not isinstance(record.get("fields"), dict):
        raise ValueError("not a training event")
    cls = EVENT_TYPES[record["type"]]
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: _restore(v) for k, v in record["fields"].items() if k in names}
    return cls(**values)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.name not in ARRAY_DTYPES:
            value = value.astype(np.float32)
        data = np.ascontiguousarray(value)
        return {"__ndarray__": base64.b64encode(data.tobytes()).decode("ascii"), "dtype": data.dtype.name,
                "shape": list(data.shape)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _restore(value: Any) -> Any:
    if isinstance(value, dict):
        if "__ndarray__" in value:
            dtype = value.get("dtype")
            if dtype not in ARRAY_DTYPES:
                raise ValueError(f"array of an unexpected type {dtype!r}")
            shape = tuple(int(n) for n in value["shape"])
            array = np.frombuffer(base64.b64decode(value["__ndarray__"]), dtype=np.dtype(dtype))
            return array.reshape(shape).copy()
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    return value


class EventWriter:
    """``on_event`` for rank 0 of a distributed run: every event appended to the run folder."""

    def __init__(self, run_dir):
        self.path = Path(run_dir) / EVENTS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def __call__(self, event) -> None:
        if type(event).__name__ not in EVENT_TYPES or self._file.closed:
            return
        self._file.write(encode(event))
        self._file.flush()
        if isinstance(event, events.Finished):
            self._file.close()


class EventTail:
    """Reads the events another process appends to ``path``, as they come (complete lines only:
    a line being written is read on the next call)."""

    def __init__(self, path):
        self.path = Path(path)
        self._offset = 0
        self._partial = b""
        self.bad_lines = 0

    def read(self) -> Iterator:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if not line.strip():
                continue
            try:
                yield decode(line.decode("utf-8"))
            except (ValueError, TypeError, UnicodeDecodeError):
                self.bad_lines += 1  # a damaged line is skipped, never guessed at
