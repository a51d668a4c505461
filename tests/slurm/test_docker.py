"""Static checks of the container files (no Docker engine here): they parse, pin their bases and packages,
and install the framework the way docker/README.md says: `pip install torch==<pin>`, then `pip install .`."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
DOCKERFILES = ["Dockerfile", "Dockerfile.cpu"]


def parse(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, backslash continuations joined."""
    steps, pending = [], ""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if pending and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if line.endswith("\\"):
            continue
        keyword, _, args = pending.partition(" ")
        assert keyword.upper() in INSTRUCTIONS and keyword == keyword.upper(), f"{path.name}:{number}: {keyword}"
        steps.append((keyword, args.strip()))
        pending = ""
    assert not pending, f"{path.name}: ends inside a continued line"
    return steps


def pip_installs(steps) -> list[list[str]]:
    """The arguments of every `pip install` in RUN lines, environment assignments dropped."""
    found = []
    for keyword, args in steps:
        if keyword != "RUN":
            continue
        for command in re.split(r"&&|;", args):
            words = [w for w in shlex.split(command) if not re.match(r"^[A-Z_]+=", w)]
            if words[:2] == ["pip", "install"]:
                found.append(words[2:])
    return found


def requirements(args: list[str]) -> list[str]:
    """Package specs of a pip install (options and their values dropped)."""
    specs, skip = [], False
    for word in args:
        if skip:
            skip = False
        elif word in ("--index-url", "--extra-index-url", "-c", "--constraint"):
            skip = True
        elif not word.startswith("-"):
            specs.append(word)
    return specs


def torch_pin() -> str:
    return re.search(r"^TORCH_CPU \?= torch==(\S+)$", (REPO / "Makefile").read_text(), re.M)[1]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_parses_and_pins_its_base(name):
    steps = parse(DOCKER / name)
    bases = [args for keyword, args in steps if keyword == "FROM"]
    assert len(bases) == 1
    image, _, tag = bases[0].partition(":")
    assert tag and tag != "latest" and re.match(r"\d+\.\d+\.\d+-", tag), f"{name}: unpinned base {bases[0]}"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_pins_packages_and_installs_torch_then_the_framework(name):
    steps = parse(DOCKER / name)
    installs = pip_installs(steps)
    specs = [requirements(args) for args in installs]
    framework_at = next(i for i, s in enumerate(specs) if s == ["."])
    torch_at = next(i for i, s in enumerate(specs) if any(x.startswith("torch") for x in s))
    assert specs[torch_at] == [f"torch=={torch_pin()}"] and torch_at < framework_at
    for spec in (s for i, group in enumerate(specs) if i != framework_at for s in group):
        assert re.match(r"^[A-Za-z0-9_.-]+==[\w.+-]+$", spec), f"{name}: unpinned {spec}"
    assert ("ENV", "PIP_CONSTRAINT=/opt/constraints.txt") in steps
    assert ("COPY", "docker/constraints.txt /opt/constraints.txt") in steps
    copy_at = steps.index(("COPY", ". ."))
    assert steps[copy_at + 1][1].startswith("pip install . ")  # the README's command, on the copied checkout


def test_constraints_pin_every_dependency_of_the_package():
    lines = [x for x in (DOCKER / "constraints.txt").read_text().splitlines() if x and not x.startswith("#")]
    pins = dict(line.split("==") for line in lines)
    assert all(re.match(r"^[\w.+-]+$", v) for v in pins.values())
    norm = {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in pins.items()}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for dependency in project["dependencies"]:
        name = re.sub(r"[-_.]+", "-", re.match(r"^[A-Za-z0-9_.-]+", dependency)[0]).lower()
        assert name == "torch" or name in norm, f"{name} is not pinned in docker/constraints.txt"
    assert "torch" not in norm  # pinned in the Dockerfiles, CUDA or CPU build


def test_readme_apptainer_and_dockerignore_agree_with_the_images():
    readme = (DOCKER / "README.md").read_text()
    assert f"pip install torch=={torch_pin()}" in readme and "pip install ." in readme
    for name in DOCKERFILES:
        assert f"docker build -f docker/{name} -t " in readme
    gpu_tag = re.search(r"docker build -f docker/Dockerfile -t (\S+) \.", readme)[1]
    definition = (DOCKER / "framework.def").read_text()
    assert re.search(r"^Bootstrap: docker$", definition, re.M)
    assert re.search(r"^From: (\S+)$", definition, re.M)[1] == gpu_tag
    assert "--container-image" in readme and "apptainer build" in readme
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", "runs"} <= set(ignored)
