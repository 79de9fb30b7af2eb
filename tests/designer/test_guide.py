"""docs/guide.md cannot drift from the app: its menu paths are actions of the main window, the
panel, tab and button names it sets in bold are on screen, the figures it quotes are what
engine.analyze computes, its Python snippet runs (printing what its comments say) and its
command lines parse with the real CLI (the first section's ones, and the own-folder ones on a
tiny folder of images, are run, with one epoch and one thread where they train)."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDockWidget,
    QGroupBox,
    QLabel,
    QTabWidget,
    QTreeWidget,
)

from engine import analyze, dataset_names, templates

from .helpers import settle

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide.md"
MENU_SEP = " ▸ "


def _guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def _section(title: str) -> str:
    text = _guide()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def _code_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def _commands(text: str) -> list[list[str]]:
    """``python main.py …`` lines of the sh blocks, as argv lists (without ``python main.py``)."""
    out = []
    for block in _code_blocks(text, "sh"):
        for line in block.splitlines():
            if line.startswith("python main.py "):
                out.append(shlex.split(line)[2:])
    return out


def _bold(text: str) -> list[str]:
    return re.findall(r"\*\*([^*]+)\*\*", text)


def _plain(label: str) -> str:
    return label.replace("&&", "\0").replace("&", "").replace("\0", "&").split("\t")[0].strip()


def _menu_paths(window) -> set[str]:
    return set(_menu_actions(window))


def _menu_actions(window) -> dict:
    actions = {}

    def walk(menu, prefix):
        for action in menu.actions():
            if action.isSeparator():
                continue
            path = [*prefix, _plain(action.text())]
            if action.menu() is not None:
                walk(action.menu(), path)
            else:
                actions[MENU_SEP.join(path)] = action

    for top in window.menuBar().actions():
        walk(top.menu(), [_plain(top.text())])
    return actions


def _labels_on_screen(window) -> set[str]:
    found: set[str] = set(window.docks)
    for w in window.findChildren(QLabel):
        found.add(_plain(w.text()).rstrip(":"))
    for w in window.findChildren(QAbstractButton):
        found.add(_plain(w.text()))
        found.add(w.accessibleName())  # the start page's cards are painted buttons named by their title
    for w in window.findChildren(QGroupBox):
        found.add(_plain(w.title()))
    for w in window.findChildren(QDockWidget):
        found.add(w.windowTitle())
    for w in window.findChildren(QTabWidget):
        found.update(_plain(w.tabText(i)) for i in range(w.count()))
    for tree in window.findChildren(QTreeWidget):
        found.update(tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount()))
    return {t for t in found if t}


# -- the app ------------------------------------------------------------------------------------
def test_every_menu_path_in_the_guide_is_an_action_of_the_main_window(window):
    paths = _menu_paths(window)
    quoted = [b for b in _bold(_guide()) if MENU_SEP in b]
    assert len(quoted) >= 10  # the guide does name its menus
    missing = [q for q in quoted if q not in paths]
    assert not missing, f"not in the menus: {missing}; the menus have {sorted(paths)}"


def test_every_bold_name_in_the_guide_is_on_screen(qtbot, window):
    """Panels, tabs, buttons and form labels set in bold are ones the app shows (the start page
    first; then LeNet-5 with conv1 selected and the digits loaded, whose size asks for a fix)."""
    seen = _labels_on_screen(window)
    info = templates.info("lenet5")
    window.files.new_from_template(("lenet5", info.default_input, info.default_classes))
    window.document.set_selection(["conv1"])
    controller = window.training
    qtbot.waitUntil(lambda: controller.bundle is not None and not controller.dataset_loading(), timeout=120_000)
    settle(qtbot)
    QApplication.processEvents()
    seen |= _labels_on_screen(window)
    names = [b for b in _bold(_guide()) if MENU_SEP not in b]
    assert len(names) >= 10
    missing = [n for n in names if n not in seen]
    assert not missing, f"not on screen: {missing}"
    window.document.undo_stack.setClean()


def test_shortcuts_quoted_after_a_menu_path_are_the_actions_shortcuts(window):
    """"**Run ▸ Train** (F5)", "**File ▸ New from Template…**, Ctrl+Shift+N": the keys are the action's."""
    from PySide6.QtGui import QKeySequence

    actions = _menu_actions(window)
    key = r"(?:(?:Ctrl|Shift|Alt)\+)*(?:F\d+|[A-Z0-9])\b"
    quoted = re.findall(rf"\*\*([^*]+{MENU_SEP}[^*]+)\*\*,?\s*\(?({key})", _guide())
    assert len(quoted) >= 8
    wrong = []
    for path, keys in quoted:
        has = {s.toString(QKeySequence.SequenceFormat.PortableText) for s in actions[path].shortcuts()}
        if keys not in has:
            wrong.append((path, keys, sorted(has)))
    assert not wrong, f"the guide names other keys than the app has: {wrong}"


