"""Outputs never destroy what sampler did not write (issue 10, Files 1).

Every command that writes a directory writes it new, or over an earlier output of the same command
(recognised by its ``.sampler-output.json`` marker); anything else is refused with exit 2 and an
input-issue table, before any work, and nothing is left behind (no ``..partial`` folder, no
staging directory). ``--force`` replaces an earlier output of another command, never foreign
files. ``sms`` writes its two files atomically under the same rules.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from api.cli import app
from sampler.errors import InputError
from sampler.io.atomic import (
    MARKER,
    STAGING_PREFIX,
    atomic_directory,
    atomic_file,
    clean_stale,
    read_marker,
)
from tests.sampler.registry_files import HOUSEHOLDS, write_city

runner = CliRunner()
PLAN_FILES = {"assignments.csv", "site_load.csv", "buildings.csv", "home_visits.csv", "unplaced.csv", "sites.csv",
              "contacts.csv", "plan.json", "plan.xlsx"}
NAMES = [r[7] for r in HOUSEHOLDS[1:]]  # contacts: personal data
PHONES = ["13800138001", "15000138004"]


def _refused(result: Result, *words: str) -> None:
    """Exit 2 with the input-issue table (no traceback), mentioning ``words``."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "input issue" in result.output
    flat = " ".join(result.output.split())
    for w in words:
        assert w in flat, (w, result.output)


def _leftovers(directory: Path) -> list[str]:
    """Staging or partial folders sampler might have left in ``directory``."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(STAGING_PREFIX) or "partial" in p.name)


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _plan(scenario: Path, out: Path | str, *more: str) -> Result:
    return runner.invoke(app, ["plan", str(scenario), "-o", str(out), "--no-xlsx", *more])


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    """Print the issue table without wrapping, so that whole sentences can be looked for."""
    from sampler.commands import ui

    before = ui.err_console._width  # None: the console follows the terminal (setting .width back would freeze it)
    ui.err_console.width = 1000
    yield
    ui.err_console._width = before


@pytest.fixture
def city(tmp_path: Path) -> Path:
    """A registry folder with an unrelated document in it; returns the scenario file."""
    scenario = write_city(tmp_path / "city")
    (tmp_path / "city" / "会议纪要.docx").write_bytes(b"not sampler's")
    return scenario


def test_plan_into_the_registry_folder_is_refused_and_deletes_nothing(city: Path):
    """The finding: `-o` at the registry's own folder used to delete households.csv, buildings.csv,
    sites.csv, scenario.yaml and an unrelated document. Now: exit 2 saying what to do, every file intact."""
    folder = city.parent
    before = _snapshot(folder)
    result = _plan(city, folder)
    _refused(result, "input of this run", "give a new folder")
    assert _snapshot(folder) == before
    assert _leftovers(folder.parent) == [] and _leftovers(folder) == []


def test_plan_into_the_current_folder_is_refused_cleanly(city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`-o .` gave a raw OSError traceback and left a `..partial` folder; now a clean refusal,
    also when the current folder is empty, and for a parent of the current folder."""
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    monkeypatch.chdir(work / "sub")
    for target in (".", "..", str(tmp_path)):
        _refused(_plan(city, target), "current folder")
    assert list((work / "sub").iterdir()) == [] and sorted(p.name for p in work.iterdir()) == ["sub"]
    assert _leftovers(tmp_path) == []


def test_plan_into_a_parent_of_the_inputs_is_refused(city: Path, tmp_path: Path):
    """A folder holding the registry (a parent of the inputs) is never replaced."""
    before = _snapshot(tmp_path)
    _refused(_plan(city, tmp_path), "holds an input of this run")
    assert _snapshot(tmp_path) == before


def test_plan_onto_a_file_is_refused(city: Path, tmp_path: Path):
    target = tmp_path / "plan.txt"
    target.write_text("mine", encoding="utf-8")
    _refused(_plan(city, target), "is a file")
    assert target.read_text(encoding="utf-8") == "mine" and _leftovers(tmp_path) == []


