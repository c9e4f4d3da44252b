"""Building notices: floors from rooms, merged floor runs, escaped HTML, the workbook, the CLI."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from api.cli import app
from sampler.notify.notices import floor_of, notice_rows, safe_name, write_notices
from sampler.planfiles.read import read_plan
from tests.api.plandir import write_plan_dir


def test_floor_of_room_numbers() -> None:
    """501 is floor 5, 1203 floor 12, 3-1201 floor 12; short or non-numeric rooms are unknown."""
    assert [floor_of(r) for r in ("501", "1203", "3-1201", "12", "东户", "")] == [5, 12, 12, None, None, None]


def test_rows_merge_consecutive_floors(tmp_path: Path) -> None:
    """Floors called together in one slot are merged into a run (5-6层) with summed households."""
    rows = notice_rows(read_plan(write_plan_dir(tmp_path / "p")))
    b1 = rows[rows["building_id"] == "B1"]
    assert b1[["unit", "floors", "rooms", "households", "people"]].values.tolist() == [
        ["1", "1层", "全部", 1, 4], ["2", "5-6层", "全部", 3, 6]]
    # B2 goes to a site: its one home-visit household (H007) gets no row of its own on a public notice.
    assert rows.loc[rows["mode"] == "home"].empty
    assert rows[rows["building_id"] == "B2"]["households"].sum() == 2


def test_write_notices_is_deterministic_and_escaped(tmp_path: Path) -> None:
    """Every building gets an escaped HTML notice; two runs give identical bytes."""
    plan = read_plan(write_plan_dir(tmp_path / "p"))
    first = write_notices(plan, tmp_path / "a")
    write_notices(plan, tmp_path / "b")
    assert first.buildings == 3
    for name in ("B1.html", "B2.html", "B3.html", "index.html", "grid-01.html", "grid-02.html", "notices.xlsx"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    html = (tmp_path / "a" / "B3.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;7号楼&lt;/b&gt;" in html and "<b>" not in html and "@page" in html
    book = openpyxl.load_workbook(first.workbook)
    assert len(book.sheetnames) == 3


def test_safe_name_keeps_ids_readable() -> None:
    """File names keep letters, digits and Chinese, and replace path characters."""
    assert safe_name("幸福-3号楼") == "幸福-3号楼"
    assert safe_name("../x/y") == "_x_y"


def test_cli_notices(tmp_path: Path) -> None:
    """`sampler notices` writes the notices directory; a missing plan directory exits 2."""
    plandir = write_plan_dir(tmp_path / "plan")
    r = CliRunner().invoke(app, ["notices", str(plandir), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "B1.html").is_file()
    assert CliRunner().invoke(app, ["notices", str(tmp_path / "nope"), "-o", str(tmp_path / "o2")]).exit_code == 2


def test_floor_runs_with_gaps_and_unknown_rooms() -> None:
    """Floors 1,2,3,5,6 read 1-3层、5-6层; rooms without a floor are listed by room under 其他."""
    import pandas as pd

    from sampler.planfiles.read import PlanFiles

    rooms = ["101", "201", "301", "501", "东户", "601", "西户", "北户"]
    slots = ["2022-11-23 08:00"] * 6 + ["2022-11-23 09:00"] * 2
    a = pd.DataFrame({"household_id": [f"H{i}" for i in range(8)], "building_id": "B", "unit": "1",
                      "room": rooms, "size": 2, "mode": "site", "site_id": "S", "slot_start": slots,
                      "slot_end": [s[:-5] + ("08:30" if s.endswith("08:00") else "09:30") for s in slots]})
    empty = pd.DataFrame()
    plan = PlanFiles(Path("."), {}, a, empty, empty, empty, empty,
                     pd.DataFrame({"site_id": ["S"], "name": ["二中"]}), empty)
    rows = notice_rows(plan)
    assert rows[["floors", "rooms", "households", "people"]].values.tolist() == [
        ["1-3层、5-6层", "全部", 5, 10], ["其他", "东户", 1, 2], ["其他", "北户、西户", 2, 4]]


def test_notices_carry_a_qr_code_to_the_resident_page_and_no_codes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """--resident-url puts segno's QR of that address on every notice; no household's code is printed."""
    import segno

    cli = app
    plan_dir = write_plan_dir(tmp_path / "plan")
    url = "https://hs.example.gov.cn/r"
    out = tmp_path / "notices"
    result = CliRunner().invoke(cli, ["notices", str(plan_dir), "-o", str(out), "--resident-url", url])
    assert result.exit_code == 0, result.output
    qr = str(segno.make(url, error="m").svg_inline(scale=4, border=2, title="居民查询二维码"))
    codes = set(read_plan(plan_dir).assignments["code"])
    pages = [p for p in out.glob("*.html") if p.name != "index.html"]
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert qr in text and url in text
        assert not any(code in text for code in codes)
    bad = CliRunner().invoke(cli, ["notices", str(plan_dir), "-o", str(tmp_path / "n2"), "--resident-url", "hs/r"])
    assert bad.exit_code == 2 and "--resident-url" in bad.output
