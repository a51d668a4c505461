"""Render an sbatch script from a template in slurm/.

A template is a script you can also sbatch by hand. Rendering replaces two things and keeps the
rest verbatim: the block of `#SBATCH` lines (written from the `JobSpec`) and the settings lines
`NAME=...` below it (COMMAND, ENV_SETUP, CONTAINER_IMAGE, ...), plus the default recipe line.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from framework.config import ConfigError

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "slurm"
COMMANDS = ("pretrain", "finetune")
DEFAULT_ARGS_RE = re.compile(r"^if \[ \$# -eq 0 \]; then set -- .*; fi$", re.M)


@dataclass(frozen=True)
class JobSpec:
    """Everything a rendered script depends on.

    Args:
        args: the recipe and its key=value overrides, passed to `framework <command>` on every rank.
        run_dir: the run folder (the log goes to RUN_DIR/slurm/<job name>-<job id>.out).
        command: pretrain | finetune; picks slurm/<command>.sbatch.
        nodes, gpus_per_node: the allocation; 0 GPUs runs CPU ranks (gloo).
        tasks_per_node: ranks per node; defaults to one per GPU (one per node without GPUs).
        time: time limit (sbatch --time), e.g. 24:00:00; the partition's default when unset.
        signal_lead_s: seconds before the limit at which the job is warned (--signal=B:USR2@...).
        container_image: pyxis/enroot image or Apptainer .sif; empty runs in ENV_SETUP's environment.
        env_setup: shell line that puts `framework` on PATH (ignored with a container).
        max_stalled_restarts: restarts in a row without a new checkpoint before the job fails.
        extra_sbatch: more #SBATCH options, e.g. ("--qos=high", "--constraint=h100").
    """

    args: tuple[str, ...]
    run_dir: str
    job_name: str
    command: str = "pretrain"
    nodes: int = 1
    gpus_per_node: int = 8
    tasks_per_node: int | None = None
    cpus_per_task: int | None = None
    time: str | None = None
    partition: str | None = None
    account: str | None = None
    signal_lead_s: int = 300
    container_image: str = ""
    container_mounts: str = ""
    env_setup: str = ""
    requeue_on_failure: bool = True
    max_stalled_restarts: int = 3
    extra_sbatch: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.command not in COMMANDS:
            raise ConfigError(f"command '{self.command}' has no template; use one of {', '.join(COMMANDS)}.")
        if self.nodes < 1 or self.gpus_per_node < 0 or self.ranks_per_node < 1:
            raise ConfigError("--nodes and --tasks-per-node must be >= 1 and --gpus-per-node >= 0.")
        if self.signal_lead_s < 1 or self.max_stalled_restarts < 0:
            raise ConfigError("--signal-lead must be >= 1 s and --max-stalled-restarts >= 0.")

    @property
    def ranks_per_node(self) -> int:
        return self.tasks_per_node or self.gpus_per_node or 1

    @property
    def world_size(self) -> int:
        return self.nodes * self.ranks_per_node


def sbatch_lines(spec: JobSpec) -> list[str]:
    options = [f"--job-name={spec.job_name}", f"--nodes={spec.nodes}", f"--ntasks-per-node={spec.ranks_per_node}"]
    if spec.gpus_per_node:
        options += [f"--gpus-per-node={spec.gpus_per_node}", "--exclusive", "--mem=0"]
    if spec.cpus_per_task:
        options.append(f"--cpus-per-task={spec.cpus_per_task}")
    options += [f"--{name}={value}" for name, value in
                (("time", spec.time), ("partition", spec.partition), ("account", spec.account)) if value]
    options += [f"--signal=B:USR2@{spec.signal_lead_s}", "--requeue", "--open-mode=append",
                f"--output={Path(spec.run_dir) / 'slurm' / '%x-%j.out'}"]
    options += [o if o.startswith("-") else f"--{o}" for o in spec.extra_sbatch]
    return [f"#SBATCH {o}" for o in options]


def settings(spec: JobSpec) -> dict[str, str]:
    return {
        "COMMAND": spec.command,
        "ENV_SETUP": "" if spec.container_image else spec.env_setup,
        "CONTAINER_IMAGE": spec.container_image,
        "CONTAINER_MOUNTS": spec.container_mounts,
        "REQUEUE_ON_FAILURE": "1" if spec.requeue_on_failure else "0",
        "MAX_STALLED_RESTARTS": str(spec.max_stalled_restarts),
    }


def template_path(command: str, template_dir: Path | None = None) -> Path:
    for folder in (template_dir, TEMPLATE_DIR, Path.cwd() / "slurm"):
        if folder is not None and (folder / f"{command}.sbatch").exists():
            return folder / f"{command}.sbatch"
    raise ConfigError(f"no slurm/{command}.sbatch next to the framework's sources or in this directory; "
                      f"run from a checkout of the repository or pass --template-dir.")


def render(spec: JobSpec, template: str) -> str:
    lines = template.splitlines()
    block = [i for i, line in enumerate(lines) if line.startswith("#SBATCH ")]
    if not block or block != list(range(block[0], block[-1] + 1)):
        raise ConfigError("the template needs one contiguous block of #SBATCH lines.")
    text = "\n".join(lines[:block[0]] + sbatch_lines(spec) + lines[block[-1] + 1:]) + "\n"
    for name, value in settings(spec).items():
        text = _replace_line(text, re.compile(rf"^{name}=.*$", re.M), f"{name}={_quote(value)}", name)
    default = f"if [ $# -eq 0 ]; then set -- {shlex.join(spec.args)}; fi"
    return _replace_line(text, DEFAULT_ARGS_RE, default, "the default recipe line")


def render_file(spec: JobSpec, template_dir: Path | None = None) -> str:
    return render(spec, template_path(spec.command, template_dir).read_text(encoding="utf-8"))


def _replace_line(text: str, pattern: re.Pattern, line: str, what: str) -> str:
    new, count = pattern.subn(lambda _: line, text)
    if count != 1:
        raise ConfigError(f"the template must set {what} on exactly one line (found {count}).")
    return new


def _quote(value: str) -> str:
    return shlex.quote(value) if value else ""
