"""The rendered job script's own logic, run by bash against stub Slurm commands (no cluster, seconds):
rendezvous address, container launch lines, and the warning -> SIGTERM -> requeue path."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from framework.slurm.render import JobSpec, render_file

STUBS = {
    # scontrol: one node list, a NodeAddr for it, and a logged requeue.
    "scontrol": """case "$1 $2" in
  "show hostnames") echo node1; echo node2 ;;
  "show node") echo "NodeName=$3 Arch=x86_64 CoresPerSocket=8 NodeAddr=10.0.0.1 NodeHostName=host1" ;;
  *) log scontrol "$@" ;;
esac""",
    "getent": "exit 2",  # node1 is not in DNS
    # srun: log the command line, then run it (a training step waits for SIGTERM like the ranks do).
    "srun": """log srun "$@"
if [ -n "$STUB_TRAIN_EXIT" ] && [[ " $* " == *" pretrain "* ]]; then exit "$STUB_TRAIN_EXIT"; fi
if [ "$STUB_TRAIN_WAITS" = 1 ] && [[ " $* " == *" pretrain "* ]]; then
  trap 'kill $! 2> /dev/null; log ranks got SIGTERM; exit 0' TERM
  echo $$ > "$STUB_DIR/srun.pid"
  sleep 60 & wait
  exit 0
fi
while [[ "$1" == -* ]]; do shift; done
"$@\"""",
    "scancel": 'log scancel "$@"; kill -TERM "$(cat "$STUB_DIR/srun.pid")"',
    "apptainer": """log apptainer "$@"
shift; while [[ "$1" == -* ]]; do [[ "$1" == --nv ]] && shift || shift 2; done; shift  # options, image
"$@\"""",
    # framework: `attempt end` answers 75 (requeue) after a warning, else 0.
    "framework": """log framework "$@"
if [[ " $* " == *" attempt end "* && " $* " == *" --warned 1 "* ]]; then exit 75; fi""",
}


@pytest.fixture
def stubs(tmp_path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in STUBS.items():
        path = bin_dir / name
        path.write_text(f'#!/bin/bash\nlog() {{ echo "$*" >> "$STUB_DIR/calls"; }}\n{body}\n')
        path.chmod(0o755)
    return tmp_path


def run_script(stub_dir: Path, spec: JobSpec, warn_after_start: bool = False,
               train_exit: str = "") -> tuple[int, str, list[str]]:
    script = stub_dir / "job.sbatch"
    script.write_text(render_file(spec))
    env = {**os.environ, "PATH": f"{stub_dir / 'bin'}:{os.environ['PATH']}", "STUB_DIR": str(stub_dir),
           "SLURM_JOB_ID": "42", "SLURM_JOB_NODELIST": "node[1-2]", "STUB_TRAIN_WAITS": str(int(warn_after_start)), "STUB_TRAIN_EXIT": train_exit}
    env.pop("SLURM_RESTART_COUNT", None)
    proc = subprocess.Popen(["bash", str(script)], cwd=stub_dir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if warn_after_start:
        deadline = time.time() + 30
        while not (stub_dir / "srun.pid").exists():
            assert time.time() < deadline and proc.poll() is None, proc.communicate()[0]
            time.sleep(0.05)
        proc.send_signal(signal.SIGUSR2)  # what --signal=B:USR2@300 does
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out, (stub_dir / "calls").read_text().splitlines()


def spec(**kw) -> JobSpec:
    return JobSpec(args=("recipes/pretrain/gpt2-tiny.yaml", "train.max_steps=9"), run_dir="runs/t", job_name="t",
                   gpus_per_node=0, **kw)


def test_plain_job_rendezvous_and_launch(stubs):
    code, out, calls = run_script(stubs, spec())
    assert code == 0, out
    assert "rendezvous at 10.0.0.1:" in out  # NodeAddr of the first node, since DNS does not know it
    assert calls[0] == "framework slurm attempt begin recipes/pretrain/gpt2-tiny.yaml train.max_steps=9 " \
                       "--max-stalled-restarts 3"
    assert calls[1] == "srun --kill-on-bad-exit=1 --label framework pretrain recipes/pretrain/gpt2-tiny.yaml " \
                       "train.max_steps=9"
    assert calls[2] == "framework pretrain recipes/pretrain/gpt2-tiny.yaml train.max_steps=9"
    assert calls[3].startswith("framework slurm attempt end recipes/pretrain/gpt2-tiny.yaml train.max_steps=9 "
                               "--exit-code 0 --warned 0 --cancelled 0 --requeue-on-failure 1")
    assert not any(c.startswith("scontrol") for c in calls)


def test_warning_becomes_sigterm_for_the_ranks_then_a_requeue(stubs):
    code, out, calls = run_script(stubs, spec(), warn_after_start=True)
    assert code == 0, out
    assert "SIGUSR2: time limit or preemption ahead" in out
    assert "scancel --signal=TERM 42" in calls and "ranks got SIGTERM" in calls
    assert any(c.startswith("framework slurm attempt end") and "--exit-code 0 --warned 1" in c for c in calls)
    assert calls[-1] == "scontrol requeue 42"


def test_a_step_killed_by_a_signal_reports_its_own_exit_code(stubs):
    code, out, calls = run_script(stubs, spec(), train_exit="137")
    assert code == 0, out  # the `framework` stub answers 0 (done) to `attempt end`
    assert any(c.startswith("framework slurm attempt end") and "--exit-code 137 --warned 0" in c for c in calls)


def test_pyxis_container(stubs):
    code, out, calls = run_script(stubs, spec(container_image="ghcr.io#org/framework:1", container_mounts="/data:/data"))
    assert code == 0, out
    container = f"--container-image=ghcr.io#org/framework:1 --container-workdir={stubs} " \
                f"--container-mounts={stubs}:{stubs},/data:/data"
    # the bookkeeping runs in the image too, as a one-task step
    assert calls[0] == f"srun --nodes=1 --ntasks=1 --kill-on-bad-exit=1 --label {container} framework slurm " \
                       f"attempt begin recipes/pretrain/gpt2-tiny.yaml train.max_steps=9 --max-stalled-restarts 3"
    assert f"srun --kill-on-bad-exit=1 --label {container} framework pretrain recipes/pretrain/gpt2-tiny.yaml " \
           f"train.max_steps=9" in calls


def test_apptainer_container(stubs):
    code, out, calls = run_script(stubs, spec(container_image="/images/framework.sif"))
    assert code == 0, out
    prefix = f"apptainer exec --nv --bind {stubs} --pwd {stubs} /images/framework.sif"
    assert calls[0] == f"{prefix} framework slurm attempt begin recipes/pretrain/gpt2-tiny.yaml train.max_steps=9 " \
                       f"--max-stalled-restarts 3"
    assert f"srun --kill-on-bad-exit=1 --label {prefix} framework pretrain recipes/pretrain/gpt2-tiny.yaml " \
           f"train.max_steps=9" in calls