def test_rerun_replaces_an_earlier_output_of_the_same_command(city: Path, tmp_path: Path):
    """An earlier plan is replaced without --force; the marker lists every file with its size;
    the output is private to the user (0700 folder, 0600 files: it holds names and phones)."""
    out = tmp_path / "plan"
    assert _plan(city, out).exit_code == 0
    first = _snapshot(out)
    result = _plan(city, out)
    assert result.exit_code == 0, result.output
    assert _snapshot(out).keys() == first.keys() and _leftovers(tmp_path) == []
    marker = read_marker(out)
    assert marker is not None and marker["command"] == "plan"
    files = marker["files"]
    assert isinstance(files, dict) and set(files) == PLAN_FILES - {"plan.xlsx"}
    assert all(files[n] == (out / n).stat().st_size for n in files)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert {stat.S_IMODE((out / n).stat().st_mode) for n in [*files, MARKER]} == {0o600}


def test_empty_folder_is_used(city: Path, tmp_path: Path):
    out = tmp_path / "empty"
    out.mkdir()
    assert _plan(city, out).exit_code == 0
    assert PLAN_FILES - {"plan.xlsx"} <= {p.name for p in out.iterdir()}


def test_another_commands_output_needs_force(city: Path, tmp_path: Path):
    """Notices written where a plan is wanted: refused without --force, replaced with it."""
    plan_dir, notices = tmp_path / "plan", tmp_path / "notices"
    assert _plan(city, plan_dir).exit_code == 0
    assert runner.invoke(app, ["notices", str(plan_dir), "-o", str(notices)]).exit_code == 0
    before = _snapshot(notices)
    _refused(_plan(city, notices), "earlier output of `sampler notices`", "--force")
    assert _snapshot(notices) == before
    result = _plan(city, notices, "--force")
    assert result.exit_code == 0, result.output
    marker = read_marker(notices)
    assert marker is not None and marker["command"] == "plan"
    assert not (notices / "index.html").exists() and _leftovers(tmp_path) == []


def test_nested_output_of_another_command_needs_force(city: Path, tmp_path: Path):
    """Notices written inside a plan directory: re-planning there needs --force, which removes them too."""
    out = tmp_path / "plan"
    assert _plan(city, out).exit_code == 0
    assert runner.invoke(app, ["notices", str(out), "-o", str(out / "notices")]).exit_code == 0
    _refused(_plan(city, out), "`sampler notices`", "--force")
    assert (out / "notices" / "index.html").is_file()
    assert _plan(city, out, "--force").exit_code == 0
    assert not (out / "notices").exists()


@pytest.mark.parametrize("force", [False, True])
def test_foreign_files_are_never_replaced(city: Path, tmp_path: Path, force: bool):
    """An earlier output with a file sampler did not write, or with a file changed since, is
    refused even with --force, and nothing in it is touched."""
    out = tmp_path / "plan"
    assert _plan(city, out).exit_code == 0
    (out / "备注.txt").write_text("my notes", encoding="utf-8")
    before = _snapshot(out)
    _refused(_plan(city, out, *(["--force"] if force else [])), "备注.txt", "did not write")
    assert _snapshot(out) == before
    (out / "备注.txt").unlink()
    with open(out / "assignments.csv", "a", encoding="utf-8") as fh:
        fh.write("edited by hand\n")
    before = _snapshot(out)
    _refused(_plan(city, out, *(["--force"] if force else [])), "assignments.csv", "changed after sampler wrote them")
    assert _snapshot(out) == before and _leftovers(tmp_path) == []


def test_folder_without_marker_is_foreign(city: Path, tmp_path: Path):
    """A folder of plan-like files that carries no marker (e.g. copied by hand) is not sampler's to replace."""
    out = tmp_path / "plan"
    assert _plan(city, out).exit_code == 0
    (out / MARKER).unlink()
    _refused(_plan(city, out, "--force"), "did not write")
    assert (out / "assignments.csv").is_file()


