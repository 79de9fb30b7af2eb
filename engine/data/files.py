"""User images on disk: a folder in ``ImageFolder`` layout (one sub-folder per class, optionally
under ``train/`` and ``val/``) or a CSV file of ``path,label`` rows.

Files that cannot be decoded are skipped and counted, never fatal; a folder that does not have
the expected layout gets an error that says what was found and what was expected. When no file
at all can be decoded the error names one of them and the decoder's reason; a CSV that is a
table of values rather than a list of images is read by :mod:`.tabular` instead.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from .base import DatasetError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


class FileImageSet(torch.utils.data.Dataset):
    """Images decoded on access into float [C, H, W] in [0, 1]; a file that fails to decode gives
    ``None`` (the batcher leaves it out) and is counted in ``failed``."""

    def __init__(self, paths: list[Path], labels: list[int], input_shape: tuple[int, int, int]):
        self.paths, self.labels, self.input_shape = list(paths), list(labels), tuple(input_shape)
        self.failed: set[int] = set()
        self.first_failure: tuple[Path, str] | None = None  # (file, the decoder's reason)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        item = self.raw_item(i)
        return None if item is None else (item[0].float().div_(255), item[1])

    def raw_item(self, i):
        """``(uint8 [C, H, W], label)``, or None if the file fails to decode (then counted)."""
        try:
            return decode_uint8(self.paths[i], self.input_shape), self.labels[i]
        except Exception as e:  # any decoder failure means "skip this file"
            self.failed.add(i)
            if self.first_failure is None:
                self.first_failure = (self.paths[i], failure_reason(e))
            return None


def decode(path: Path, input_shape) -> torch.Tensor:
    """The image as float [C, H, W] in [0, 1]."""
    return decode_uint8(path, input_shape).float().div_(255)


def decode_uint8(path: Path, input_shape) -> torch.Tensor:
    """The image as uint8 [C, H, W], converted to ``input_shape``'s channels and size."""
    from PIL import Image
    c, h, w = input_shape
    with Image.open(path) as opened:
        img = opened.convert("L" if c == 1 else "RGB")
        if img.size != (w, h):
            img = img.resize((w, h), Image.Resampling.BILINEAR)
        arr = np.asarray(img, dtype=np.uint8)
    x = torch.from_numpy(arr.copy())
    x = x.unsqueeze(0) if x.dim() == 2 else x.permute(2, 0, 1).contiguous()
    if x.shape[0] != c:  # RGB decoded for a design with 2 or 4+ channels
        raise DatasetError(f"cannot make {c} channels from an image")
    return x


def failure_reason(error: BaseException) -> str:
    """A decoder's exception in words (without repeating the file's path)."""
    from PIL import UnidentifiedImageError
    if isinstance(error, FileNotFoundError):
        return "the file does not exist"
    if isinstance(error, IsADirectoryError):
        return "it is a folder, not a file"
    if isinstance(error, UnidentifiedImageError):
        return "not an image format Pillow can read (is it really an image?)"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _unreadable_reason(path: Path) -> str | None:
    """None if ``path`` is an image Pillow can open, else why not."""
    from PIL import Image
    try:
        with Image.open(path) as img:
            img.verify()  # reads the header and structure without decoding every pixel
        return None
    except Exception as e:
        return failure_reason(e)


def _natural_shape(paths: list[Path]) -> tuple[int, int, int]:
    from PIL import Image
    with Image.open(paths[0]) as img:
        return (1 if img.mode in ("L", "1", "I", "I;16", "F") else 3, img.height, img.width)


def natural_shape(path: Path) -> tuple[int, int, int] | None:
    """The (C, H, W) an image file has before any resizing; None if it cannot be read."""
    try:
        return _natural_shape([path])
    except Exception:  # only informative
        return None


