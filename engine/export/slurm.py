"""A Slurm batch script beside an exported training script (``export --format slurm``).

``write_sbatch(folder, SlurmOptions(nodes=2, gpus_per_node=4, time="04:00:00"))`` writes
``folder/train.sbatch``: ``sbatch train.sbatch [train.py options]`` asks Slurm for the nodes and
GPUs, then ``srun`` starts one ``torchrun`` per node, and the torchruns meet at a c10d rendezvous
on the job's first node (``--rdzv-endpoint`` from ``scontrol show hostnames``). Each torchrun
starts one process per GPU; ``train.py`` (the exported script) does the rest: NCCL, a
DistributedSampler, rank 0 writing checkpoints into ``runs/<job id>``.

Values reach the script only through :func:`shlex.quote` and a strict check of each option
(a job name of letters, digits and ``-_.``; a partition likewise; the time as Slurm writes it),
so nothing in a design's name or a user's option becomes shell code.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from ..persistence import atomic_write_text

SBATCH_FILE = "train.sbatch"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TIME = re.compile(r"^(\d+-)?\d{1,3}(:\d{2}){0,2}$")  # minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]


class SlurmOptionError(ValueError):
    """An option that cannot go into a batch script, with what it should look like."""


@dataclass(frozen=True)
class SlurmOptions:
    nodes: int = 1
    gpus_per_node: int = 1
    time: str = "01:00:00"
    partition: str = ""          # empty: the cluster's default partition
    cpus_per_gpu: int = 8        # DataLoader workers and the process itself
    job_name: str = "train"
    port: int = 29500            # the rendezvous port on the first node

    def check(self) -> None:
        if not 1 <= self.nodes <= 4096:
            raise SlurmOptionError(f"nodes must be between 1 and 4096, not {self.nodes}")
        if not 1 <= self.gpus_per_node <= 64:
            raise SlurmOptionError(f"GPUs per node must be between 1 and 64, not {self.gpus_per_node}")
        if not 1 <= self.cpus_per_gpu <= 256:
            raise SlurmOptionError(f"CPUs per GPU must be between 1 and 256, not {self.cpus_per_gpu}")
        if not _TIME.match(self.time):
            raise SlurmOptionError(f"time {self.time!r}: write it as Slurm does, e.g. 90, 01:30:00 or 2-00:00:00")
        if self.partition and not _NAME.match(self.partition):
            raise SlurmOptionError(f"partition {self.partition!r}: letters, digits, '-', '_' and '.' only")
        if not _NAME.match(self.job_name):
            raise SlurmOptionError(f"job name {self.job_name!r}: letters, digits, '-', '_' and '.' only")
        if not 1024 <= self.port <= 65535:
            raise SlurmOptionError(f"port must be between 1024 and 65535, not {self.port}")


def job_name(design_name: str) -> str:
    """A Slurm-safe job name from a design's name (anything else becomes '-')."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", design_name).strip("-.")[:64]
    return name if name and name[0].isalnum() else f"train-{name}".rstrip("-")[:64] or "train"


def sbatch_text(options: SlurmOptions) -> str:
    options.check()
    q = shlex.quote
    partition = f"#SBATCH --partition={q(options.partition)}\n" if options.partition else ""
    return f"""#!/bin/bash
# Train the exported network on a Slurm cluster: sbatch {SBATCH_FILE} [train.py options, e.g. --epochs 30]
# One torchrun per node (srun), one process per GPU (torchrun), meeting at a c10d rendezvous on the
# job's first node. Checkpoints and metrics go to runs/<job id>/ beside this script.
#SBATCH --job-name={q(options.job_name)}
#SBATCH --nodes={options.nodes}
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node={options.gpus_per_node}
#SBATCH --cpus-per-task={options.cpus_per_gpu * options.gpus_per_node}
#SBATCH --time={q(options.time)}
{partition}#SBATCH --output=%x-%j.out
set -euo pipefail

# sbatch runs a copy of this file from its spool folder: work where the job was submitted
cd "${{SLURM_SUBMIT_DIR:-$(dirname "$0")}}"
PYTHON="${{PYTHON:-python}}"                    # the Python with torch (activate its environment first)
NPROC_PER_NODE="${{NPROC_PER_NODE:-{options.gpus_per_node}}}"  # one process per GPU
HEAD_NODE="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"
RDZV_PORT="${{RDZV_PORT:-{options.port}}}"
export OMP_NUM_THREADS="${{OMP_NUM_THREADS:-{options.cpus_per_gpu}}}"

srun --kill-on-bad-exit=1 "$PYTHON" -m torch.distributed.run \\
    --nnodes="$SLURM_NNODES" \\
    --nproc-per-node="$NPROC_PER_NODE" \\
    --rdzv-id="$SLURM_JOB_ID" \\
    --rdzv-backend=c10d \\
    --rdzv-endpoint="$HEAD_NODE:$RDZV_PORT" \\
    train.py --out "runs/$SLURM_JOB_ID" "$@"
"""


def write_sbatch(folder, options: SlurmOptions) -> Path:
    """Write ``folder/train.sbatch`` (atomically) and return its path."""
    path = Path(folder) / SBATCH_FILE
    atomic_write_text(path, sbatch_text(options))
    path.chmod(0o755)
    return path
