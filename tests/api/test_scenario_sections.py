"""Every scenario section is checked by `sampler validate` and by the API upload, with the same issue.

Each case writes one registry (the API tests' small files) and one scenario with one mistake in one
section, runs `sampler validate` on it (exit 2, a table row naming file, field, value and fix) and
uploads the same files and sections to `POST /api/v1/scenarios` (422 with that issue). The entry
points' registration of the simulator's sections is tested in fresh interpreters, where the test
suite's own registration (tests/conftest.py) does not run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli import app
from api.main import create_app
from api.settings import Settings
from sampler.errors import InputError
from sampler.notify.notices import NoticesParams
from sampler.notify.sms import SmsParams
from sampler.params import (
    SECTIONS,
    Scenario,
    SectionSpec,
    load_scenario,
    register_sections,
    registered_sections,
    scenario_from_mapping,
    with_overrides,
)
from sampler.roster.params import RosterParams
from sim.params import SimParams
from sim.whatif.params import WhatifParams
from tests.api.conftest import PLANNER_KEY, auth
from tests.api.registry_files import PARAMETERS, buildings_csv, households_csv, sites_csv

ROOT = Path(__file__).resolve().parents[2]
CLASSES: dict[str, type] = {**SECTIONS, "sms": SmsParams, "notices": NoticesParams, "roster": RosterParams,
                            "sim": SimParams, "whatif": WhatifParams}
FILES = {"households": ("households.csv", households_csv()), "buildings": ("buildings.csv", buildings_csv()),
         "sites": ("sites.csv", sites_csv())}

# One misspelt key per section: (section, key, value).
TYPOS = [
    ("registry", "househols", "h.csv"),
    ("window", "slot_minute", 30),
    ("walk", "max_minute", 10),
    ("capacity", "utilization", 0.8),
    ("home_visits", "team", 3),
    ("pooling", "seal", 0),
    ("planner", "sead", 1),
    ("sms", "sigature", "幸福街道"),
    ("notices", "title", "采样通知"),
    ("roster", "max_ppe", 3),
    ("sim", "no_shows", 0.1),
    ("whatif", "target", 0.9),
]
# Known keys with bad values, and sections that are not mappings: (section, content, field, value, fix).
BAD_VALUES: list[tuple[str, Any, str, str, str]] = [
    ("window", {"slot_minutes": 7}, "window.slot_minutes", "7", "use a positive divisor of 1440, e.g. 30"),
    ("sms", {"send": "noon"}, "sms.send", "noon", "use 'evening' or 'before'"),
    ("sms", {"evening_at": "8pm"}, "sms.evening_at", "8pm", "give a clock time 'HH:MM', e.g. 20:00"),
    ("notices", 5, "notices", "5", "make this section a mapping of key: value"),
    ("roster", {"workers": 0}, "roster.workers", "0", "use 1 or more threads"),
    ("sim", {"no_show": 1.5}, "sim.no_show", "1.5", "use a probability between 0 and 1"),
    ("sim", {"swab_s": "fast"}, "sim.swab_s", "fast", "give a value of type tuple[float, float, float]"),
    ("whatif", {"ranges": {"tabels": "0.5:1.5:0.1"}}, "whatif.ranges.tabels", "0.5:1.5:0.1",
     "use one of tables, registrars, home_teams, relief, lab"),
    ("whatif", {"target_prob": 2}, "whatif.target_prob", "2.0", "use a probability in (0, 1]"),
]
# Every component section set to something valid that is not its default.
VALID_SECTIONS: dict[str, Any] = {
    "sms": {"sign": "幸福街道", "send": "before", "hours_before": 3},
    "notices": {},
    "roster": {"max_ppe_hours": 3, "seed": 5},
    "sim": {"no_show": 0.1, "swab_s": [10, 20, 40]},
    "whatif": {"target_prob": 0.9, "ranges": {"tables": "0.5:1.5:0.5"}},
}


def _base() -> dict[str, Any]:
    mapping: dict[str, Any] = yaml.safe_load(PARAMETERS)
    mapping["registry"] = {role: name for role, (name, _) in FILES.items()}
    return mapping


def _with(section: str, content: Any) -> dict[str, Any]:
    """The base scenario with ``content`` merged into (or replacing) one section."""
    mapping = _base()
    old = mapping.get(section)
    mapping[section] = {**old, **content} if isinstance(old, dict) and isinstance(content, dict) else content
    return mapping


def _write(directory: Path, mapping: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in FILES.values():
        (directory / name).write_bytes(data)
    path = directory / "scenario.yaml"
    path.write_text(yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _cli_rows(output: str) -> list[tuple[str, ...]]:
    """The data rows of the issue table (the console is wide enough that no cell wraps; the header
    row is drawn with heavy lines)."""
    rows = []
    for line in output.splitlines():
        if line.startswith("│"):
            rows.append(tuple(cell.strip() for cell in line.strip("│").split("│")))
    return rows


def _validate(path: Path) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "3000"}).invoke(app, ["validate", str(path)])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One service for the module (SQLite): each case is a failed upload that stores nothing."""
    tmp = tmp_path_factory.mktemp("sections")
    settings = Settings(database_url=f"sqlite:///{tmp / 'sampler.db'}", data_dir=tmp / "data",
                        bootstrap_planner_key=PLANNER_KEY, lookup_per_minute=1000)
    with TestClient(create_app(settings)) as c:
        yield c


