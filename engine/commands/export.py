"""`export RUN_DIR|WEIGHTS --format FORMAT --out PATH`: write the trained model in another form
and verify it by reloading what was written.

Formats: bundle (design + safetensors weights, the default), pt (state_dict), python (one
standalone PyTorch file), onnx (optional extra), pt2 (torch.export), script (a training script
for torchrun). Exit codes: 0 written and verified, 1 written but the reloaded model differs,
2 nothing usable to export (unreadable input, design errors, missing optional packages).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import EngineError
from ..persistence import load

# The same as engine.export.FORMATS (a test checks); not imported from there so that building
# the command line does not import torch.
FORMATS = ("bundle", "pt", "python", "onnx", "pt2", "script")


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export trained weights as a bundle, .pt, Python code, ONNX, .pt2 "
                                      "or a torchrun training script (verified)")
    p.add_argument("source", help="a run folder, a bundle folder, or a weights file (.safetensors, .pt)")
    p.add_argument("--format", "-f", choices=FORMATS, default="bundle", help="what to write (default: bundle)")
    p.add_argument("--out", "-o", required=True, help="where to write (a folder for bundle and script)")
    p.add_argument("--design", help="the design file, when the weights file does not carry it")
    p.add_argument("--data", help="data.json for the training script (default: the run's)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..export import export, load_bundle
    source = Path(args.source)
    try:
        design = load(args.design) if args.design else None
        design, state = load_bundle(source, design)
        data, config = _run_files(source, args.data)
        result = export(design, state, args.format, args.out, progress=_printer(), data=data, train_config=config)
    except (EngineError, OSError) as e:
        print(f"cannot export: {e}", file=sys.stderr)
        return 2
    print(result.summary())
    for note in result.notes:
        print(f"  {note}")
    return 0 if result.verified else 1


def _run_files(source: Path, data_path: str | None) -> tuple[dict | None, dict | None]:
    """The run's data.json (or ``--data``) and config.json, when there are any."""
    folder = source if source.is_dir() else source.parent
    data_file = Path(data_path) if data_path else folder / "data.json"
    if data_path and not data_file.is_file():
        raise ExportInputError(f"--data {data_path}: no such file (give the data.json of a run)")
    data = _json_object(data_file, "--data" if data_path else "the run's data.json") if data_file.is_file() else None
    config_file = folder / "config.json"
    config = _json_object(config_file, "the run's config.json") if config_file.is_file() else None
    return data, config


class ExportInputError(EngineError):
    pass


def _json_object(path: Path, what: str) -> dict:
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).splitlines()[0][:200] \
            if not isinstance(e, RecursionError) else "nested too deeply"
        raise ExportInputError(f"{what} ({path}) is not readable JSON: {reason}") from None
    if not isinstance(value, dict):
        raise ExportInputError(f"{what} ({path}) must hold a JSON object, not {type(value).__name__}")
    return value


def _printer():
    def progress(fraction: float, message: str) -> None:
        print(f"[{fraction:4.0%}] {message}", flush=True)
    return progress