def test_every_directory_command_refuses_its_inputs(city: Path, tmp_path: Path):
    """simulate, roster, whatif, notices and generate refuse the same way, before doing any work."""
    plan_dir = tmp_path / "plan"
    assert _plan(city, plan_dir).exit_code == 0
    staff = city.parent / "staff.csv"
    staff.write_text("staff_id,name,role,site_id\nP1,甲,sampler,S1\n", encoding="utf-8")
    folder = city.parent
    before = _snapshot(folder), _snapshot(plan_dir)
    _refused(runner.invoke(app, ["simulate", str(city), "--plan", str(plan_dir), "-o", str(plan_dir), "-r", "1"]),
             "is an input of this run")
    _refused(runner.invoke(app, ["simulate", str(city), "--plan", str(plan_dir), "-o", str(folder), "-r", "1"]),
             "input of this run")
    _refused(runner.invoke(app, ["roster", str(city), "--staff", str(staff), "-o", str(folder)]), "input of this run")
    _refused(runner.invoke(app, ["whatif", str(city), "-o", str(folder)]), "input of this run")
    _refused(runner.invoke(app, ["notices", str(plan_dir), "-o", str(plan_dir)]), "input of this run")
    _refused(runner.invoke(app, ["generate", "-n", "10", "-o", str(folder)]), "did not write")
    assert (_snapshot(folder), _snapshot(plan_dir)) == before
    assert _leftovers(tmp_path) == [] and _leftovers(folder) == []


def test_generate_rerun_and_force(tmp_path: Path):
    """generate replaces its own earlier city; a plan folder needs --force."""
    city = tmp_path / "gen"
    assert runner.invoke(app, ["generate", "-n", "30", "--seed", "1", "-o", str(city)]).exit_code == 0
    first = _snapshot(city)
    assert runner.invoke(app, ["generate", "-n", "30", "--seed", "1", "-o", str(city)]).exit_code == 0
    assert _snapshot(city) == first
    plan_dir = tmp_path / "plan"
    assert _plan(city / "scenario.yaml", plan_dir).exit_code == 0
    _refused(runner.invoke(app, ["generate", "-n", "30", "-o", str(plan_dir)]), "`sampler plan`")
    assert runner.invoke(app, ["generate", "-n", "30", "-o", str(plan_dir), "--force"]).exit_code == 0
    assert (plan_dir / "households.csv").is_file() and not (plan_dir / "assignments.csv").exists()


# --- sms: two files, atomic ---------------------------------------------------------------------


def test_sms_files_are_atomic_private_and_never_overwrite_foreign_files(city: Path, tmp_path: Path):
    plan_dir = tmp_path / "plan"
    assert _plan(city, plan_dir).exit_code == 0
    out = tmp_path / "lists" / "sms.csv"
    result = runner.invoke(app, ["sms", str(plan_dir), "-o", str(out)])
    assert result.exit_code == 0, result.output
    invalid = out.with_name("sms_invalid.csv")
    assert out.read_text(encoding="utf-8").startswith("\ufeffhousehold_id,phone,send_at,text,segments\n")  # BOM: Excel
    assert {stat.S_IMODE(p.stat().st_mode) for p in (out, invalid)} == {0o600}
    # an earlier list of the same command is replaced
    assert runner.invoke(app, ["sms", str(plan_dir), "-o", str(out)]).exit_code == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["sms.csv", "sms_invalid.csv"]
    # a foreign file of that name: refused, untouched; --force overwrites it
    mine = tmp_path / "mine.csv"
    mine.write_text("name,phone\n我的,1\n", encoding="utf-8")
    _refused(runner.invoke(app, ["sms", str(plan_dir), "-o", str(mine)]), "not written by `sampler sms`", "--force")
    assert mine.read_text(encoding="utf-8") == "name,phone\n我的,1\n" and not (tmp_path / "mine_invalid.csv").exists()
    assert runner.invoke(app, ["sms", str(plan_dir), "-o", str(mine), "--force"]).exit_code == 0
    assert mine.read_text(encoding="utf-8-sig").startswith("household_id,phone")
    # a folder, a file inside the plan directory (an input), the same name twice
    _refused(runner.invoke(app, ["sms", str(plan_dir), "-o", str(tmp_path)]), "is a folder")
    _refused(runner.invoke(app, ["sms", str(plan_dir), "-o", str(plan_dir / "sms.csv")]), "input of this run")
    _refused(runner.invoke(app, ["sms", str(plan_dir), "-o", str(out), "--invalid", str(out)]), "other than")
    assert _leftovers(tmp_path) == [] and _leftovers(out.parent) == []


