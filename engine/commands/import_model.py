"""`import SOURCE --out DESIGN.json`: bring a model into the designer.

SOURCE is a bundle or run folder, a weights file carrying its design (.safetensors), a
torchvision model (``torchvision:resnet18``), or a factory in your own code
(``python:package.module:make_model`` — this imports and runs that code). Modules are traced
with torch.fx; layers no block describes become opaque blocks and are listed. The weights are
written beside the design (``--weights``) when every layer was understood.
Exit codes: 0 imported completely, 1 imported with opaque layers, 2 nothing imported.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from ..errors import EngineError
from ..layout import lay_out
from ..persistence import save


def add_parser(sub) -> None:
    p = sub.add_parser("import", help="import a bundle, a torchvision model or a traceable nn.Module as a design")
    p.add_argument("source", help="folder/.safetensors bundle, torchvision:NAME, or python:MODULE:FACTORY")
    p.add_argument("--out", "-o", required=True, help="the design file to write (.json)")
    p.add_argument("--input-shape", default="3,224,224", help="input shape without batch axis (default 3,224,224)")
    p.add_argument("--num-classes", type=int, help="classes of a torchvision model (default: its own)")
    p.add_argument("--weights", help="where to write the weights (default: OUT with .safetensors)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..export import import_module, load_bundle, save_safetensors
    from ..export.importer import transfer_weights
    out = Path(args.out)
    weights_path = Path(args.weights) if args.weights else out.with_suffix(".safetensors")
    try:
        if ":" not in args.source or Path(args.source).exists():
            design, state = load_bundle(args.source)
            save(design, out)
            save_safetensors(state, weights_path, design)
            print(f"wrote {out} and {weights_path} ({len(design.nodes)} nodes)")
            return 0
        shape = tuple(int(s) for s in args.input_shape.replace("x", ",").split(",") if s.strip())
        module = _module(args.source, args.num_classes).eval()
        design, report = import_module(module, shape, args.source.split(":")[-1])
        lay_out(design)  # as the app lays imports out
        save(design, out)
        print(f"wrote {out}: {len(design.nodes)} nodes")
        print(report.text())
        if report.complete:
            save_safetensors(transfer_weights(module, design, report), weights_path, design)
            print(f"wrote the weights to {weights_path}")
        else:
            print("weights not written: replace the opaque layers first")
        return 0 if report.complete else 1
    except (EngineError, OSError, ValueError, ImportError, AttributeError, TypeError) as e:
        print(f"cannot import {args.source}: {e}", file=sys.stderr)
        return 2


def _module(source: str, num_classes: int | None):
    kind, _, rest = source.partition(":")
    kwargs = {"num_classes": num_classes} if num_classes else {}
    if kind == "torchvision":
        import torchvision
        if rest in ("googlenet", "inception_v3"):
            kwargs.update(aux_logits=False, init_weights=False)  # the auxiliary heads are training-only
        return torchvision.models.get_model(rest, weights=None, **kwargs)
    if kind == "python":
        module_name, _, factory = rest.partition(":")
        return getattr(importlib.import_module(module_name), factory)(**kwargs)
    raise EngineError(f"unknown source {source!r}: use a path, torchvision:NAME or python:MODULE:FACTORY")
