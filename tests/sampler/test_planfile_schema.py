"""The plan-file schema is the one definition: writer, reader, SMS check and docs all follow it."""

from __future__ import annotations

import shutil
from dataclasses import fields, replace
from pathlib import Path

import pandas as pd
import pytest

from sampler.errors import InputError
from sampler.notify.sms import check_plan_columns
from sampler.params import HomeVisitParams, Scenario, WindowParams
from sampler.plan.planner import Plan, make_plan
from sampler.planfiles import schema
from sampler.planfiles.read import PlanFiles, read_plan
from sampler.planfiles.schema import TABLES, TEXT, PlanColumn
from sampler.planfiles.write import plan_frames, write_plan
from tests.sampler.cities import random_city

DOCS = Path(__file__).resolve().parents[2] / "docs" / "formats.md"


@pytest.fixture(scope="module")
def plan() -> Plan:
    """A plan with site households, home visits and unplaced households (a 1-hour window, 1 team)."""
    sc = Scenario(window=WindowParams(hours=1.0), home_visits=HomeVisitParams(teams=1))
    return make_plan(sc, random_city(6, 40, 2, sealed_share=0.3))


def _assert_schema(frames: dict[str, pd.DataFrame]) -> None:
    assert list(frames) == list(TABLES)
    for name, frame in frames.items():
        assert list(frame.columns) == TABLES[name].names, name
        assert {c: frame[c].dtype for c in frame.columns} == TABLES[name].dtypes, name


def test_the_plan_has_every_kind_of_row(plan: Plan) -> None:
    """The fixture exercises every table: site rows, home visits and unplaced households."""
    frames = plan_frames(plan)
    assert set(frames["assignments"]["mode"]) == {"site", "home"}
    assert len(frames["home_visits"]) > 0 and len(frames["unplaced"]) > 0


def test_writer_frames_are_exactly_the_schema(plan: Plan) -> None:
    """plan_frames gives every schema table with its columns, in order, and its dtypes."""
    _assert_schema(plan_frames(plan))


def test_reader_gives_back_the_writers_frames(plan: Plan, tmp_path: Path) -> None:
    """read_plan(write_plan(plan)) has the schema's dtypes and equals the written frames exactly."""
    write_plan(plan, tmp_path / "p", xlsx=False)
    files = read_plan(tmp_path / "p")
    frames = {name: getattr(files, name) for name in TABLES}
    _assert_schema(frames)
    for name, frame in plan_frames(plan).items():
        pd.testing.assert_frame_equal(frames[name], frame, check_exact=True, obj=name)
    assert frames["assignments"].loc[frames["assignments"]["mode"] == "site", "team"].isna().all()