def test_notices_rerun_replaces_and_refuses_foreign(city: Path, tmp_path: Path):
    plan_dir, out = tmp_path / "plan", tmp_path / "notices"
    assert _plan(city, plan_dir).exit_code == 0
    assert runner.invoke(app, ["notices", str(plan_dir), "-o", str(out)]).exit_code == 0
    assert runner.invoke(app, ["notices", str(plan_dir), "-o", str(out)]).exit_code == 0
    (out / "extra.html").write_text("x", encoding="utf-8")
    _refused(runner.invoke(app, ["notices", str(plan_dir), "-o", str(out), "--force"]), "extra.html")
    assert (out / "extra.html").is_file() and (out / "index.html").is_file()


# --- the library layer ---------------------------------------------------------------------------


def test_failed_write_leaves_nothing_and_reports_os_errors(tmp_path: Path):
    """An error while writing removes the staging directory and keeps the earlier output; an
    OSError (disk full) becomes an InputError naming the output."""
    out = tmp_path / "out"
    with atomic_directory(out, "plan") as tmp:
        (tmp / "a.csv").write_text("1\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_directory(out, "plan") as tmp:
        (tmp / "a.csv").write_text("2\n", encoding="utf-8")
        raise RuntimeError("boom")
    with pytest.raises(InputError) as exc, atomic_directory(out, "plan") as tmp:
        raise OSError(28, "No space left on device")
    assert "No space left" in str(exc.value) and str(out) in str(exc.value)
    assert (out / "a.csv").read_text(encoding="utf-8") == "1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    target = tmp_path / "f.csv"
    with pytest.raises(RuntimeError), atomic_file(target, "sms") as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_symlinks_are_refused(tmp_path: Path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    with pytest.raises(InputError, match="symbolic link"), atomic_directory(tmp_path / "link", "plan"):
        pass
    (tmp_path / "f").write_text("x", encoding="utf-8")
    (tmp_path / "flink").symlink_to(tmp_path / "f")
    with pytest.raises(InputError, match="symbolic link"), atomic_file(tmp_path / "flink", "sms", force=True):
        pass


_HOLDER = """
import os, sys, time
from pathlib import Path
from sampler.io.atomic import atomic_directory
with atomic_directory(Path(sys.argv[1]), "plan") as tmp:
    (tmp / "contacts.csv").write_text("household_id,contact,phone\\nH1,张伟,13800138001\\n", encoding="utf-8")
    child = os.fork()
    if child == 0:  # a forked helper (like the workbook writer) outlives its parent
        os.write(1, b"child\\n")  # (its fork handlers have run); one write: lines never interleave
        time.sleep(float(sys.argv[2]))
        os._exit(0)
    os.write(1, f"ready {child}\\n".encode())
    if sys.argv[3] == "die":
        os._exit(1)  # the parent dies mid-write, without clean-up
    time.sleep(float(sys.argv[2]))
"""


def _holder(out: Path, seconds: float, mode: str) -> tuple[subprocess.Popen[str], int]:
    """A process inside atomic_directory that forked a child; the process and the child's pid."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out), str(seconds), mode], stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None
    lines = sorted(proc.stdout.readline().split() for _ in range(2))  # the child's line and the parent's
    assert lines[0] == ["child"] and lines[1][0] == "ready"
    return proc, int(lines[1][1])


def _end(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_stale_staging_is_removed_only_when_its_owner_is_gone(tmp_path: Path):
    """A live run's staging directory is left alone; a dead run's is removed by the next run,
    even while a child it forked still lives (the child does not keep the lock)."""
    live, live_child = _holder(tmp_path / "a", 30, "live")
    try:
        staging = [p for p in tmp_path.iterdir() if p.name.startswith(STAGING_PREFIX)]
        assert len(staging) == 1 and stat.S_IMODE(staging[0].stat().st_mode) == 0o700
        assert clean_stale(tmp_path) == []
        assert staging[0].is_dir()
    finally:
        live.kill()
        live.wait()
        _end(live_child)
    assert clean_stale(tmp_path) == staging
    dead, child = _holder(tmp_path / "b", 30, "die")
    dead.wait()
    try:
        left = [p for p in tmp_path.iterdir() if p.name.startswith(STAGING_PREFIX)]
        assert len(left) == 1
        assert clean_stale(tmp_path) == left and not left[0].exists()  # its forked child still sleeps
    finally:
        _end(child)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_legacy_partial_folders_with_plan_files_are_removed(city: Path, tmp_path: Path):
    """`.plan.partial` left by earlier versions (names and phones in contacts.csv) goes with the
    next run, unless it holds something else."""
    legacy = tmp_path / ".plan.partial"
    legacy.mkdir()
    (legacy / "contacts.csv").write_text("household_id,contact,phone\nH1,张伟,13800138001\n", encoding="utf-8")
    other = tmp_path / ".plan.old"
    other.mkdir()
    (other / "mine.txt").write_text("x", encoding="utf-8")
    assert _plan(city, tmp_path / "plan").exit_code == 0
    assert not legacy.exists() and (other / "mine.txt").is_file()


# --- kill -9 mid-write ---------------------------------------------------------------------------

_SLOW_WRITER = """
import os, sys, time
from pathlib import Path
import sampler.io.atomic as atomic
import sampler.planfiles.write as write
from sampler.params import load_scenario
from sampler.plan.planner import make_plan
from sampler.registry.read import load_registry

scenario = load_scenario(Path(sys.argv[1]))
plan = make_plan(scenario, load_registry(scenario))
pause = float(sys.argv[3])
table, private = write._write_table, atomic._private

def slow_table(*args):
    time.sleep(pause)
    table(*args)

def slow_private(directory):
    time.sleep(pause)
    files = private(directory)
    time.sleep(pause)
    return files

write._write_table, atomic._private = slow_table, slow_private
print("ready", flush=True)
for _ in sys.stdin:  # one writer process per line, killed by the test
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        write.write_plan(plan, Path(sys.argv[2]))
        os._exit(0)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", time.perf_counter() - started, flush=True)
"""


def _personal_data_outside(work: Path, out: Path) -> list[str]:
    found = []
    for path in work.rglob("*"):
        if path == out or out in path.parents or not path.is_file():
            continue
        data = path.read_bytes()
        if any(n.encode() in data for n in NAMES) or any(p.encode() in data for p in PHONES):
            found.append(str(path.relative_to(work)))
    return found


def _complete(out: Path) -> bool:
    marker = read_marker(out)
    if marker is None or marker["command"] != "plan":
        return False
    files = marker["files"]
    assert isinstance(files, dict)
    return set(files) == PLAN_FILES and all((out / n).stat().st_size == s for n, s in files.items())


def test_kill_9_mid_write_leaves_no_personal_data_after_the_next_run(city: Path, tmp_path: Path):
    """A plan writer slowed down (so that kills land while files are written and swapped), a
    process forked from one that planned once, is killed with SIGKILL at random points, ten times. After every kill the output is either absent or
    a complete earlier plan, and what is left beside it is a private (0700) staging folder; after
    the next real `sampler plan` run no names or phones remain outside the output."""
    import random

    rng = random.Random(10)
    work = tmp_path / "work"
    work.mkdir()
    out = work / "plan"
    pause = 0.04
    server = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(city), str(out), str(pause)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    stdin, stdout = server.stdin, server.stdout
    assert stdin is not None and stdout is not None
    try:
        assert stdout.readline().strip() == "ready"

        def write(kill_after: float | None) -> float:
            stdin.write("go\n")
            stdin.flush()
            writer = int(stdout.readline())
            if kill_after is not None:
                time.sleep(kill_after)
                _end(writer)
            word, seconds = stdout.readline().split()
            assert word == "reaped"
            return float(seconds)

        whole = write(None)  # one full write: its duration, and an earlier output to replace
        assert _complete(out)
        for attempt in range(10):
            write(rng.uniform(0, 1.2 * whole))
            assert not out.exists() or _complete(out), attempt
            for p in work.iterdir():
                if p != out:
                    assert p.name.startswith(STAGING_PREFIX) and stat.S_IMODE(p.stat().st_mode) == 0o700, p
    finally:
        stdin.close()
        server.wait(timeout=60)
    result = runner.invoke(app, ["plan", str(city), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert _complete(out)
    assert [p.name for p in work.iterdir()] == ["plan"]
    assert _personal_data_outside(work, out) == []
    assert json.loads((out / "plan.json").read_text(encoding="utf-8"))["households"] == len(NAMES)
    assert os.stat(out).st_mode & 0o077 == 0