def _upload(client: TestClient, mapping: dict[str, Any], as_file: bool = False) -> tuple[int, Any]:
    files: dict[str, Any] = {role: (name, data, "text/csv") for role, (name, data) in FILES.items()}
    text = yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False)
    if as_file:
        files["scenario"] = ("scenario.yaml", text.encode("utf-8"), "application/yaml")
        r = client.post("/api/v1/scenarios", files=files, headers=auth())
    else:
        r = client.post("/api/v1/scenarios", files=files, data={"parameters": text}, headers=auth())
    return r.status_code, r.json()


def _stored(client: TestClient) -> int:
    return int(client.get("/api/v1/scenarios", headers=auth()).json()["count"])


def _same_issue_everywhere(client: TestClient, tmp_path: Path, mapping: dict[str, Any], field: str,
                           value: str) -> str:
    """Run the CLI and both forms of the upload; each must report exactly this one issue, the same
    way. Returns the fix."""
    path = _write(tmp_path, mapping)
    code, output = _validate(path)
    assert code == 2, output
    assert "1 input issue(s)" in output, output
    rows = _cli_rows(output)
    assert len(rows) == 1, output
    file, row, cli_field, cli_value, fix = rows[0]
    assert (file, row, cli_field, cli_value) == (str(path), "", field, value)
    before = _stored(client)
    for as_file, name in ((False, "parameters"), (True, "scenario.yaml")):
        status, body = _upload(client, mapping, as_file)
        assert status == 422, body
        assert body["detail"] == [{"file": name, "row": None, "field": field, "value": value, "fix": fix}]
    assert _stored(client) == before
    return fix


@pytest.mark.parametrize(("section", "key", "value"), TYPOS, ids=[t[0] for t in TYPOS])
def test_a_misspelt_key_in_any_section_is_the_same_issue_in_validate_and_upload(
        client: TestClient, tmp_path: Path, section: str, key: str, value: object) -> None:
    """`sampler validate` exits 2 and the upload answers 422, both naming file, `section.key`,
    the value and a fix that lists the section's keys."""
    fix = _same_issue_everywhere(client, tmp_path, _with(section, {key: value}), f"{section}.{key}", str(value))
    names = [f.name for f in dataclasses.fields(CLASSES[section])]
    assert fix.startswith("remove it")
    if names:
        assert fix.endswith(f"known keys: {', '.join(sorted(names))}")
    else:
        assert fix == "remove it; this section has no keys yet"


@pytest.mark.parametrize(("section", "content", "field", "value", "fix"), BAD_VALUES,
                         ids=[b[2] for b in BAD_VALUES])
