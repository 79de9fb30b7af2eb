"""`validate DESIGN.json [--json]`: the per-layer table, totals and diagnostics.

Exit codes: 0 valid, 1 the design has errors, 2 the file cannot be read.
"""
from __future__ import annotations

import json
import sys

from ..analysis import analyze
from ..errors import DesignFileError
from ..persistence import load
from ..summary import text_table, to_json


def add_parser(sub) -> None:
    p = sub.add_parser("validate", help="check a design file: shapes, parameters, compute, diagnostics")
    p.add_argument("design", help="the design file (.json)")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of the table")
    p.add_argument("--batch-size", type=int, default=1, help="batch size for the memory figure")
    p.set_defaults(run=run)


def run(args) -> int:
    try:
        design = load(args.design)
    except DesignFileError as e:
        if args.json:  # the object for programs on stdout, the sentence for people on stderr
            print(json.dumps({"valid": False, "error": str(e), "location": e.location}))
        print(f"Cannot read {args.design}: {e}", file=sys.stderr)
        return 2
    report = analyze(design)
    if args.json:
        print(json.dumps(to_json(design, report), indent=2, ensure_ascii=False))
    else:
        print(f"{design.name}  ({args.design})")
        print(text_table(design, report, args.batch_size))
        print("valid" if report.valid else f"{len(report.errors)} error(s)")
    return 0 if report.valid else 1
