"""The user's own data (issue 15 item 2): CSV tables of numeric features, the procedural 3-D
volumes, download progress; each bad input with a message that names what is wrong."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import Design, data
from engine.data import DatasetError, downloads
from engine.training import TrainConfig, Trainer


def linear_net(features, classes):
    d = Design("mlp", num_classes=classes)
    d.chain(("input", {"shape": [features]}), ("linear", {"out_features": 16}), "relu",
            ("linear", {"out_features": classes}), "output")
    return d


def write_table(path, rows=60, header="a,b,c,species", seed=0):
    rng = np.random.default_rng(seed)
    lines = [header] if header else []
    for i in range(rows):
        kind = ("setosa", "versicolor", "virginica")[i % 3]
        a, b, c = rng.normal(size=3) + (i % 3) * 2
        lines.append(f"{a:.3f},{b:.3f},{c:.3f},{kind}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_numeric_table_last_column_is_the_label(tmp_path):
    b = data.load(str(write_table(tmp_path / "iris.csv")))
    assert b.input_shape == (3,) and b.classes == ["setosa", "versicolor", "virginica"]
    assert b.feature_names == ["a", "b", "c"] and len(b.train) + len(b.val) == 60
    x, y = data.fetch(b.train, torch.arange(len(b.train)))
    assert x.dtype == torch.float32 and x.shape == (len(b.train), 3)
    assert b.mean == pytest.approx(x.mean(0).tolist(), rel=1e-4)  # per feature, from the training part
    assert data.check(b, linear_net(3, 3)) == []
    assert b.describe()["features"] == ["a", "b", "c"]


def test_label_column_found_by_name_and_integer_labels_sorted_as_numbers(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("x1,Target,x2\n" + "".join(f"{i * 0.5},{i % 11},{-i}\n" for i in range(44)))
    b = data.load(str(csv))
    assert b.feature_names == ["x1", "x2"] and b.classes == [str(i) for i in range(11)]
    x, y = data.fetch(b.val, torch.arange(len(b.val)))
    assert torch.equal(y, (x[:, 0] * 2).round().long() % 11)  # each row keeps its own label


def test_table_without_header_names_its_columns(tmp_path):
    b = data.load(str(write_table(tmp_path / "t.csv", header=None)))
    assert b.feature_names == ["column 1", "column 2", "column 3"] and b.num_classes == 3


def test_table_reshaped_for_a_conv1d_design(tmp_path):
    path = str(write_table(tmp_path / "t.csv"))
    conv = Design("c", num_classes=3)
    conv.chain(("input", {"shape": [1, 3]}), ("conv1d", {"out_channels": 4, "kernel": 3, "padding": 1}), "flatten",
               ("linear", {"out_features": 3}), "output")
    b = data.load(path)
    problem, = data.check(b, conv)
    assert problem.code == "input_shape" and "reshape" in problem.fix
    fitted = data.adapt(b, (1, 3))
    assert fitted.input_shape == (1, 3) and torch.equal(fitted.train.x[:, 0], b.train.x)
    assert data.check(fitted, conv) == [] and data.load(path, input_shape=(1, 3)).input_shape == (1, 3)


def test_table_with_other_feature_count_says_what_input_shape_to_set(tmp_path):
    b = data.load(str(write_table(tmp_path / "t.csv")))
    problem = data.check(b, linear_net(5, 3))[0]
    assert problem.severity == "error" and problem.code == "input_features"
    assert "3 feature column(s)" in problem.message and "set the Input shape to 3" in problem.fix
    with pytest.raises(DatasetError, match="3 feature column"):
        data.adapt(b, (5,))
    classes = data.check(b, linear_net(3, 5))  # more outputs than classes: a warning
    assert [p.code for p in classes] == ["num_classes"] and "out_features to 3" in classes[0].fix


@pytest.mark.parametrize("text, message", [
    ("a,b,label\n1,2,x\n3,hello,y\n5,6,x\n", "line 3: the feature column 'b' holds the text 'hello'"),
    ("a,b,label\n1,2,x\n3,,y\n5,6,x\n", "line 3: the feature column 'b' is empty"),
    ("a,b,label\n1,2,x\n3,4\n", "line 3: 2 value\\(s\\) but the table has 3 column"),
    ("a,b,label\n1,2,x\n3,4,x\n", "names one class only \\(x\\)"),
    ("a,b,label\n1,2,x\n3,4,\n", "line 3: the label column 'label' is empty"),
    ("a,b,label\n1,inf,x\n3,4,y\n", "holds 'inf'; features must be finite"),
    ("label\nx\ny\n", "has no data rows|one column only"),
    ("city,size,label\nParis,2,x\nRome,3,y\n", "line 2: the feature column 'city' holds the text 'Paris'"),
])
def test_bad_tables_name_the_column_and_line(tmp_path, text, message):
    csv = tmp_path / "bad.csv"
    csv.write_text(text)
    with pytest.raises(DatasetError, match=message):
        data.load(str(csv))


def test_image_paths_that_are_not_there_are_pointed_out(tmp_path):
    (tmp_path / "x.csv").write_text("photos/a,cat\nphotos/b,dog\n")
    with pytest.raises(DatasetError, match="column 1.*'photos/a'.*names image files.*relative to"):
        data.load(str(tmp_path / "x.csv"))


def test_volumes_are_small_seeded_3d_shapes():
    b = data.load("volumes", options={"n": 120})
    assert b.input_shape == (1, 16, 16, 16) and b.classes == ["sphere", "cube", "rod"]
    again, other = data.load("volumes", options={"n": 120}), data.load("volumes", options={"n": 120, "seed": 3})
    assert torch.equal(b.train.x, again.train.x) and not torch.equal(b.train.x, other.train.x)
    x, y = data.fetch(b.train, torch.arange(len(b.train)))
    filled = (x > 0.5).float().mean((1, 2, 3, 4))
    assert filled[y == 2].mean() < filled[y == 1].mean()  # a rod fills less than a cube of its size
    assert data.load("volumes", input_shape=(1, 12, 12, 12), options={"n": 30}).input_shape == (1, 12, 12, 12)
    resized = data.adapt(b, (1, 8, 8, 8))  # trilinear
    assert tuple(resized.train.x.shape[1:]) == (1, 8, 8, 8)


def test_a_conv3d_design_trains_an_epoch_on_the_volumes():
    d = Design("voxnet", num_classes=3)
    d.chain(("input", {"shape": [1, 16, 16, 16]}), ("conv3d", {"out_channels": 4, "kernel": 3, "padding": 1}),
            "relu", ("maxpool3d", {"kernel": 2}), "flatten", ("linear", {"out_features": 3}), "output")
    bundle = data.load("volumes", options={"n": 150})
    assert data.check(bundle, d) == []
    done = Trainer(d, TrainConfig(epochs=1, batch_size=16, lr=3e-3, num_threads=1), dataset=bundle).run()
    assert done.reason == "completed" and len(done.history) == 1
    assert np.isfinite(done.history[0]["val_loss"])


def test_offline_message_names_every_offline_set(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "online", lambda urls, timeout=3.0: False)
    with pytest.raises(DatasetError, match="no network connection.*digits, shapes, signal, volumes"):
        data.load("mnist", root=tmp_path)


def test_download_progress_reaches_the_callback(tmp_path, monkeypatch):
    import torchvision.datasets as tvd
    import torchvision.datasets.utils as tv_utils

    class FakeMNIST:  # a download of two files of 1 MB through torchvision's progress bar
        def __init__(self, root, train=True, download=False):
            if not download:
                raise RuntimeError("Dataset not found")
            for _ in range(2):
                with tv_utils.tqdm(total=1_000_000, unit="B") as bar:
                    for _ in range(10):
                        bar.update(100_000)
            self.data, self.targets = torch.zeros(4, 28, 28, dtype=torch.uint8), [0, 1, 2, 3]

    bar = tv_utils.tqdm
    monkeypatch.setattr(tvd, "MNIST", FakeMNIST)
    monkeypatch.setattr(downloads, "online", lambda urls, timeout=3.0: True)
    heard = []
    full, classes = downloads.load_torchvision("mnist", tmp_path, lambda f, m: heard.append((f, m)))
    assert heard[0] == (0.0, "checking the network to download mnist…")
    assert heard[-1] == (1.0, "downloading mnist: 1.0 of 1.0 MB") and len(heard) == 21
    assert tuple(full.x.shape) == (4, 1, 28, 28)
    assert tv_utils.tqdm is bar  # torchvision's own bar is put back


def test_augmentations_on_tables_and_volumes_say_what_they_support():
    from engine.data import Augment

    with pytest.raises(DatasetError, match="table's features have no neighbours"):
        Augment(hflip=0.5)(torch.rand(4, 3))
    volume = torch.rand(4, 1, 6, 6, 6)
    assert torch.equal(Augment(hflip=1.0)(volume), volume.flip(-1))
    assert torch.equal(Augment(vflip=1.0)(volume), volume.flip(-2))
    with pytest.raises(DatasetError, match="only the flips are supported, not crop_padding, rotation"):
        Augment(crop_padding=2, rotation=10)(volume)


def test_designs_train_on_a_table_fully_connected_and_conv1d(tmp_path):
    path = str(write_table(tmp_path / "t.csv", rows=150))
    bundle = data.load(path)
    config = TrainConfig(epochs=15, batch_size=16, lr=1e-2, num_threads=1)
    done = Trainer(linear_net(3, 3), config, dataset=bundle).run()
    assert done.reason == "completed" and done.history[-1]["val_accuracy"] >= 0.8  # chance: 1/3
    conv = Design("c", num_classes=3)
    conv.chain(("input", {"shape": [1, 3]}), ("conv1d", {"out_channels": 8, "kernel": 3, "padding": 1}), "relu",
               "flatten", ("linear", {"out_features": 3}), "output")
    done = Trainer(conv, TrainConfig(epochs=1, batch_size=16, num_threads=1), dataset=bundle).run()  # reshaped
    assert done.reason == "completed" and np.isfinite(done.history[0]["val_loss"])