def test_a_bad_value_in_any_section_is_the_same_issue_in_validate_and_upload(
        client: TestClient, tmp_path: Path, section: str, content: Any, field: str, value: str, fix: str) -> None:
    """A known key with a value its section refuses is reported with the section's own fix."""
    assert _same_issue_everywhere(client, tmp_path, _with(section, content), field, value) == fix


def test_an_unknown_section_is_the_same_issue_with_the_nearest_name(client: TestClient, tmp_path: Path) -> None:
    """A misspelt section name suggests the nearest section and lists every one, the simulator's too."""
    mapping = {**_base(), "smss": {"sign": "幸福街道"}}
    fix = _same_issue_everywhere(client, tmp_path, mapping, "smss", "{'sign': '幸福街道'}")
    assert "did you mean 'sms'?" in fix
    assert fix.endswith("known sections: area, registry, window, walk, capacity, home_visits, pooling, planner, "
                        "sms, notices, roster, sim, whatif")


def test_every_mistake_is_listed_at_once(tmp_path: Path) -> None:
    """Mistakes in several sections are all reported by one run."""
    mapping = _base()
    for section, key, value in TYPOS:
        old = mapping.get(section)
        mapping[section] = {**(old if isinstance(old, dict) else {}), key: value}
    code, output = _validate(_write(tmp_path, mapping))
    assert code == 2
    fields = {row[2] for row in _cli_rows(output)}
    assert fields == {f"{s}.{k}" for s, k, _ in TYPOS}


def test_valid_sections_pass_and_are_kept_checked(client: TestClient, tmp_path: Path) -> None:
    """Every component section, valid, passes validate and the upload; the values are typed."""
    mapping = {**_base(), **VALID_SECTIONS}
    path = _write(tmp_path, mapping)
    code, output = _validate(path)
    assert code == 0, output
    assert "sms, notices, roster, sim, whatif" in output
    sc = load_scenario(path)
    assert sc.section("sms", SmsParams) == SmsParams(sign="幸福街道", send="before", hours_before=3.0)
    assert sc.section("notices", NoticesParams) == NoticesParams()
    assert sc.section("roster", RosterParams) == RosterParams(max_ppe_hours=3.0, seed=5)
    assert sc.section("sim", SimParams) == SimParams(no_show=0.1, swab_s=(10.0, 20.0, 40.0))
    assert sc.section("whatif", WhatifParams) == WhatifParams(target_prob=0.9, ranges={"tables": "0.5:1.5:0.5"})
    before = _stored(client)
    status, body = _upload(client, mapping)
    assert status == 201, body
    assert body["parameters"] == {k: v for k, v in mapping.items() if k != "registry"}
    assert _stored(client) == before + 1


def test_demo_and_generated_scenarios_validate(tmp_path: Path) -> None:
    """The demo street and a freshly generated city pass `sampler validate`."""
    code, output = _validate(ROOT / "configs" / "demo_street" / "scenario.yaml")
    assert code == 0, output
    assert "component sections checked" in output and "sim" in output
    runner = CliRunner()
    result = runner.invoke(app, ["generate", "--households", "300", "--seed", "3", "-o", str(tmp_path / "city")])
    assert result.exit_code == 0, result.output
    code, output = _validate(tmp_path / "city" / "scenario.yaml")
    assert code == 0, output


def test_a_section_without_entries_or_null_gives_the_defaults() -> None:
    """`sms:` (null) and `sim: {}` are the defaults; a scenario without them too."""
    sc = scenario_from_mapping({"sms": None, "sim": {}})
    assert set(sc.sections) == {"sms", "sim"}
    assert sc.section("sms", SmsParams) == SmsParams() and sc.section("sim", SimParams) == SimParams()
    assert Scenario().section("roster", RosterParams) == RosterParams()
    with pytest.raises(TypeError):
        sc.section("sms", SimParams)