def _class_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def scan_folder(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """Files and labels of an ImageFolder layout ``root/<class>/<image>``."""
    if not root.exists():
        raise DatasetError(f"the dataset folder {root} does not exist")
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder; give a folder with one sub-folder per class, or a .csv file")
    folders = _class_folders(root)
    if not folders:
        loose = _images_in(root)
        hint = f" (it holds {len(loose)} image(s) directly)" if loose else ""
        raise DatasetError(f"{root} has no class sub-folders{hint}; expected one sub-folder per class, "
                           f"e.g. {root}/cat/001.png and {root}/dog/001.png")
    paths: list[Path] = []
    labels: list[int] = []
    classes: list[str] = []
    for folder in folders:
        files = _images_in(folder)
        if files:
            label = len(classes)
            classes.append(folder.name)
            paths += files
            labels += [label] * len(files)
    if not paths:
        others = sorted(p for f in folders for p in f.rglob("*") if p.is_file() and not p.name.startswith("."))
        found = (f" (they hold {len(others)} other file(s), e.g. {others[0].relative_to(root)})" if others else "")
        raise DatasetError(f"the class folders of {root} ({', '.join(f.name for f in folders[:5])}) hold no "
                           f"images{found}; supported files: {', '.join(sorted(IMAGE_SUFFIXES))}")
    if len(classes) < 2:
        raise DatasetError(f"{root} has images for one class only ({classes[0]}); a classifier needs at "
                           "least two class folders")
    return paths, labels, classes


def scan_csv(path: Path) -> tuple[list[Path], list[int], list[str]]:
    """Rows ``path,label`` (a header row is optional); paths are relative to the CSV's folder.
    Labels may be names or integers."""
    if not path.is_file():
        raise DatasetError(f"the CSV file {path} does not exist")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r and any(cell.strip() for cell in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DatasetError(f"cannot read the CSV file {path}: {e}") from None
    if rows and rows[0][0].strip().lower() in ("path", "file", "filename", "image"):
        rows = rows[1:]
    if not rows:
        raise DatasetError(f"the CSV file {path} has no rows; expected lines like  images/001.png,cat")
    _refuse_tables(path, rows)
    for number, row in enumerate(rows, 1):
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise DatasetError(f"{path}, data row {number}: expected 'path,label', got {','.join(row)!r}")
    names = [r[1].strip() for r in rows]
    if all(n.lstrip("-").isdigit() for n in names):
        ordered = sorted(set(names), key=int)
    else:
        ordered = sorted(set(names))
    index = {n: i for i, n in enumerate(ordered)}
    if len(ordered) < 2:
        raise DatasetError(f"{path} names one class only ({ordered[0]}); a classifier needs at least two")
    paths = [(path.parent / r[0].strip()) for r in rows]
    return paths, [index[n] for n in names], ordered


CSV_FORMAT = ("a CSV of 'path,label' rows naming image files (paths relative to the CSV's folder, e.g. "
              "images/001.png,cat)")
FOLDER_FORMAT = "a folder with one sub-folder of images per class (e.g. DATA/cat/001.png and DATA/dog/001.png)"


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def names_images(path: Path, rows: list[list[str]], look: int = 200) -> bool:
    """Does this CSV list image files (``path,label`` rows), rather than hold a table of values?"""
    head = rows[:look]
    if any(Path(r[0].strip()).suffix.lower() in IMAGE_SUFFIXES for r in head if r):
        return True
    return any((path.parent / r[0].strip()).is_file() for r in head[:20] if r and r[0].strip())


def is_image_list(path: Path) -> bool:
    """A CSV file whose first column names image files (else it is a table: engine.data.tabular)."""
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as f:
            rows = [r for _, r in zip(range(200), csv.reader(f)) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error):
        return True  # scan_csv reports why it cannot be read
    return names_images(Path(path), rows)


def _refuse_tables(path: Path, rows: list[list[str]], look: int = 200) -> None:
    """A CSV whose first column names no image file is a table of values (features and a label,
    say): say so instead of "no image could be decoded"."""
    if names_images(path, rows, look):
        return
    head = rows[:look]
    cells = [c.strip() for r in head for c in r if c.strip()]
    numeric = cells and sum(_number(c) for c in cells) >= 0.8 * len(cells)
    columns = max(len(r) for r in rows)
    what = f"a table of {'numbers' if numeric else 'values'} ({len(rows)} row(s) of {columns} column(s), " \
           f"first row {','.join(rows[0])[:60]!r})"
    raise DatasetError(f"{path} is a CSV file holding {what}, not a list of images. Image files are read from "
                       f"{FOLDER_FORMAT}, or {CSV_FORMAT}; a table of numeric features and a label column is read "
                       "by engine.data.load (the app's CSV… choice)")


def image_files(root: str | Path, input_shape=None, verify: bool = True):
    """(train, val-or-None, classes, input_shape, skipped) for a folder or CSV file. A folder
    with ``train/`` and ``val/`` (or ``test/``) sub-folders keeps that split."""
    root = Path(root).expanduser()
    val_paths = val_labels = None
    if root.suffix.lower() == ".csv":
        paths, labels, classes = scan_csv(root)
    elif root.is_dir() and (root / "train").is_dir() and any((root / v).is_dir() for v in ("val", "test")):
        paths, labels, classes = scan_folder(root / "train")
        val_dir = root / "val" if (root / "val").is_dir() else root / "test"
        val_paths, val_labels, val_classes = scan_folder(val_dir)
        if val_classes != classes:
            raise DatasetError(f"{val_dir} has classes {val_classes} but {root / 'train'} has {classes}; "
                               "both need the same class folders")
    else:
        paths, labels, classes = scan_folder(root)
    skipped, example = 0, None
    if verify:
        paths, labels, skipped, example = _drop_unreadable(paths, labels)
        if val_paths is not None:
            val_paths, val_labels, more, val_example = _drop_unreadable(val_paths, val_labels)
            skipped += more
            example = example or val_example
    if not paths:
        raise DatasetError(no_image_decoded(skipped, root, example))
    shape = tuple(input_shape) if input_shape else _natural_shape(paths)
    if len(shape) != 3:
        raise DatasetError(f"images are 2-D but the design takes input of shape {shape}")
    train = FileImageSet(paths, labels, shape)
    val = FileImageSet(val_paths, val_labels or [], shape) if val_paths else None
    return train, val, classes, shape, skipped


def _drop_unreadable(paths, labels):
    """(readable paths, their labels, how many were dropped, (first dropped file, reason) or None)."""
    keep, example = [], None
    for i, p in enumerate(paths):
        reason = _unreadable_reason(p)
        if reason is None:
            keep.append(i)
        elif example is None:
            example = (p, reason)
    return [paths[i] for i in keep], [labels[i] for i in keep], len(paths) - len(keep), example


def no_image_decoded(count, root: Path, example: tuple[Path, str] | None, what: str = "image file(s)") -> str:
    """The message for a dataset none of whose files decode, naming one of them and why."""
    text = f"none of the {count} {what} under {root} could be decoded"
    if example:
        file, reason = example
        try:
            shown = Path(file).relative_to(root if Path(root).is_dir() else Path(root).parent)
        except ValueError:
            shown = file
        text += f"; e.g. {shown}: {reason}"
        if reason == "the file does not exist" and Path(root).suffix.lower() == ".csv":
            text += f" (the CSV's paths are read relative to its folder {Path(root).parent})"
    return text + f". Expected {FOLDER_FORMAT}, or {CSV_FORMAT}"
