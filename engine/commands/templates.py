"""`templates` lists the classic networks; `template NAME [--input C,H,W] [--classes N]
[--set OPTION=VALUE] --out FILE` writes one as a design file.

Exit codes: 0 done, 1 the template cannot be built for that input, 2 bad arguments or the
file cannot be written.
"""
from __future__ import annotations

import json
import sys

from .. import templates
from ..analysis import analyze
from ..layout import lay_out
from ..persistence import save
from ..summary import human


def add_parser(sub) -> None:
    p = sub.add_parser("templates", help="list the classic-network templates (name, description, parameters)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of the table")
    p.set_defaults(run=run_list)
    t = sub.add_parser("template", help="write a classic network as a design file")
    t.add_argument("name", help="template name (see `templates`)")
    t.add_argument("--input", help="input shape C,H,W (default: the template's own, e.g. 3,224,224)")
    t.add_argument("--classes", type=int, help="number of classes (default: the template's own)")
    t.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                   help="a template option, e.g. two_groups=true (alexnet-original), aux_heads=true (googlenet)")
    t.add_argument("--out", required=True, help="the design file to write (.json)")
    t.set_defaults(run=run_build)


def _param_count(info) -> int:
    return analyze(templates.build(info.name)).total_params


def run_list(args) -> int:
    rows = [(t, _param_count(t)) for t in templates.catalog()]
    if args.json:
        print(json.dumps([{"name": t.name, "title": t.title, "family": t.family, "description": t.description,
                           "default_input": list(t.default_input), "default_classes": t.default_classes,
                           "params": n, "reference_params": t.reference_params,
                           "options": {k: {"default": d, "help": h} for k, (d, h) in t.options.items()},
                           "torchvision": t.torchvision} for t, n in rows], indent=2, ensure_ascii=False))
        return 0
    width = max(len(t.name) for t, _ in rows)
    print(f"{'name':<{width}}  {'input':<11} {'params':>8}  description")
    for t, n in rows:
        shape = "×".join(map(str, t.default_input))
        print(f"{t.name:<{width}}  {shape:<11} {human(n):>8}  {t.description}")
    print("\nWrite one: python main.py template NAME [--input C,H,W] [--classes N] --out FILE")
    return 0


def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").replace("×", ",").split(","))
    except ValueError:
        raise templates.TemplateError(f"--input takes sizes like 3,224,224; got {text!r}") from None
    return shape


def _parse_option(text: str, info) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or name not in info.options:
        known = ", ".join(info.options) or "none"
        raise templates.TemplateError(f"--set takes OPTION=VALUE with an option of {info.name} ({known}); got {text!r}")
    default = info.options[name][0]
    if isinstance(default, bool):
        lowered = value.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise templates.TemplateError(f"{name} is true or false; got {value!r}")
        return name, lowered in ("true", "1", "yes")
    return name, type(default)(value)


def run_build(args) -> int:
    try:
        info = templates.info(args.name)
        shape = _parse_shape(args.input) if args.input else None
        options = dict(_parse_option(o, info) for o in args.set)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    try:
        design = templates.build(args.name, shape, args.classes, **options)
    except templates.TemplateError as e:
        print(e, file=sys.stderr)
        return 1
    lay_out(design)  # as the app lays templates out
    try:
        save(design, args.out)
    except OSError as e:
        print(f"Cannot write {args.out}: {e}", file=sys.stderr)
        return 2
    report = analyze(design)
    print(f"{args.out}: {design.name}, {len(design.nodes)} nodes, {report.total_params:,} parameters, "
          f"input {'×'.join(map(str, design.input_shape or ()))}, {design.num_classes} classes")
    if design.notes.count("\n- "):
        print(design.notes.split("\n\n", 1)[1])
    return 0