def test_overrides_are_checked_like_the_file() -> None:
    """with_overrides changes keys and names a bad override `section.key`."""
    base = SimParams()
    assert with_overrides(base, {}, "f", "sim") is base
    assert with_overrides(base, {"no_show": 0.2}, "f", "sim") == dataclasses.replace(base, no_show=0.2)
    with pytest.raises(InputError) as info:
        with_overrides(base, {"no_show": 2, "nope": 1}, "command line", "sim")
    assert {(i.file, i.field) for i in info.value.issues} == {("command line", "sim.nope")}


def test_registering_is_idempotent_and_sections_cannot_be_taken_over() -> None:
    """The same spec again is fine; a second owner of a name, or a core section name, is an error."""
    specs = registered_sections()
    assert {"sms", "notices", "roster", "sim", "whatif"} <= set(specs)
    register_sections([specs["sim"]])
    with pytest.raises(ValueError, match="already registered"):
        register_sections([SectionSpec("sim", lambda: SmsParams, "elsewhere")])
    with pytest.raises(ValueError, match="planning core"):
        register_sections([SectionSpec("window", lambda: SmsParams, "elsewhere")])
    assert registered_sections() == specs


def test_every_registered_section_loads_its_owners_dataclass() -> None:
    """Each spec loads a frozen dataclass from the module it names, whose defaults pass its check."""
    for name, spec in registered_sections().items():
        cls = spec.load()
        assert dataclasses.is_dataclass(cls) and cls.__module__ == spec.owner, name
        assert cls is CLASSES[name]
        check = getattr(cls(), "check", None)
        assert check is None or check() == [], name


def _fresh(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "3000", "SAMPLER_DATA_DIR": str(tmp_path / "data"),
           "SAMPLER_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120, check=False)


def test_without_registration_a_simulator_section_is_an_error_not_a_pass(tmp_path: Path) -> None:
    """In a process that registered nothing, `sim:` is an unknown section; the entry points register it."""
    code = """
import json
from sampler.errors import InputError
from sampler.params import registered_sections, scenario_from_mapping
out = {"before": sorted(registered_sections())}
try:
    scenario_from_mapping({"sim": {"no_show": 0.1}})
except InputError as exc:
    out["issue"] = exc.issues[0].as_dict()
import api.cli
api.cli.build_app()
out["cli"] = sorted(registered_sections())
print(json.dumps(out))
"""
    result = _fresh(code, tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["before"] == ["notices", "roster", "sms"]
    assert out["issue"]["field"] == "sim" and out["issue"]["fix"].startswith("remove it")
    assert out["cli"] == ["notices", "roster", "sim", "sms", "whatif"]
    result = _fresh("import json\nfrom sampler.params import registered_sections\nfrom api.main import create_app\n"
                    "create_app()\nprint(json.dumps(sorted(registered_sections())))", tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["notices", "roster", "sim", "sms", "whatif"]


def test_checking_every_section_imports_no_solver_or_simulator(tmp_path: Path) -> None:
    """Reading a scenario with every section loads the sections' dataclasses only: no CP-SAT, SciPy
    or SimPy (validate, plan and the upload would pay for them)."""
    code = f"""
import json, sys
from api.sections import register_all
from sampler.params import scenario_from_mapping
register_all()
scenario = scenario_from_mapping({VALID_SECTIONS!r})
print(json.dumps(sorted(scenario.sections) + [m for m in ("ortools", "scipy", "simpy") if m in sys.modules]))
"""
    result = _fresh(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == sorted(VALID_SECTIONS)


def test_the_console_script_reports_every_section(tmp_path: Path) -> None:
    """The installed `sampler validate` (a fresh process) checks every section and exits 2."""
    mapping = _base()
    for section, key, value in TYPOS:
        old = mapping.get(section)
        mapping[section] = {**(old if isinstance(old, dict) else {}), key: value}
    path = _write(tmp_path / "city", mapping)
    script = Path(sys.executable).with_name("sampler")
    result = subprocess.run([str(script), "validate", str(path)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "3000"}, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    fields = {row[2] for row in _cli_rows(result.stderr)}
    assert fields == {f"{s}.{k}" for s, k, _ in TYPOS}