# -- the figures --------------------------------------------------------------------------------
def test_quoted_figures_are_what_the_engine_computes():
    guide = _section("A first network in five minutes")
    lenet = templates.build("lenet5")
    report = analyze(lenet)
    conv1, conv2 = report.nodes["conv1"], report.nodes["conv2"]
    x = "×".join

    def shape(node) -> str:
        return x(str(n) for n in node.shape)

    claims = [f"{report.total_params:,} parameters",
              f"input {x(str(n) for n in templates.info('lenet5').default_input)}, output {shape(conv1)}, "
              f"{conv1.params} parameters",
              f"out channels {lenet.node('conv1').params['out_channels']}"]
    wider = lenet.copy()
    wider.set_param("conv1", "out_channels", 8)
    after = analyze(wider)
    claims += [f"`conv1` now has {after.nodes['conv1'].params:,} parameters",
               f"`conv2` (which reads its 8 channels) {after.nodes['conv2'].params:,}",
               f"and the network {after.total_params:,}"]
    assert conv2.params != after.nodes["conv2"].params
    digits = dataset_names.describe("digits")
    count = re.search(r"([\d,]+) images", digits).group(1)
    claims += [f"{count} small pictures", "the digits are 1×8×8 while LeNet-5 takes 1×32×32"]
    assert digits.startswith("8×8")
    flat = " ".join(guide.split())  # the paragraphs wrap anywhere
    missing = [c for c in claims if " ".join(c.split()) not in flat]
    assert not missing, f"the guide does not say (any more): {missing}"


# -- the Python snippet -------------------------------------------------------------------------
def test_python_snippet_runs_and_prints_what_its_comments_say(tmp_path):
    blocks = _code_blocks(_section("Using the engine from Python"), "python")
    assert len(blocks) == 1
    snippet = blocks[0]
    assert "Trainer" in snippet and "export(" in snippet and "analyze(" in snippet and "compile_design(" in snippet
    expected = [m.group(1).strip() for m in re.finditer(r"^print\(.*?\)\s*#\s*(.+)$", snippet, flags=re.M)]
    assert expected  # the comments quote the output
    (tmp_path / "snippet.py").write_text(snippet, encoding="utf-8")
    # One thread: a busy shared machine oversubscribed by torch's default takes ten times longer.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout.splitlines()
    assert printed[:len(expected)] == expected
    assert printed[len(expected)].startswith("completed ")
    assert (tmp_path / "lenet5_model.py").is_file()
    assert (tmp_path / "runs" / "lenet5-python").is_dir()


# -- the command lines --------------------------------------------------------------------------
def _run_cli(argv: list[str]) -> int:
    """engine.cli.main in this process; a ``train`` gets one thread (restored afterwards)."""
    import torch

    from engine.cli import main
    threads = torch.get_num_threads()
    try:
        return main(argv)
    finally:
        torch.set_num_threads(threads)


def test_every_command_line_in_the_guide_parses():
    from engine.cli import build_parser

    commands = _commands(_guide())
    assert {c[0] for c in commands} >= {"train", "explain", "export", "template", "validate"}
    parser, names = build_parser()
    for argv in commands:
        assert argv[0] in names, argv
        try:
            parser.parse_args(argv)
        except SystemExit as e:  # argparse's way of refusing
            pytest.fail(f"{shlex.join(argv)} does not parse ({e})")


def _one_epoch(argv: list[str]) -> list[str]:
    if argv[0] != "train":
        return argv
    argv = list(argv)
    argv[argv.index("--epochs") + 1] = "1"
    return [*argv, "--threads", "1", "--quiet"]


def test_first_section_commands_run(tmp_path, monkeypatch, capsys):
    """lenet5.json as File ▸ Save As… writes it; then train, explain and export as the guide says."""
    from engine import persistence

    monkeypatch.chdir(tmp_path)
    persistence.save(templates.build("lenet5"), tmp_path / "lenet5.json")
    commands = _commands(_section("A first network in five minutes"))
    assert [c[0] for c in commands] == ["train", "explain", "export"]
    for argv in commands:
        assert _run_cli(_one_epoch(argv)) == 0, shlex.join(argv)
    capsys.readouterr()
    assert (tmp_path / "runs" / "lenet5").is_dir()
    assert list((tmp_path / "explain").glob("gradcam*.png"))
    assert (tmp_path / "lenet5_model.py").is_file()


def test_own_folder_commands_run_on_a_tiny_folder(tmp_path, monkeypatch, capsys):
    """The ImageFolder layout the guide draws, a few pictures per class: template, validate, train."""
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    section = _section("Training on your own folder of images")
    for cls, shade in (("cats", 40), ("dogs", 210)):
        assert f"{cls}/" in section
        folder = tmp_path / "photos" / cls
        folder.mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (20, 24), (shade, 255 - shade, (37 * i) % 256)).save(folder / f"{i:03d}.jpg")
    commands = _commands(section)
    assert [c[0] for c in commands] == ["template", "validate", "train"]
    assert commands[2][commands[2].index("--dataset") + 1] == "photos"
    for argv in commands:
        assert _run_cli(_one_epoch(argv)) == 0, shlex.join(argv)
    out = capsys.readouterr()
    assert "valid" in out.out
    assert (tmp_path / "runs" / "pets").is_dir()
