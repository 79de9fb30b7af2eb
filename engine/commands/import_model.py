"""`import SOURCE --out DESIGN.json`: bring a model into the designer.

SOURCE is a bundle or run folder, a weights file carrying its design (.safetensors), a
torchvision model (``torchvision:resnet18``), or a factory in your own code
(``python:package.module:make_model`` — this imports and runs that code; the current folder is
searched first). Modules are traced with torch.fx; layers no block describes become opaque
blocks and are listed. A module's weights are random unless ``--pretrained`` is given: alone,
it takes torchvision's file from the local torch hub cache; ``--pretrained FILE`` takes that
file. The weights are written beside the design (``--weights``) when every layer was
understood, and the output says whether they are random or pretrained. Missing folders of
OUT and of the weights file are created.
Exit codes: 0 imported completely, 1 imported with opaque layers, 2 nothing imported.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import EngineError
from ..persistence import save


def add_parser(sub) -> None:
    p = sub.add_parser("import", help="import a bundle, a torchvision model or a traceable nn.Module as a design")
    p.add_argument("source", nargs="?", help="folder/.safetensors bundle, torchvision:NAME, or python:MODULE:FACTORY")
    p.add_argument("--out", "-o", required=True, help="the design file to write (.json)")
    p.add_argument("--input-shape", default="3,224,224", help="input shape without batch axis (default 3,224,224)")
    p.add_argument("--num-classes", type=int, help="classes of a torchvision model (default: its own)")
    p.add_argument("--pretrained", nargs="?", const=True, default=False, metavar="FILE",
                   help="start from pretrained weights: torchvision's file in the torch hub cache "
                        "(TORCH_HOME/hub/checkpoints), or FILE (.pth/.pt/.safetensors; read as tensors only). "
                        "Nothing is downloaded")
    p.add_argument("--weights", help="where to write the weights (default: OUT with .safetensors)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..export import load_bundle, save_safetensors
    from ..importing import transfer_weights
    from ..importing.sources import import_source
    if args.source is None and isinstance(args.pretrained, str) and args.pretrained.startswith(SOURCE_PREFIXES):
        # `import --pretrained torchvision:resnet18`: argparse gave the source to --pretrained's FILE
        args.source, args.pretrained = args.pretrained, True
    if args.source is None:
        print("import: say what to import: a bundle folder/.safetensors, torchvision:NAME or python:MODULE:FACTORY",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    weights_path = Path(args.weights) if args.weights else out.with_suffix(".safetensors")
    try:
        if ":" not in args.source or Path(args.source).exists():
            if args.pretrained:
                raise EngineError("--pretrained is for torchvision: and python: sources; a bundle carries its "
                                  "own weights")
            design, state = load_bundle(args.source)
            _make_folders(out, weights_path)
            save(design, out)
            save_safetensors(state, weights_path, design)
            print(f"wrote {out} and {weights_path} ({len(design.nodes)} nodes)")
            return 0
        shape = tuple(int(s) for s in args.input_shape.replace("x", ",").split(",") if s.strip())
        module, design, report = import_source(args.source, shape, args.num_classes, args.pretrained)
        _make_folders(out, weights_path)
        save(design, out)  # laid out as the app lays it out
        print(f"wrote {out}: {len(design.nodes)} nodes")
        print(report.text())
        if report.complete:
            save_safetensors(transfer_weights(module, design, report), weights_path, design,
                             origin=report.weights_origin)
            print(f"wrote the weights ({report.weights_origin.partition(';')[0]}) to {weights_path}")
        else:
            print("weights not written: replace the opaque layers first")
        return 0 if report.complete else 1
    except (EngineError, OSError, ValueError, ImportError, AttributeError, TypeError) as e:
        print(f"cannot import {args.source}: {e}", file=sys.stderr)
        return 2


SOURCE_PREFIXES = ("torchvision:", "python:")


def _make_folders(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