def test_arrow_and_pandas_readers_agree(plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast Arrow reader of well-formed tables gives exactly what the pandas path gives (which
    stays for files with a bad value, to name it); a fractional size falls back and is named."""
    import sampler.planfiles.read as reader

    write_plan(plan, tmp_path / "p", xlsx=False)
    fast = read_plan(tmp_path / "p")
    monkeypatch.setattr(reader, "_read_arrow", lambda path, columns: None)
    slow = read_plan(tmp_path / "p")
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(slow, name), check_exact=True, obj=name)
    monkeypatch.undo()
    path = tmp_path / "p" / "assignments.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "size"] = "2.5"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        read_plan(tmp_path / "p")
    assert [(i.row, i.field, i.value) for i in err.value.issues] == [(1, "size", "2.5")]


def test_plan_files_has_a_field_per_schema_table() -> None:
    """PlanFiles holds every table of the schema and nothing else but the directory and summary."""
    assert [f.name for f in fields(PlanFiles)] == ["directory", "summary", *TABLES]


def test_docs_formats_md_is_generated_from_the_schema() -> None:
    """docs/formats.md holds exactly the generated tables; fix with the command in the message."""
    text = DOCS.read_text(encoding="utf-8")
    assert schema.update_markdown(text) == text, \
        "docs/formats.md is out of date: run python -m sampler.planfiles.schema --update docs/formats.md"
    assert schema.markdown() in text


def test_markdown_command_prints_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m sampler.planfiles.schema --markdown` prints the block; a bad argument gives usage, exit 2."""
    assert schema.main(["--markdown"]) == 0
    assert capsys.readouterr().out == schema.markdown()
    assert schema.main(["--bogus"]) == 2


def test_adding_a_column_is_one_edit(plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One new column in the schema reaches the docs, the reader, the SMS check and the writer's check."""
    write_plan(plan, tmp_path / "old", xlsx=False)
    contacts = TABLES["contacts"]
    extended = replace(contacts, columns=(*contacts.columns, PlanColumn("language", TEXT, "preferred language")))
    monkeypatch.setitem(TABLES, "contacts", extended)  # type: ignore[index]
    assert "| language | text | preferred language |" in schema.markdown()
    with pytest.raises(ValueError, match="language"):
        plan_frames(plan)  # the writer must compute it
    with pytest.raises(InputError) as err:
        read_plan(tmp_path / "old")
    assert [(Path(i.file).name, i.field, i.value) for i in err.value.issues] == [
        ("contacts.csv", "language", "(missing column)")]
    monkeypatch.setitem(TABLES, "contacts", contacts)  # type: ignore[index]
    files = read_plan(tmp_path / "old")
    monkeypatch.setitem(TABLES, "contacts", extended)  # type: ignore[index]
    with pytest.raises(InputError, match="language"):
        check_plan_columns(files)


def test_a_text_column_cannot_be_blank_able() -> None:
    """Only integer columns have a blank state; text uses ''."""
    with pytest.raises(ValueError, match="only int"):
        PlanColumn("x", TEXT, "x", blank=True)


def test_conform_refuses_other_columns() -> None:
    """A frame with a column missing or out of order is refused with both lists named."""
    table = TABLES["unplaced"]
    frame = pd.DataFrame({"household_id": ["h"], "size": [1], "building_id": ["b"], "reason": [""]})
    with pytest.raises(ValueError, match="building_id"):
        table.conform(frame)
    good = table.conform(frame[table.names])
    assert good["size"].dtype == "int64" and good["household_id"].tolist() == ["h"]


def _copy(plan: Plan, tmp_path: Path) -> Path:
    d = tmp_path / "p"
    write_plan(plan, d, xlsx=False)
    return d


def test_bad_cells_name_file_row_column_and_value(plan: Plan, tmp_path: Path) -> None:
    """Numbers that do not parse are reported with their row, not as a crash; a blank integer only where
    the schema allows it (a blank float is NaN)."""
    d = _copy(plan, tmp_path)
    lines = (d / "assignments.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = [line.split(",") for line in lines[1:4]]
    cells[0][header.index("size")] = "2.5"
    cells[1][header.index("walk_minutes")] = "far"
    cells[1][header.index("over_max_walk")] = ""
    cells[2][header.index("team")] = "x"
    (d / "assignments.csv").write_text("\n".join([lines[0], *(",".join(c) for c in cells), *lines[4:]]) + "\n",
                                       encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_plan(d)
    assert [(Path(i.file).name, i.row, i.field, i.value) for i in err.value.issues] == [
        ("assignments.csv", 1, "size", "2.5"), ("assignments.csv", 3, "team", "x"),
        ("assignments.csv", 2, "walk_minutes", "far"), ("assignments.csv", 2, "over_max_walk", "")]  # by column


def test_blank_numbers_read_as_missing_where_allowed(plan: Plan, tmp_path: Path) -> None:
    """An empty float cell is NaN and an empty team is <NA>; the dtypes stay the schema's."""
    d = _copy(plan, tmp_path)
    lines = (d / "assignments.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("walk_minutes")] = ""
    (d / "assignments.csv").write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", encoding="utf-8")
    a = read_plan(d).assignments
    assert pd.isna(a["walk_minutes"].iloc[0]) and a["walk_minutes"].iloc[1:].notna().all()
    assert {c: a[c].dtype for c in a.columns} == TABLES["assignments"].dtypes


def test_missing_files_and_broken_json_are_input_errors(plan: Plan, tmp_path: Path) -> None:
    """A missing table or an unreadable plan.json is an InputError naming the file."""
    d = _copy(plan, tmp_path)
    shutil.copy(d / "sites.csv", tmp_path / "sites.csv")
    (d / "sites.csv").unlink()
    with pytest.raises(InputError) as err:
        read_plan(d)
    assert [Path(i.file).name for i in err.value.issues] == ["sites.csv"]
    shutil.copy(tmp_path / "sites.csv", d / "sites.csv")
    (d / "plan.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_plan(d)
    assert [Path(i.file).name for i in err.value.issues] == ["plan.json"]


def test_hostile_csv_is_an_input_error(plan: Plan, tmp_path: Path) -> None:
    """Bytes that are not UTF-8 or not CSV give InputError for that file."""
    d = _copy(plan, tmp_path)
    (d / "unplaced.csv").write_bytes(b"household_id,building_id,size,reason\n\xff\xfe,\x00,1,\"unclosed\n")
    with pytest.raises(InputError) as err:
        read_plan(d)
    assert {Path(i.file).name for i in err.value.issues} == {"unplaced.csv"}
