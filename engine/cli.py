"""Command line: `python main.py [gui] [FILE]` opens the app; other sub-commands run headless.

Each sub-command lives in its own module under ``engine/commands`` with ``add_parser(sub)``
registering it and ``run(args) -> exit code``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ["validate", "templates", "train", "sweep", "export", "import_model", "explain"]


def build_parser() -> tuple[argparse.ArgumentParser, set[str]]:
    parser = argparse.ArgumentParser(
        prog="network-designer",
        description="Design, check, train and export convolutional networks. "
                    "Without a sub-command the app opens.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = sub.add_parser("gui", help="open the designer (the default)")
    gui.add_argument("file", nargs="?", help="a design file to open")
    for name in COMMANDS:
        importlib.import_module(f"engine.commands.{name}").add_parser(sub)
    return parser, set(sub.choices)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-V"]):  # before the sub-commands load (they import torch)
        from engine.version import app_version
        print(f"network-designer {app_version()}")
        return 0
    parser, commands = build_parser()
    # `main.py design.json` opens that file in the app.
    if argv and not argv[0].startswith("-") and argv[0] not in commands:
        argv = ["gui", *argv]
    args = parser.parse_args(argv or ["gui"])
    if args.command == "gui":
        return run_gui(getattr(args, "file", None))
    return args.run(args)


def run_gui(path: str | None) -> int:
    try:
        from designer.app import run
    except ImportError as e:
        print(f"The designer cannot start: {e}. Headless commands still work; see --help.", file=sys.stderr)
        return 2
    return run(path)
