"""`export RUN_DIR|WEIGHTS --format FORMAT --out PATH`: write the trained model in another form
and verify it by reloading what was written.

Formats: bundle (design + safetensors weights, the default), pt (state_dict), python (one
standalone PyTorch file), onnx (optional extra), pt2 (torch.export), script (a training script
for torchrun), slurm (the training script plus ``train.sbatch`` for a Slurm cluster: ``--nodes``,
``--gpus-per-node``, ``--time``, ``--partition``; see engine.export.slurm). Every export also carries the input shape, normalisation and class names of the
run (its data.json): in metadata, a README, and the Python file's ``preprocess``;
``--bake-normalisation`` puts the normalisation inside python/onnx/pt2 models.

Exit codes: 0 written and verified, 1 written but the reloaded model differs, 2 nothing usable
to export (unreadable input, design errors, missing optional packages).
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
COMMAND_FORMATS = FORMATS + ("slurm",)  # slurm: the script format plus a batch script beside it


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export trained weights as a bundle, .pt, Python code, ONNX, .pt2 "
                                      "or a torchrun training script (verified)")
    p.add_argument("source", help="a run folder, a bundle folder, a weights file (.safetensors, .pt), or a design "
                                  "file (.json) alone: its weights are then freshly initialised from --seed")
    p.add_argument("--format", "-f", choices=COMMAND_FORMATS, default="bundle", help="what to write (default: bundle)")
    p.add_argument("--out", "-o", required=True, help="where to write (a folder for bundle and script)")
    p.add_argument("--design", help="the design file, when the weights file does not carry it")
    p.add_argument("--data", help="data.json for the training script (default: the run's)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the fresh (untrained) weights when the source is a design with no weights "
                        "(default: 0)")
    p.add_argument("--bake-normalisation", action="store_true",
                   help="put the training data's normalisation inside the exported model (python, onnx, pt2), "
                        "so it takes raw [0, 1] input; without it, normalise as the README and metadata say")
    slurm = p.add_argument_group("--format slurm", "the Slurm job train.sbatch asks for")
    slurm.add_argument("--nodes", type=int, default=1, help="machines (default 1)")
    slurm.add_argument("--gpus-per-node", type=int, default=1, help="GPUs, and so processes, per machine (default 1)")
    slurm.add_argument("--time", default="01:00:00", help="the job's time limit, as Slurm writes it (default 01:00:00)")
    slurm.add_argument("--partition", default="", help="the partition (default: the cluster's default)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..export import export, fresh_weights, load_bundle, untrained_note
    from ..export.slurm import SlurmOptionError, SlurmOptions, job_name, sbatch_text, write_sbatch
    source = Path(args.source)
    slurm = None
    if args.format == "slurm":
        try:
            slurm = SlurmOptions(nodes=args.nodes, gpus_per_node=args.gpus_per_node, time=args.time,
                                 partition=args.partition)
            sbatch_text(slurm)  # refused before anything is written
        except SlurmOptionError as e:
            print(f"cannot export: {e}", file=sys.stderr)
            return 2
    try:
        design = load(args.design) if args.design else None
        origin = None
        if source.suffix.lower() == ".json" and source.is_file():
            # A design file with no weights: initialise them from the seed and say so everywhere.
            design, state = fresh_weights(load(source), args.seed)
            origin = untrained_note(args.seed)  # the summary says it first
        else:
            design, state = load_bundle(source, design)
        data, config = _run_files(source, args.data)
        result = export(design, state, "script" if slurm else args.format, args.out, progress=_printer(), data=data,
                        train_config=config, weights_origin=origin, bake_normalisation=args.bake_normalisation)
        if slurm is not None:
            from dataclasses import replace
            sbatch = write_sbatch(args.out, replace(slurm, job_name=job_name(design.name)))
    except (EngineError, OSError) as e:
        print(f"cannot export: {e}", file=sys.stderr)
        return 2
    print(result.summary())
    if slurm is not None:
        print(f"  wrote {sbatch}: sbatch it from that folder (extra options go to train.py, e.g. "
              f"sbatch train.sbatch --epochs 30)")
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
