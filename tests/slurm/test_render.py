"""Rendering and submission checks, no cluster: the scripts docs/slurm.md shows are exactly what
`framework slurm submit --dry-run` prints (golden), and what submit refuses before any job exists.

After changing a template on purpose, rewrite the docs' scripts with `python -m tests.slurm.test_render`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from framework.cli.main import main
from framework.config import ConfigError
from framework.slurm.render import JobSpec, render, render_file, template_path
from framework.slurm.submit import default_env_setup

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "slurm.md"
GOLDEN = re.compile(r"<!-- golden: (?P<name>[\w-]+) -->\n```console\n\$ (?P<cmd>.*?)\n```\n\n```bash\n"
                    r"(?P<script>.*?)```", re.S)


def golden_blocks() -> dict[str, tuple[str, str]]:
    return {m["name"]: (m["cmd"], m["script"]) for m in GOLDEN.finditer(DOC.read_text())}


def dry_run(cmd: str) -> str:
    argv = shlex.split(cmd.replace("\\\n", " "))
    assert argv[:3] == ["framework", "slurm", "submit"] and "--dry-run" in argv, cmd
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(REPO)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert main(argv[1:]) == 0, err.getvalue()
    finally:
        os.chdir(cwd)
    return out.getvalue()


@pytest.mark.parametrize("name, nodes", [("1x8", 1), ("64x8", 64)])
def test_docs_show_the_rendered_scripts(name, nodes):
    cmd, shown = golden_blocks()[name]
    rendered = dry_run(cmd)
    assert rendered == shown, f"docs/slurm.md is out of date for {name}: run `python -m tests.slurm.test_render`"
    assert f"#SBATCH --nodes={nodes}\n#SBATCH --ntasks-per-node=8\n#SBATCH --gpus-per-node=8\n" in rendered


def recipe_submit_commands() -> list[str]:
    """`framework slurm submit ...` lines in the headers of the shipped recipes."""
    found = []
    for recipe in sorted((REPO / "recipes").rglob("*.yaml")):
        for line in recipe.read_text().splitlines():
            if not line.startswith("#"):
                break
            if "framework slurm submit" in line:
                found.append(line[line.index("framework slurm submit"):])
    return found


@pytest.mark.parametrize("cmd", recipe_submit_commands())
def test_every_recipe_header_submit_command_renders(cmd):
    script = dry_run(f"{cmd} --dry-run")
    nodes = re.search(r"--nodes (\d+)", cmd)
    assert f"#SBATCH --nodes={nodes[1] if nodes else 1}\n" in script


def test_templates_are_valid_bash_and_finetune_only_differs_where_documented():
    pretrain, finetune = (template_path(c).read_text() for c in ("pretrain", "finetune"))
    for text in (pretrain, finetune, dry_run(golden_blocks()["64x8"][0])):
        subprocess.run(["bash", "-n"], input=text, text=True, check=True)

    def body(text: str) -> list[str]:
        allowed = ("#SBATCH --job-name=", "#SBATCH --time=", "COMMAND=", "if [ $# -eq 0 ]; then set -- ")
        lines = text[text.index("#SBATCH "):].splitlines()
        return [line for line in lines if not line.startswith(allowed)]

    assert body(pretrain) == body(finetune), "slurm/finetune.sbatch drifted from slurm/pretrain.sbatch"
    assert "COMMAND=finetune" in finetune


def test_rendered_block_covers_every_template_option():
    template = template_path("pretrain").read_text()
    options = {re.match(r"#SBATCH (--[\w-]+)", line)[1] for line in template.splitlines() if line.startswith("#SBATCH")}
    spec = JobSpec(args=("r.yaml",), run_dir="runs/r", job_name="r", time="1:00:00")
    rendered = render(spec, template)
    assert options == {re.match(r"#SBATCH (--[\w-]+)", line)[1] for line in rendered.splitlines()
                       if line.startswith("#SBATCH")}
    for line in ("#SBATCH --signal=B:USR2@300", "#SBATCH --requeue", "#SBATCH --open-mode=append",
                 "#SBATCH --output=runs/r/slurm/%x-%j.out"):
        assert line in rendered.splitlines()


def test_arguments_survive_quoting(tmp_path):
    args = ("recipes/a b.yaml", "optim.betas=[0.9, 0.95]", "run_dir=runs/it's", 'log.wandb="x"', "data.path=$HOME")
    spec = JobSpec(args=args, run_dir="runs/x", job_name="x", gpus_per_node=0,
                   env_setup="source '/opt/my env/bin/activate'")
    script = render_file(spec)
    line = next(x for x in script.splitlines() if x.startswith("if [ $# -eq 0 ]"))
    out = subprocess.run(["bash", "-c", f'{line}\nprintf "%s\\n" "$@"'], capture_output=True, text=True).stdout
    assert out.splitlines() == list(args)
    assert "ENV_SETUP='source '\"'\"'/opt/my env/bin/activate'\"'\"''" in script


def test_cpu_jobs_ask_for_no_gpus_and_extra_options_pass_through():
    spec = JobSpec(args=("r.yaml",), run_dir="r", job_name="r", nodes=2, gpus_per_node=0, tasks_per_node=4,
                   extra_sbatch=("--qos=high", "constraint=cpu"))
    lines = [x for x in render_file(spec).splitlines() if x.startswith("#SBATCH")]
    assert "#SBATCH --ntasks-per-node=4" in lines and not any("gpus" in x or "exclusive" in x for x in lines)
    assert lines[-2:] == ["#SBATCH --qos=high", "#SBATCH --constraint=cpu"]


def test_submit_refuses_what_cannot_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    base = ["slurm", "submit", "recipes/pretrain/gpt2-tiny.yaml", f"run_dir={tmp_path / 'run'}"]
    assert main(base + ["--nodes", "2", "--gpus-per-node", "8"]) == 2  # global batch 16 over 16 ranks x 16
    assert "train.global_batch_size=16 is not divisible" in capsys.readouterr().err
    unprepared = [f"data.path={tmp_path / 'none'}", "train.global_batch_size=32", "train.micro_batch_size=1"]
    assert main(base + unprepared + ["--nodes", "4", "--gpus-per-node", "8"]) == 2
    err = capsys.readouterr().err
    assert "has no index.json yet. On 4 nodes, prepare it before submitting" in err and "framework data prepare" in err
    with pytest.raises(ConfigError, match="--nodes"):
        JobSpec(args=("r",), run_dir="r", job_name="r", nodes=0)


def test_finetune_jobs_render_the_finetune_template(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    sft = ["slurm", "submit", "recipes/finetune/gpt2-tiny-sft.yaml", f"run_dir={tmp_path / 'sft'}", "--command",
           "finetune", "--gpus-per-node", "1", "--dry-run"]
    assert main(sft) == 0
    script = capsys.readouterr().out
    assert "\nCOMMAND=finetune\n" in script and "set -- recipes/finetune/gpt2-tiny-sft.yaml run_dir=" in script
    hub = ["slurm", "submit", "recipes/finetune/llama-1b-emotions-lora.yaml", "--command", "finetune",
           "--nodes", "2", "--gpus-per-node", "1"]
    assert main(hub) == 2
    err = capsys.readouterr().err
    assert "model.init_from=meta-llama/Llama-3.2-1B and data.dataset=google-research-datasets/go_emotions" in err
    assert "hf download" in err


def test_submit_without_slurm_says_where_to_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch
    monkeypatch.chdir(REPO)
    args = ["slurm", "submit", "recipes/pretrain/gpt2-tiny.yaml", f"run_dir={tmp_path / 'run'}", "--gpus-per-node", "1"]
    assert main(args) == 2
    assert "`sbatch` is not on PATH: run this on a Slurm login node" in capsys.readouterr().err


def test_default_environment_is_this_virtualenv(monkeypatch, tmp_path):
    monkeypatch.setattr("sys.prefix", str(tmp_path / "venv"))
    monkeypatch.chdir(tmp_path)
    assert default_env_setup() == "source venv/bin/activate"
    monkeypatch.setattr("sys.prefix", "/opt/elsewhere/venv")
    assert default_env_setup() == "source /opt/elsewhere/venv/bin/activate"


def update_docs() -> None:
    """Rewrite the golden scripts in docs/slurm.md from their commands."""
    text = DOC.read_text()
    for m in reversed(list(GOLDEN.finditer(text))):
        text = text[:m.start("script")] + dry_run(m["cmd"]) + text[m.end("script"):]
    DOC.write_text(text)


if __name__ == "__main__":
    update_docs()
