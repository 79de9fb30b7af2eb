"""Datasets: built-in sets, splits, normalisation, adaptation, user folders/CSV, augmentations."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine import Design, data
from engine.data import Augment, DatasetError, downloads


def classifier(shape, classes):
    d = Design("t", num_classes=classes)
    d.chain(("input", {"shape": list(shape)}), "flatten", ("linear", {"out_features": classes}), "output")
    return d


def test_bundled_digits_are_the_uci_set():
    b = data.load("digits")
    assert b.input_shape == (1, 8, 8) and b.classes == [str(i) for i in range(10)]
    assert len(b.train) + len(b.val) == 1797 and abs(len(b.val) - 359) <= 1
    x, y = data.fetch(b.train, torch.arange(len(b.train)))
    assert 0 <= x.min() and x.max() <= 1 and set(y.tolist()) == set(range(10))
    assert b.mean[0] == pytest.approx(x.mean().item(), rel=1e-4)  # normalisation from the training part
    assert b.std[0] == pytest.approx(x.std().item(), rel=1e-3)


def test_split_is_seeded_and_disjoint():
    a, b, c = data.load("digits", seed=1), data.load("digits", seed=1), data.load("digits", seed=2)
    assert torch.equal(a.val.x, b.val.x) and not torch.equal(a.val.x, c.val.x)
    train = {bytes(t.numpy()) for t in a.train.x}
    assert len(a.val) == len(data.load("digits", val_fraction=0.2).val)
    assert sum(bytes(t.numpy()) in train for t in a.val.x) < 10  # only true duplicate images may repeat


def test_shapes_any_size_and_channels_seeded():
    b = data.load("shapes", options={"n": 200, "size": [20, 28], "channels": 3})
    assert b.input_shape == (3, 20, 28) and b.num_classes == 4 and len(b.mean) == 3
    again = data.load("shapes", options={"n": 200, "size": [20, 28], "channels": 3})
    other = data.load("shapes", options={"n": 200, "size": [20, 28], "channels": 3, "seed": 5})
    assert torch.equal(b.train.x, again.train.x) and not torch.equal(b.train.x, other.train.x)
    assert data.load("shapes", input_shape=(1, 16, 16), options={"n": 50}).input_shape == (1, 16, 16)


def test_signal_hides_a_pattern_in_noise():
    b = data.load("signal", input_shape=(1, 48), options={"n": 400})
    assert b.input_shape == (1, 48) and b.classes == ["none", "pulse", "wave", "ramp"]
    x, y = data.fetch(b.train, torch.arange(len(b.train)))
    pulse, none = x[y == 1], x[y == 0]
    assert pulse.max(-1).values.mean() > none.max(-1).values.mean() + 0.3


def test_adapt_resizes_and_converts_channels():
    b = data.adapt(data.load("digits"), (3, 32, 32))
    assert b.input_shape == (3, 32, 32) and tuple(b.train.x.shape[1:]) == (3, 32, 32) and len(b.mean) == 3
    with pytest.raises(DatasetError, match="2-D .* 1-D input"):
        data.adapt(data.load("digits"), (1, 64))


def test_check_against_the_design():
    b = data.load("digits")
    assert data.check(b, classifier((1, 8, 8), 10)) == []
    size = data.check(b, classifier((1, 32, 32), 10))
    assert [p.code for p in size] == ["input_shape"] and "resize" in size[0].fix
    classes = data.check(b, classifier((1, 8, 8), 4))
    assert classes[0].severity == "error" and "out_features to 10" in classes[0].fix
    rank = data.check(b, classifier((1, 64), 10))
    assert rank[0].code == "input_rank" and rank[0].severity == "error"


def test_preview_gives_numpy_images_and_labels():
    images, labels = data.load("digits").preview(6)
    assert isinstance(images, np.ndarray) and images.shape == (6, 1, 8, 8) and labels.shape == (6,)


def _png(path, value, size=(12, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size, value, np.uint8)).save(path)


def test_image_folder_skips_and_counts_undecodable_files(tmp_path):
    for i in range(6):
        _png(tmp_path / "cat" / f"{i}.png", 30 + i)
        _png(tmp_path / "dog" / f"{i}.png", 200 + i)
    (tmp_path / "dog" / "broken.png").write_bytes(b"not a png at all")
    b = data.load(str(tmp_path))
    assert b.classes == ["cat", "dog"] and b.skipped == 1 and b.input_shape == (1, 12, 10)
    assert len(b.train) + len(b.val) == 12
    assert any(p.code == "undecodable" for p in data.check(b, classifier((1, 12, 10), 2)))
    resized = data.load(str(tmp_path), input_shape=(3, 8, 8))
    x, y = data.fetch(resized.train, torch.arange(len(resized.train)))
    assert x.shape[1:] == (3, 8, 8) and ((x.mean((1, 2, 3)) > 0.5) == (y == 1)).all()


def test_csv_of_paths_and_labels(tmp_path):
    for i in range(4):
        _png(tmp_path / "img" / f"a{i}.png", 10)
        _png(tmp_path / "img" / f"b{i}.png", 250)
    rows = ["path,label"] + [f"img/a{i}.png,low" for i in range(4)] + [f"img/b{i}.png,high" for i in range(4)]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\nimg/missing.png,low\n")
    b = data.load(str(tmp_path / "labels.csv"))
    assert b.classes == ["high", "low"] and b.skipped == 1 and len(b.train) + len(b.val) == 8


@pytest.mark.parametrize("layout, message", [
    ("missing", "does not exist"),
    ("file", "is not a folder"),
    ("loose", "no class sub-folders (it holds 2 image"),
    ("empty", "hold no images"),
    ("one_class", "one class only"),
    ("bad_csv", "data row 2"),
    ("unknown_name", "unknown dataset"),
])
def test_bad_dataset_folders_give_clear_errors(tmp_path, layout, message):
    target = tmp_path / "data"
    if layout == "file":
        target.write_text("x")
    elif layout == "loose":
        _png(target / "1.png", 1)
        _png(target / "2.png", 2)
    elif layout == "empty":
        (target / "cat").mkdir(parents=True)
        (target / "dog").mkdir()
    elif layout == "one_class":
        _png(target / "cat" / "1.png", 1)
    elif layout == "bad_csv":
        target = tmp_path / "x.csv"
        target.write_text("a.png,cat\nonly-one-column\n")
    elif layout == "unknown_name":
        target = "imagenet-22k"
    with pytest.raises(DatasetError, match=message.replace("(", r"\(")):
        data.load(str(target))


def test_download_without_network_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "online", lambda urls, timeout=3.0: False)
    with pytest.raises(DatasetError, match="no network connection.*digits, shapes, signal"):
        data.load("fashion-mnist", root=tmp_path)


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWORK_DESIGNER_DATA", str(tmp_path))
    assert data.cache_dir() == tmp_path


def test_augmentations_keep_shape_and_range():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 16, 16)
    every = Augment.from_dict({"hflip": 0.5, "vflip": 0.5, "crop_padding": 2, "rotation": 20, "translate": 0.1,
                               "scale": [0.8, 1.2], "shear": 10, "stretch": 0.1, "brightness": 0.3,
                               "contrast": 0.3, "saturation": 0.3})
    out = every(x)
    assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1 and not torch.equal(out, x)
    assert torch.equal(Augment(hflip=1.0)(x), x.flip(-1))
    shifted = Augment(crop_padding=3)(x)
    assert shifted.shape == x.shape
    assert torch.equal(Augment()(x), x)
    signal = torch.rand(4, 1, 40)
    assert Augment(translate=0.1, hflip=0.5)(signal).shape == signal.shape
    with pytest.raises(DatasetError, match="unknown augmentation"):
        Augment.from_dict({"mixup": 0.2})
