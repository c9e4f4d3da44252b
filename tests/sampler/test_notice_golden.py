"""Golden tests of building notices: a sealed, a mixed and an ordinary building, compared exactly.

The plan is a small fixed one built here (`_plan_dir`): a sealed building (封控区) sampled door to
door, a mixed building that goes to a site but holds two households visited at home for their
needs (one alone on its floor, one beside neighbours) and a floor split between two times, an
ordinary building whose floors merge into runs, and a village house whose only household is
bedridden. Each notice's HTML is compared byte for byte with ``tests/sampler/golden/<name>.html``.

To regenerate the goldens after a deliberate change to the notice templates or rows, run::

    SAMPLER_UPDATE_GOLDEN=1 python -m pytest tests/sampler/test_notice_golden.py

and review the diff of ``tests/sampler/golden/`` before committing it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sampler.notify.notices import NoticesParams, notice_rows, write_notices
from sampler.planfiles.read import read_plan

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SAMPLER_UPDATE_GOLDEN", "") not in ("", "0")

SEALED = "sealed zone (封控区): door-to-door"  # the planner's reasons (sampler.plan.geo / problem)
DISABLED = "special needs (disabled): cannot travel"
BEDRIDDEN = "special needs (bedridden): cannot travel"

# household_id, building_id, unit, room, size, mode, site_id, team, slot_start, home reason
HOUSEHOLDS = [
    # Sealed: every household at home, two units, times by floor.
    ("F01", "BS", "1", "101", 2, "home", "", "1", "2022-11-23 08:00", SEALED),
    ("F02", "BS", "1", "102", 3, "home", "", "1", "2022-11-23 08:00", SEALED),
    ("F03", "BS", "1", "201", 1, "home", "", "1", "2022-11-23 08:30", SEALED),
    ("F04", "BS", "2", "101", 4, "home", "", "2", "2022-11-23 08:00", SEALED),
    ("F05", "BS", "2", "301", 2, "home", "", "2", "2022-11-23 09:00", SEALED),
    # Mixed: a site building; M04 is alone on floor 4 and M07 shares floor 6 with M06, both at home.
    ("M01", "BM", "1", "101", 3, "site", "S1", "", "2022-11-23 07:00", ""),
    ("M02", "BM", "1", "201", 2, "site", "S1", "", "2022-11-23 07:00", ""),
    ("M03", "BM", "1", "301", 2, "site", "S1", "", "2022-11-23 07:00", ""),
    ("M04", "BM", "1", "401", 1, "home", "", "1", "2022-11-23 10:00", BEDRIDDEN),
    ("M05", "BM", "1", "501", 2, "site", "S1", "", "2022-11-23 07:00", ""),
    ("M06", "BM", "1", "601", 3, "site", "S1", "", "2022-11-23 07:30", ""),
    ("M07", "BM", "1", "602", 1, "home", "", "1", "2022-11-23 10:30", DISABLED),
    ("M08", "BM", "2", "101", 2, "site", "S1", "", "2022-11-23 07:30", ""),
    ("M09", "BM", "2", "102", 4, "site", "S1", "", "2022-11-23 08:00", ""),
    ("M10", "BM", "2", "东户", 2, "site", "S1", "", "2022-11-23 08:00", ""),
    # Ordinary: floors 1-3 together, 4-5 later, in one unit.
    ("O01", "BO", "1", "101", 3, "site", "S2", "", "2022-11-23 09:00", ""),
    ("O02", "BO", "1", "201", 2, "site", "S2", "", "2022-11-23 09:00", ""),
    ("O03", "BO", "1", "301", 1, "site", "S2", "", "2022-11-23 09:00", ""),
    ("O04", "BO", "1", "401", 2, "site", "S2", "", "2022-11-23 09:30", ""),
    ("O05", "BO", "1", "501", 5, "site", "S2", "", "2022-11-23 09:30", ""),
    # A village house of one bedridden resident: no public notice at all.
    ("V01", "BV", "", "101", 1, "home", "", "2", "2022-11-23 11:00", BEDRIDDEN),
]
BUILDINGS = {  # name, grid, compound, risk zone
    "BS": ("1号楼", "芝山社区第一网格", "芝山花园", "sealed"),
    "BM": ("2号楼", "芝山社区第一网格", "芝山花园", "precaution"),
    "BO": ("3号楼", "芝山社区第二网格", "府前小区", "precaution"),
    "BV": ("6号", "丰乐村第二网格", "下坊组", "precaution"),
}
PARAMS = NoticesParams(issuer="芝山街道新冠肺炎疫情防控指挥部", date="2022-11-22", hotline="0599-3821234",
                       grid_workers={"芝山社区第一网格": "王芳 13905991234"})
NAMES = {"BS": "sealed", "BM": "mixed", "BO": "ordinary"}


def _end(start: str) -> str:
    return (pd.Timestamp(start) + pd.Timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M")


def _plan_dir(directory: Path) -> Path:
    """Write the fixed plan as a plan directory (docs/formats.md columns)."""
    directory.mkdir(parents=True)
    rows: list[dict[str, Any]] = [dict(zip(("household_id", "building_id", "unit", "room", "size", "mode", "site_id", "team",
                      "slot_start", "reason"), h, strict=True)) for h in HOUSEHOLDS]
    a = pd.DataFrame([{**{k: r[k] for k in ("household_id", "building_id", "unit", "room", "size", "mode",
                                              "site_id", "team", "slot_start")},
                       "code": f"C{r['household_id']}ABCDE"[:8], "slot_end": _end(r["slot_start"]),
                       "walk_minutes": 3.0 if r["mode"] == "site" else "", "over_max_walk": 0,
                       "extra_walk_minutes": 0.0} for r in rows])
    a = a[["household_id", "code", "building_id", "unit", "room", "size", "mode", "site_id", "team", "slot_start",
           "slot_end", "walk_minutes", "over_max_walk", "extra_walk_minutes"]]
    cells: dict[tuple[str, str, str, str], list[int]] = {}
    for r in rows:
        cells.setdefault((r["building_id"], r["mode"], r["site_id"], r["slot_start"]), []).append(int(r["size"]))
    buildings = pd.DataFrame([
        {"building_id": b, "name": BUILDINGS[b][0], "grid": BUILDINGS[b][1], "compound": BUILDINGS[b][2],
         "risk_zone": BUILDINGS[b][3], "mode": m, "site_id": s, "slot_start": t, "slot_end": _end(t),
         "households": len(sizes), "people": sum(sizes)} for (b, m, s, t), sizes in sorted(cells.items())])
    home = pd.DataFrame([{"household_id": r["household_id"], "building_id": r["building_id"], "unit": r["unit"],
                          "room": r["room"], "size": r["size"], "team": r["team"], "stop": k + 1,
                          "slot_start": r["slot_start"], "slot_end": _end(r["slot_start"]),
                          "arrival": r["slot_start"], "reason": r["reason"]}
                         for k, r in enumerate(x for x in rows if x["mode"] == "home")])
    sites = pd.DataFrame([
        {"site_id": "S1", "name": "芝山小学操场采样点", "lon": 118.32, "lat": 27.03, "tables": 2, "rate": 80.0,
         "open": "06:00", "close": "22:00", "serves": "", "queue_m": 100.0, "slot_capacity": 40},
        {"site_id": "S2", "name": "府前社区服务中心采样点", "lon": 118.33, "lat": 27.04, "tables": 2, "rate": 80.0,
         "open": "06:00", "close": "22:00", "serves": "", "queue_m": 100.0, "slot_capacity": 40}])
    load = pd.DataFrame([{"site_id": s, "slot_start": "2022-11-23 07:00", "people": 0, "capacity": 40}
                         for s in ("S1", "S2")])
    unplaced = pd.DataFrame(columns=["household_id", "building_id", "size", "reason"])
    contacts = pd.DataFrame([{"household_id": r["household_id"], "code": "", "contact": "张三",
                              "phone": "13812345678"} for r in rows])
    for name, frame in {"assignments": a, "site_load": load, "buildings": buildings, "home_visits": home,
                        "unplaced": unplaced, "sites": sites, "contacts": contacts}.items():
        frame.to_csv(directory / f"{name}.csv", index=False, encoding="utf-8")
    summary = {"area": "芝山街道", "households": len(rows), "people": sum(int(r["size"]) for r in rows),
               "window": {"start": "2022-11-23 06:00", "hours": 24, "slot_minutes": 30}}
    (directory / "plan.json").write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def notices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("golden")
    out = base / "notices"
    result = write_notices(read_plan(_plan_dir(base / "plan")), out, params=PARAMS)
    assert (result.buildings, result.without_notice) == (3, 1)
    return out


@pytest.mark.parametrize("building", ["BS", "BM", "BO"])
def test_notice_matches_golden(notices: Path, building: str) -> None:
    """Each notice is exactly its golden file (SAMPLER_UPDATE_GOLDEN=1 rewrites them)."""
    html = (notices / f"{building}.html").read_text(encoding="utf-8")
    golden = GOLDEN / f"notice_{NAMES[building]}.html"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(html, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run with SAMPLER_UPDATE_GOLDEN=1 to write it"
    assert html == golden.read_text(encoding="utf-8")


def _rows_text(html: str) -> list[list[str]]:
    """The table rows of a notice as cell texts."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_sealed_notice_says_stay_at_home(notices: Path) -> None:
    """A sealed building is told 上门采样，请在家等候 and never to go downstairs to a site."""
    html = (notices / "BS.html").read_text(encoding="utf-8")
    assert "上门采样，请在家等候" in html and "封控区" in html
    assert "下楼到" not in html and "分批下楼" not in html
    rows = _rows_text(html)
    assert [r[:4] for r in rows] == [["1单元", "1层", "全部", "11月23日 08:00-08:30"],
                                     ["1单元", "2层", "全部", "11月23日 08:30-09:00"],
                                     ["2单元", "1层", "全部", "11月23日 08:00-08:30"],
                                     ["2单元", "3层", "全部", "11月23日 09:00-09:30"]]
    assert all(r[4] == "上门采样，请在家等候" for r in rows)


