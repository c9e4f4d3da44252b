"""What `make demo` and `make test` install: the lock files agree with pyproject.toml, the planning
and simulation code needs only the core set, and the service and Dask say which extra is missing.

A failure here after editing pyproject.toml's dependencies usually means: run `make lock`.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
FIRST_PARTY = {"sampler", "sim", "api", "tests"}
DEMO = ROOT / "configs" / "demo_street" / "scenario.yaml"
# Import names of the optional groups (what a core-only install lacks).
SERVE_IMPORTS = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "pydantic_settings",
                 "multipart", "psycopg")
CLUSTER_IMPORTS = ("dask", "distributed")

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _lock(name: str) -> dict[str, Version]:
    """Package name -> pinned version of requirements/NAME.lock; every entry is pinned and hashed."""
    entries: list[list[str]] = []
    for line in (LOCKS / f"{name}.lock").read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            entries.append([line])
        elif entries and line.strip():
            entries[-1].append(line)
    pins: dict[str, Version] = {}
    for first, *rest in entries:
        match = _PIN.match(first)
        assert match, f"{name}.lock: not an exact pin: {first!r}"
        assert any("--hash=sha256:" in line for line in rest), f"{name}.lock: {first!r} has no hash"
        pins[canonicalize_name(match[1])] = Version(match[2])
    return pins


def _declared(group: str) -> list[Requirement]:
    """The requirements pyproject.toml declares for the core ("") or an extra (self-references dropped)."""
    raw = PYPROJECT["project"]["dependencies"] if not group else PYPROJECT["project"]["optional-dependencies"][group]
    reqs = [Requirement(r) for r in raw]
    return [r for r in reqs if canonicalize_name(r.name) != "sampler"]


# Which declared groups each lock must hold.
LOCK_GROUPS = {"demo": ("",), "serve": ("", "serve"), "dev": ("", "serve", "cluster", "dev")}


@pytest.mark.parametrize("lock", sorted(LOCK_GROUPS))
def test_lock_pins_every_declared_dependency_inside_its_range(lock: str):
    """Each requirement of the lock's groups is pinned there, at a version its range admits."""
    pins = _lock(lock)
    wrong = {}
    for group in LOCK_GROUPS[lock]:
        for req in _declared(group):
            version = pins.get(canonicalize_name(req.name))
            if version is None or not req.specifier.contains(version, prereleases=True):
                wrong[str(req)] = str(version)
    assert wrong == {}, f"requirements/{lock}.lock is out of date with pyproject.toml: run `make lock`"


def test_build_backend_is_locked():
    """requirements/build.in is pyproject's [build-system] requires, and every lock pins it, so that
    `pip install --no-build-isolation -e .` builds with a hashed setuptools."""
    build_in = [line.strip() for line in (LOCKS / "build.in").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    assert build_in == PYPROJECT["build-system"]["requires"]
    for lock in LOCK_GROUPS:
        pins = _lock(lock)
        for req in map(Requirement, build_in):
            assert req.specifier.contains(pins[canonicalize_name(req.name)]), (lock, str(req))


@pytest.mark.parametrize("lock", ["demo", "serve"])
def test_smaller_locks_are_subsets_of_dev(lock: str):
    """A package has one version in every lock (what CI tests with dev.lock is what the demo gets)."""
    dev, small = _lock("dev"), _lock(lock)
    assert {name: str(v) for name, v in small.items() if dev.get(name) != v} == {}
    assert len(small) < len(dev)


def test_demo_lock_holds_nothing_of_the_service_or_dask():
    """`make demo` installs neither the web stack, the database drivers, Dask nor the test tools."""
    pins = _lock("demo")
    for name in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "dask", "distributed",
                 "pytest", "mypy", "ruff", "hypothesis", "schemathesis", "uv"):
        assert name not in pins, name


def _module_imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Top-level package names imported by a module (absolute imports; only module-level ones if asked)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _third_party(names: set[str]) -> set[str]:
    return {n for n in names if n not in sys.stdlib_module_names and n not in FIRST_PARTY and n != "__future__"}


def test_planning_and_simulation_import_only_the_core():
    """Every package sampler/ and sim/ import comes with demo.lock; Dask's `distributed` is the one
    optional import (behind --dask, which names the 'cluster' extra when it is missing)."""
    dists = packages_distributions()
    demo = _lock("demo")
    outside: dict[str, list[str]] = {}
    for package in ("sampler", "sim"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in sorted(_third_party(_module_imports(path)) - {"distributed"}):
                providers = {canonicalize_name(d) for d in dists.get(name, [])}
                if not providers & demo.keys():
                    outside.setdefault(str(path.relative_to(ROOT)), []).append(name)
    assert outside == {}, "add these to pyproject.toml's core dependencies and run `make lock`"


def test_the_console_script_starts_on_the_core():
    """api/cli.py (the `sampler` entry point) imports the service only inside its commands."""
    top = set()
    for path in (ROOT / "api" / "__init__.py", ROOT / "api" / "cli.py"):
        top |= _third_party(_module_imports(path, top_level_only=True))
    assert top & {*SERVE_IMPORTS, *CLUSTER_IMPORTS, "pydantic"} == set()


_CORE_ONLY = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # as if not installed: import fails, find_spec gives None
from api.cli import app
app(sys.argv[1:])
"""


def _core_only(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the `sampler` command line in a fresh interpreter where the service and Dask are missing."""
    code = _CORE_ONLY.format(blocked=(*SERVE_IMPORTS, *CLUSTER_IMPORTS))
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_validate_runs_without_the_service_or_dask():
    """`sampler --help` and `sampler validate` on the demo street work on a core-only install."""
    helped = _core_only("--help")
    assert helped.returncode == 0, helped.stderr
    assert "plan" in helped.stdout and "simulate" in helped.stdout
    validated = _core_only("validate", str(DEMO))
    assert validated.returncode == 0, validated.stdout + validated.stderr


@pytest.mark.parametrize("command", [["serve"], ["keys", "create", "--role", "planner"]])
def test_service_commands_name_the_missing_extra(command: list[str]):
    """Without the service's packages, `sampler serve` and `sampler keys create` exit 2 saying which
    extra to install and which lock file holds it, instead of a traceback."""
    result = _core_only(*command)
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, out
    assert "Traceback" not in out
    assert "'serve' extra" in out and "sampler[serve]" in out and "requirements/serve.lock" in out
    assert "uvicorn" in out


def test_dask_option_names_the_missing_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`plan --dask` without Dask's `distributed` is an input error naming the 'cluster' extra."""
    from api.cli import app

    monkeypatch.setitem(sys.modules, "distributed", None)
    result = CliRunner().invoke(app, ["plan", str(DEMO), "-o", str(tmp_path / "plan"),
                                      "--parts", "2", "--dask", "tcp://127.0.0.1:9"])
    out = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2, out
    assert "'cluster' extra" in out and "not installed" in out
    assert not (tmp_path / "plan").exists()
