"""Check a recipe for the allocation, render its script and hand it to sbatch.

Everything that can be known before the job starts is checked here, on the login node: the recipe
and its overrides, that the global batch divides over nodes x ranks, and that data read by several
nodes is prepared already (no rank may prepare it on one node for the others to find).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from framework.config import ConfigError
from framework.slurm import queue, runs
from framework.slurm.render import JobSpec, render_file


def check_recipe(command: str, recipe: str, overrides: list[str], nodes: int, world_size: int) -> list[str]:
    """Raise ConfigError for a recipe that cannot run on `world_size` ranks; return the problems only the
    cluster would reveal (data that is not there): `submit` refuses them, `--dry-run` prints them."""
    if command == "finetune":
        return _check_finetune(recipe, overrides, nodes, world_size)
    from framework.training.config import load_pretrain_config
    from framework.training.validate import validate

    cfg = load_pretrain_config(recipe, overrides)
    validate(cfg)
    cfg.grad_accum(world_size)  # the global batch must divide over every rank
    return _data_problems(cfg.data.path, cfg.data.recipe, nodes)


def _data_problems(data_path: str, data_recipe: str | None, nodes: int) -> list[str]:
    """Data every node reads must exist before the job: the trainer's on-the-fly preparation (rank 0
    runs data.recipe, the others wait) writes on one node only."""
    if (Path(data_path) / "index.json").exists():
        return []
    prepare = f"framework data prepare {data_recipe or 'RECIPE'} prepare.out_dir={data_path}"
    if not data_recipe:
        return [f"data.path={data_path} has no index.json and data.recipe is unset: the job would fail at start. "
                f"Prepare the data first ({prepare})."]
    if nodes > 1:
        return [f"data.path={data_path} has no index.json yet. On {nodes} nodes, prepare it before submitting "
                f"({prepare}) into a folder every node reads: preparing it inside the job writes it on one node only."]
    return []


def _check_finetune(recipe: str, overrides: list[str], nodes: int, world_size: int) -> list[str]:
    """Every fine-tuning rank loads model.init_from and data.dataset itself: from the Hub, that is a
    download per rank into caches nodes may share; on several nodes, fetch them once beforehand."""
    from framework.finetune.config import load_finetune_config
    from framework.finetune.runner import validate

    cfg = load_finetune_config(recipe, overrides)
    validate(cfg)
    cfg.grad_accum(world_size)
    if nodes == 1 or os.environ.get("HF_HUB_OFFLINE") == "1":
        return []
    remote = [f"{key}={value}" for key, value in (("model.init_from", cfg.model.init_from),
                                                   ("data.dataset", cfg.data.dataset)) if not Path(value).exists()]
    if not remote:
        return []
    return [f"{' and '.join(remote)} would be downloaded from the Hub by each of the {world_size} ranks on {nodes} "
            f"nodes. Download once into a folder every node reads (hf download ID --local-dir DIR) and point the "
            f"recipe at it, or fill an HF_HOME every node reads and submit with HF_HUB_OFFLINE=1."]


def default_env_setup() -> str:
    """`source <venv>/bin/activate` for the virtualenv running this command (relative when under the
    current directory); empty outside a virtualenv, where `framework` must be on every node's PATH."""
    prefix = Path(sys.prefix)
    if prefix == Path(sys.base_prefix):
        return ""
    try:
        prefix = prefix.relative_to(Path.cwd())
    except ValueError:
        pass
    return f"source {shlex.quote(str(prefix / 'bin' / 'activate'))}"


def submit(spec: JobSpec, *, dry_run: bool, template_dir: Path | None = None) -> str | None:
    """Print the script (dry run) or submit it; returns the job id when submitted."""
    warnings = check_recipe(spec.command, spec.args[0], list(spec.args[1:]), spec.nodes, spec.world_size)
    script = render_file(spec, template_dir)
    if dry_run:
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        sys.stdout.write(script)
        return None
    if warnings:
        raise ConfigError(" ".join(warnings))
    folder = runs.slurm_dir(Path(spec.run_dir))
    folder.mkdir(parents=True, exist_ok=True)  # sbatch does not create the log's folder
    pending = folder / "submitting.sbatch"
    pending.write_text(script, encoding="utf-8")
    job_id = queue.sbatch(pending)
    kept = pending.rename(folder / f"{job_id}.sbatch")
    runs.append_record(runs.jobs_file(Path(spec.run_dir)), {
        "job_id": job_id, "script": str(kept), "command": spec.command, "args": list(spec.args),
        "nodes": spec.nodes, "ranks_per_node": spec.ranks_per_node, "gpus_per_node": spec.gpus_per_node,
    })
    log = folder / f"{spec.job_name}-{job_id}.out"
    print(f"submitted job {job_id}: {spec.nodes} node(s) x {spec.ranks_per_node} rank(s), log {log}")
    print(f"follow it with: framework slurm status {spec.run_dir}")
    return job_id
