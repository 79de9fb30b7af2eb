"""The Slurm batch script (issue 19, item 2): it parses (`bash -n`), refuses options that would
become shell code, and its srun/torchrun line trains with 2 processes here, with `scontrol` and
`srun` stood in for by one-line scripts (a single node at 127.0.0.1, gloo on the CPU)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from engine.compile import compile_design
from engine.export import export
from engine.export.slurm import SlurmOptionError, SlurmOptions, job_name, sbatch_text, write_sbatch

from .test_export_script import small_design


def test_the_script_parses_and_carries_the_options(tmp_path):
    path = write_sbatch(tmp_path, SlurmOptions(nodes=4, gpus_per_node=8, time="2-00:00:00", partition="gpu-a100",
                                               job_name="resnet50", cpus_per_gpu=6))
    subprocess.run(["bash", "-n", str(path)], check=True)
    text = path.read_text()
    for line in ("#SBATCH --nodes=4", "#SBATCH --gpus-per-node=8", "#SBATCH --time=2-00:00:00",
                 "#SBATCH --partition=gpu-a100", "#SBATCH --cpus-per-task=48", "#SBATCH --job-name=resnet50",
                 "--rdzv-backend=c10d", 'NPROC_PER_NODE="${NPROC_PER_NODE:-8}"'):
        assert line in text
    assert os.access(path, os.X_OK)
    assert "--partition" not in sbatch_text(SlurmOptions())  # the cluster's default partition


@pytest.mark.parametrize("options, words", [
    (SlurmOptions(partition="gpu; rm -rf ~"), "partition"),
    (SlurmOptions(job_name="$(reboot)"), "job name"),
    (SlurmOptions(time="soon"), "time 'soon'"),
    (SlurmOptions(nodes=0), "nodes"),
    (SlurmOptions(gpus_per_node=100), "GPUs per node"),
])
def test_options_that_would_become_shell_code_are_refused(options, words):
    with pytest.raises(SlurmOptionError, match=words):
        sbatch_text(options)


def test_job_names_come_from_any_design_name():
    assert job_name("LeNet-5 (digits)") == "LeNet-5-digits"
    assert job_name("ÄÖ; rm -rf /") == "rm--rf"
    assert job_name("!!!") == "train"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_its_torchrun_line_trains_with_two_processes_here(tmp_path):
    design = small_design()
    data = {"name": "digits", "input_shape": [1, 8, 8], "source": {"name": "digits", "options": {}}}
    folder = tmp_path / "job"
    export(design, compile_design(design), "script", folder, data=data,
           train_config={"optimizer": "sgd", "lr": 0.05, "batch_size": 32, "seed": 3})
    script = write_sbatch(folder, SlurmOptions(gpus_per_node=2))
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "scontrol").write_text("#!/bin/sh\necho 127.0.0.1\n")
    (stubs / "srun").write_text('#!/bin/sh\nwhile [ "${1#--}" != "$1" ]; do shift; done\nexec "$@"\n')
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PATH=f"{stubs}{os.pathsep}{env['PATH']}", PYTHON=sys.executable, SLURM_SUBMIT_DIR=str(folder),
               SLURM_JOB_NODELIST="node1", SLURM_NNODES="1", SLURM_JOB_ID="4242", RDZV_PORT=str(_free_port()),
               OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    proc = subprocess.run(["bash", str(script), "--epochs", "1", "--max-steps", "4"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "weights identical on all ranks" in proc.stdout
    assert (folder / "runs" / "4242" / "checkpoints" / "last.pt").is_file()


def test_the_export_command_writes_the_script_and_the_batch_file(tmp_path, capsys):
    from engine.cli import main
    from engine.persistence import save

    design = small_design()
    save(design, tmp_path / "d.json")
    out = tmp_path / "job"
    assert main(["export", str(tmp_path / "d.json"), "--format", "slurm", "--out", str(out), "--nodes", "2",
                 "--gpus-per-node", "4", "--time", "02:00:00", "--partition", "gpu"]) == 0
    assert "train.sbatch" in capsys.readouterr().out
    text = (out / "train.sbatch").read_text()
    assert "#SBATCH --nodes=2" in text and "#SBATCH --gpus-per-node=4" in text and "#SBATCH --job-name=digits-net" in text
    assert (out / "train.py").is_file()
    subprocess.run(["bash", "-n", str(out / "train.sbatch")], check=True)
    assert main(["export", str(tmp_path / "d.json"), "--format", "slurm", "--out", str(tmp_path / "bad"),
                 "--time", "tomorrow"]) == 2
    assert "time 'tomorrow'" in capsys.readouterr().err and not (tmp_path / "bad").exists()