def test_mixed_notice_points_out_no_household(notices: Path) -> None:
    """The mixed building's home-visit households (bedridden, disabled) have no row, no time and no
    reason: floor 4 (only a bedridden resident) does not break the run 1-5层, and floor 6 lists
    just its site household's room."""
    html = (notices / "BM.html").read_text(encoding="utf-8")
    rows = _rows_text(html)
    assert rows == [["1单元", "1-5层", "全部", "11月23日 07:00-07:30", "芝山小学操场采样点"],
                    ["1单元", "6层", "全部", "11月23日 07:30-08:00", "芝山小学操场采样点"],
                    ["2单元", "1层", "101", "11月23日 07:30-08:00", "芝山小学操场采样点"],
                    ["2单元", "1层", "102", "11月23日 08:00-08:30", "芝山小学操场采样点"],
                    ["2单元", "其他", "东户", "11月23日 08:00-08:30", "芝山小学操场采样点"]]
    assert "10:00" not in html and "10:30" not in html  # the home-visit times
    assert "401" not in html and "602" not in html


def test_no_public_page_names_a_reason_or_a_lone_home_visit(notices: Path) -> None:
    """No notice, grid page or index carries a reason (卧床, 失能, special needs …); the village
    house of one bedridden resident gets no notice, and no page has a home-visit row of one
    household outside a sealed building."""
    assert not (notices / "BV.html").exists()
    words = ("卧床", "失能", "残疾", "special", "needs", "bedridden", "disabled", "cannot travel")
    for page in notices.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not any(w in text for w in words), page.name
        assert "6号" not in text and "下坊组" not in text, page.name
    rows = notice_rows(read_plan(notices.parent / "plan"))
    home = rows[rows["mode"] == "home"]
    assert set(home["building_id"]) == {"BS"}


def test_workbook_has_no_lone_home_row(notices: Path) -> None:
    """notices.xlsx holds the same public rows: nothing of the bedridden village household."""
    import openpyxl

    book = openpyxl.load_workbook(notices / "notices.xlsx")
    cells = {str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None}
    assert "6号" not in cells and "下坊组" not in cells and "401" not in cells
