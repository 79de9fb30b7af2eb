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
    folder = source if source.is_dir() else source.parent
    data_file = Path(data_path) if data_path else folder / "data.json"
    data = json.loads(data_file.read_text()) if data_file.is_file() else None
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else None
    return data, config if isinstance(config, dict) else None


def _printer():
    def progress(fraction: float, message: str) -> None:
        print(f"[{fraction:4.0%}] {message}", flush=True)
    return progress
