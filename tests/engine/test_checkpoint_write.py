"""Checkpoints are written through a Python file (issue 15 item 8): given a path, torch's C++
writer keeps the GIL while it writes the tensors, 23 ms (up to 52) for a ResNet-18 checkpoint,
and the app's UI thread stalled that long at every epoch's end; through a file each write lets
go of the GIL for the system call."""
import io

import torch

from engine.training import rundir


def test_a_checkpoint_is_written_through_a_file_and_reads_back(tmp_path, monkeypatch):
    targets, real_save = [], torch.save

    def recording_save(obj, f, *args, **kwargs):
        targets.append(f)
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", recording_save)
    checkpoint = {"format": rundir.CHECKPOINT_FORMAT, "model": {"w": torch.arange(6.0).reshape(2, 3)}, "epoch": 3}
    path = tmp_path / "checkpoints" / "last.pt"
    path.parent.mkdir()
    rundir.save_checkpoint(path, checkpoint)
    assert len(targets) == 1 and isinstance(targets[0], io.IOBase), targets
    back = rundir.load_checkpoint(path)
    assert torch.equal(back["model"]["w"], checkpoint["model"]["w"]) and back["epoch"] == 3
