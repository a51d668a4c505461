"""`framework slurm submit|status|attempt`: run recipes on a Slurm cluster, requeued across time limits."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("slurm", help="submit a recipe to Slurm (N nodes x G GPUs, requeued across time limits), "
                       "show its jobs", description="Render slurm/<command>.sbatch for an allocation and submit it; "
                       "follow a run's jobs, attempts and checkpoints. docs/slurm.md explains the job script.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    _add_submit(actions)
    _add_status(actions)
    _add_attempt(actions)


def _add_submit(actions) -> None:
    s = actions.add_parser(
        "submit", help="render the sbatch script for a recipe and submit it (--dry-run prints it)",
        description="Check the recipe for nodes x ranks, render slurm/<command>.sbatch and submit it with sbatch. "
        "The job asks for SIGUSR2 --signal-lead seconds before its time limit, commits a checkpoint on it and "
        "requeues itself; the script and the log go to RUN_DIR/slurm/. Overrides come right after the recipe.")
    s.add_argument("recipe", help="YAML recipe, e.g. recipes/pretrain/gpt2-tiny.yaml")
    s.add_argument("overrides", nargs="*", help="key=value overrides, passed to every rank")
    s.add_argument("--nodes", type=int, default=1, help="nodes (default 1)")
    s.add_argument("--gpus-per-node", type=int, default=8, help="GPUs per node, one rank each (default 8; 0: CPU)")
    s.add_argument("--tasks-per-node", type=int, help="ranks per node (default: one per GPU, 1 without GPUs)")
    s.add_argument("--cpus-per-task", type=int, help="CPU cores per rank (default: the cluster's)")
    s.add_argument("--partition", help="partition (default: the cluster's)")
    s.add_argument("--time", help="time limit, e.g. 24:00:00 (default: the partition's)")
    s.add_argument("--account", help="account to charge")
    s.add_argument("--job-name", help="job name (default: the run folder's name)")
    s.add_argument("--command", choices=["pretrain", "finetune"], default="pretrain",
                   help="what every rank runs: framework COMMAND RECIPE ... (default pretrain)")
    s.add_argument("--container-image", default="", metavar="IMAGE",
                   help="pyxis/enroot image (docker://ghcr.io#org/framework:TAG, a .sqsh) or an Apptainer .sif")
    s.add_argument("--container-mounts", default="", metavar="SRC:DST[,...]",
                   help="extra container mounts (the submit directory is always mounted)")
    s.add_argument("--env-setup", help="shell line that puts `framework` on PATH on every node (default: "
                   "activate this virtualenv); ignored with a container")
    s.add_argument("--signal-lead", type=int, default=300, metavar="SECONDS",
                   help="warn the job this long before its time limit (default 300)")
    s.add_argument("--max-stalled-restarts", type=int, default=3,
                   help="fail instead of requeueing after this many restarts without a new checkpoint (default 3)")
    s.add_argument("--no-requeue-on-failure", action="store_true",
                   help="requeue only on the warning signal, not when the ranks fail")
    s.add_argument("--sbatch", action="append", default=[], metavar="OPTION",
                   help="extra #SBATCH option, repeatable (e.g. --sbatch=--qos=high)")
    s.add_argument("--template-dir", type=Path, help="folder holding <command>.sbatch (default: slurm/)")
    s.add_argument("--dry-run", action="store_true", help="print the script instead of submitting it")
    s.set_defaults(func=run_submit)


def _add_status(actions) -> None:
    s = actions.add_parser("status", help="show a run's jobs, attempts and checkpoints",
                           description="RUN is a run folder, or a recipe (with overrides) whose run_dir to show.")
    s.add_argument("run", help="run folder or recipe")
    s.add_argument("overrides", nargs="*", help="key=value overrides of the recipe (run_dir=...)")
    s.add_argument("--verify", action="store_true", help="re-hash every checkpoint file against its manifest")
    s.set_defaults(func=run_status)


def _add_attempt(actions) -> None:
    s = actions.add_parser("attempt", help="(called by the job script) log an attempt, apply the requeue guard",
                           description="begin: log where the attempt starts; exit 1 when earlier restarts made "
                           "no progress. end: log how it ended; exit 0 (done), 75 (requeue it) or non-zero (failed).")
    s.add_argument("phase", choices=["begin", "end"])
    s.add_argument("recipe")
    s.add_argument("overrides", nargs="*")
    s.add_argument("--max-stalled-restarts", type=int, default=3)
    s.add_argument("--exit-code", type=int, default=0, help="the training step's exit code (end)")
    s.add_argument("--warned", type=int, default=0, help="1: the warning signal arrived (end)")
    s.add_argument("--cancelled", type=int, default=0, help="1: the job was cancelled (end)")
    s.add_argument("--requeue-on-failure", type=int, default=1, help="1: requeue when the ranks failed (end)")
    s.set_defaults(func=run_attempt)


def run_submit(args: argparse.Namespace) -> int:
    from framework.slurm import runs
    from framework.slurm.render import JobSpec
    from framework.slurm.submit import default_env_setup, submit

    run_dir = runs.resolve_run_dir(args.recipe, args.overrides)
    spec = JobSpec(
        args=(args.recipe, *args.overrides), run_dir=str(run_dir), job_name=args.job_name or run_dir.name,
        command=args.command, nodes=args.nodes, gpus_per_node=args.gpus_per_node, tasks_per_node=args.tasks_per_node,
        cpus_per_task=args.cpus_per_task, time=args.time, partition=args.partition, account=args.account,
        signal_lead_s=args.signal_lead, container_image=args.container_image,
        container_mounts=args.container_mounts,
        env_setup=default_env_setup() if args.env_setup is None else args.env_setup,
        requeue_on_failure=not args.no_requeue_on_failure, max_stalled_restarts=args.max_stalled_restarts,
        extra_sbatch=tuple(args.sbatch),
    )
    submit(spec, dry_run=args.dry_run, template_dir=args.template_dir)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from framework.slurm import runs
    from framework.slurm.status import report

    path = Path(args.run)
    run_dir = path if path.is_dir() else runs.resolve_run_dir(path, args.overrides)
    sys.stdout.write(report(run_dir, verify=args.verify))
    return 0


def run_attempt(args: argparse.Namespace) -> int:
    from framework.slurm import attempts, runs

    run_dir = runs.resolve_run_dir(args.recipe, args.overrides)
    attempt = attempts.Attempt.from_env()
    if args.phase == "begin":
        try:
            attempts.begin(run_dir, attempt, args.max_stalled_restarts)
        except attempts.RequeueLoop as err:
            print(f"error: {err}", file=sys.stderr)
            return attempts.FAILED
        return 0
    return attempts.end(run_dir, attempt, exit_code=args.exit_code, warned=bool(args.warned),
                        cancelled=bool(args.cancelled), requeue_on_failure=bool(args.requeue_on_failure),
                        max_stalled=args.max_stalled_restarts)
