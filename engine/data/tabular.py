"""Tabular data: a CSV file of numeric feature columns and one label column, one sample a row.

The samples are float32 vectors [F] (a design whose Input is ``(F,)`` feeds them to a Linear;
one whose Input is ``(1, F)`` to a Conv1d: :func:`engine.data.adapt` reshapes). The trainer
normalises each feature with the training part's mean and standard deviation, as it does each
channel of an image.

The label column is the one headed ``label``, ``class`` or ``target`` (any case), else the last.
A header row is recognised by a text cell where the next row has a number. Every feature must
be a number: the first text or empty cell is refused with its column's name and its row's
line number, so the user can find it.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch

from .base import DatasetError, TensorSet

LABEL_NAMES = ("label", "class", "target")
MAX_ROWS = 2_000_000  # a bigger table is not a CNN designer's job; say so instead of filling the memory


def number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of the non-empty rows; a clear error if the file cannot be read."""
    if not path.is_file():
        raise DatasetError(f"the CSV file {path} does not exist")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = []
            for row in reader:
                if row and any(cell.strip() for cell in row):
                    rows.append((reader.line_num, [cell.strip() for cell in row]))
                    if len(rows) > MAX_ROWS + 1:
                        raise DatasetError(f"{path} has more than {MAX_ROWS:,} rows; use a smaller table")
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DatasetError(f"cannot read the CSV file {path}: {e}") from None
    return rows


def has_header(rows: list[tuple[int, list[str]]]) -> bool:
    """A first row with a text cell where the second row has a number (or a one-row file of text)."""
    if not rows:
        return False
    first = rows[0][1]
    if len(rows) == 1:
        return not all(number(c) for c in first)
    second = rows[1][1]
    return any(not number(a) and number(b) for a, b in zip(first, second))


def read_table(path: str | Path) -> tuple[TensorSet, list[str], list[str]]:
    """(samples float32 [N, F] with their labels, class names, feature names) of a CSV table."""
    path = Path(path).expanduser()
    rows = read_rows(path)
    header = has_header(rows)
    names = rows[0][1] if header else [f"column {i + 1}" for i in range(len(rows[0][1]))] if rows else []
    body = rows[1:] if header else rows
    if not body:
        raise DatasetError(f"the CSV file {path} has no data rows; expected one sample a row: feature values and "
                           "a label, e.g.  5.1,3.5,1.4,setosa")
    if len(names) < 2:
        raise DatasetError(f"{path} has one column only; a table needs at least one feature column and a label "
                           "column")
    label_at = next((i for i, n in enumerate(names) if n.lower() in LABEL_NAMES), len(names) - 1)
    for line, cells in body:
        if len(cells) != len(names):
            raise DatasetError(f"{path}, line {line}: {len(cells)} value(s) but the table has {len(names)} "
                               f"column(s) ({', '.join(names)[:120]}); every row needs one value per column")
    features = [i for i in range(len(names)) if i != label_at]
    x = np.empty((len(body), len(features)), np.float32)
    for r, (line, cells) in enumerate(body):
        for c, column in enumerate(features):
            cell = cells[column]
            try:
                value = float(cell)
            except ValueError:
                raise DatasetError(_not_a_number(path, names, column, line, cell, header)) from None
            if not math.isfinite(value):
                raise DatasetError(f"{path}, line {line}: column {names[column]!r} holds {cell!r}; features must "
                                   "be finite numbers")
            x[r, c] = value
    labels = [cells[label_at] for _, cells in body]
    empty = next((line for (line, _), label in zip(body, labels) if not label), None)
    if empty is not None:
        raise DatasetError(f"{path}, line {empty}: the label column {names[label_at]!r} is empty")
    if all(label.lstrip("-").isdigit() for label in labels):
        classes = sorted(set(labels), key=int)
    else:
        classes = sorted(set(labels))
    if len(classes) < 2:
        raise DatasetError(f"the label column {names[label_at]!r} of {path} names one class only ({classes[0]}); "
                           "a classifier needs at least two")
    index = {name: i for i, name in enumerate(classes)}
    y = torch.tensor([index[label] for label in labels], dtype=torch.long)
    return TensorSet(torch.from_numpy(x), y), classes, [names[i] for i in features]


def _not_a_number(path, names, column, line, cell, header) -> str:
    what = "is empty" if not cell else f"holds the text {cell[:40]!r}"
    text = (f"{path}, line {line}: the feature column {names[column]!r} {what}; every column but the label must be "
            f"numbers. Remove that column, or turn its values into numbers (one column per category)")
    if not header:
        text += "; if the first row names the columns, give the label column the name 'label'"
    if column == 0 and ("/" in cell or "\\" in cell or Path(cell).suffix):
        text += (f". If the first column names image files, none was found as an image (paths are read "
                 f"relative to {Path(path).parent})")
    return text


__all__ = ["read_table", "read_rows", "has_header", "LABEL_NAMES"]
