"""The sampling day through the API: check-ins, status, missed list, follow-ups, roles, public sites."""

from __future__ import annotations

import io
from collections.abc import Callable

import openpyxl
from fastapi.testclient import TestClient

from sampler.day.codes import resident_codes
from tests.api.conftest import CODE_SECRET, auth
from tests.api.plandir import AREA, HOUSEHOLDS, UNPLACED

IDS = [h[0] for h in HOUSEHOLDS] + [u[0] for u in UNPLACED]
CODES = dict(zip(IDS, resident_codes(AREA, IDS, CODE_SECRET.encode()), strict=True))


def _checkin(client: TestClient, plan_id: int, rows: list[dict[str, object]], key: str | None = None) -> dict:
    r = client.post(f"/api/v1/plans/{plan_id}/checkins", json={"checkins": rows}, headers=auth(key) if key else auth())
    assert r.status_code == 200, r.text
    return r.json()


def test_checkins_idempotent_and_rejections_keep_the_rest(client: TestClient, plan_id: int) -> None:
    """A re-sent batch counts once; bad rows are rejected with their reason, the rest is stored."""
    rows = [
        {"id": "d1-1", "code": CODES["H001"], "site_id": "S1", "at": "2022-11-23T08:10:00+08:00", "people": 3},
        {"id": "d1-2", "household_id": "H005", "site_id": "S1", "at": "2022-11-23T09:05:00+08:00"},  # planned S2
        {"id": "d1-3", "code": "ZZZZZZZZ", "site_id": "S1", "at": "2022-11-23T09:05:00+08:00", "people": 1},
        {"id": "d1-4", "code": CODES["H002"], "site_id": "S9", "at": "2022-11-23T09:05:00+08:00", "people": 1},
        {"id": "d1-5", "code": CODES["H002"], "site_id": "S1", "at": "2022-11-25T09:05:00+08:00", "people": 1},
        {"id": "d1-6", "code": CODES["H002"], "site_id": "S1", "at": "2022-11-23T09:05:00+08:00", "people": 3},
    ]
    first = _checkin(client, plan_id, rows)
    assert first["accepted"] == 2 and first["duplicates"] == 0
    assert [r["index"] for r in first["rejected"]] == [2, 3, 4, 5]
    again = _checkin(client, plan_id, rows)
    assert again["accepted"] == 0 and again["duplicates"] == 2
    status = client.get(f"/api/v1/plans/{plan_id}/status?by=site&at=2022-11-23T10:00:00%2B08:00", headers=auth()).json()
    by = {r["key"]: r for r in status["data"]}
    assert by["S1"]["sampled_people"] == 3 + 2 and by["S1"]["sampled_households"] == 2
    assert by["S2"]["sampled_people"] == 0
    area = client.get(f"/api/v1/plans/{plan_id}/status?at=2022-11-23T08:40:00%2B08:00", headers=auth()).json()["data"][0]
    # due by 08:40: H001-H003 (slot ends 08:30): 3 + 2 + 1 people, of whom H001's 3 are sampled
    assert area["due_people"] == 6 and area["behind_people"] == 3 and area["sampled_people"] == 5


def test_missed_list_followups_and_the_workbook(client: TestClient, plan_id: int, make_key: Callable[..., str]) -> None:
    """Missed households after the grace time; a grid key sees its grid with phones and closes one."""
    _checkin(client, plan_id, [{"id": "x", "code": CODES["H001"], "site_id": "S1",
                                "at": "2022-11-23T08:10:00+08:00", "people": 3}])
    at = "2022-11-23T09:10:00%2B08:00"  # slots ending 08:30 are over 30 min ago; 09:00 is not
    body = client.get(f"/api/v1/plans/{plan_id}/missed?at={at}", headers=auth()).json()
    assert [m["household_id"] for m in body["data"]] == ["H002", "H003"] and body["count"] == 2
    assert body["data"][0]["phone"] == "13912340002" and body["data"][0]["address"] == "3号楼2单元502"
    grid = make_key("grid", grids=["G2"])
    end = "2022-11-24T06:00:00%2B08:00"
    g2 = client.get(f"/api/v1/plans/{plan_id}/missed?at={end}", headers=auth(grid)).json()
    assert sorted(m["household_id"] for m in g2["data"]) == ["H008", "H009"]
    assert client.get(f"/api/v1/plans/{plan_id}/missed?at={end}&grid=G1", headers=auth(grid)).status_code == 403
    r = client.post(f"/api/v1/plans/{plan_id}/followups", headers=auth(grid), json={"followups": [
        {"household_id": "H009", "outcome": "away"}, {"household_id": "H002", "outcome": "refused"}]})
    assert r.status_code == 200 and r.json()["recorded"] == 1 and r.json()["rejected"][0]["index"] == 1
    g2 = client.get(f"/api/v1/plans/{plan_id}/missed?at={end}", headers=auth(grid)).json()
    assert [m["household_id"] for m in g2["data"]] == ["H008"]
    viewer = make_key("viewer")
    seen = client.get(f"/api/v1/plans/{plan_id}/missed?at={end}", headers=auth(viewer)).json()
    assert seen["count"] == 7 and all(m["phone"] is None and m["contact"] is None for m in seen["data"])
    xlsx = client.get(f"/api/v1/plans/{plan_id}/missed.xlsx?at={end}", headers=auth())
    assert xlsx.status_code == 200 and xlsx.headers["cache-control"] == "no-store"
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert wb.sheetnames == ["G1", "G2"]
    ws = wb["G1"]
    assert ws.page_setup.paperSize == 9 and ws.print_title_rows == "$1:$2"
    assert [c.value for c in ws[2]][:4] == ["网格", "小区", "住址", "户编号"]
    assert [c.value for c in ws[3]][3] == "H002" and [c.value for c in ws[3]][9] == "13912340002"


def test_roles_site_keys_check_in_only_at_their_sites(client: TestClient, plan_id: int,
                                                      make_key: Callable[..., str]) -> None:
    """A site key checks in at its own sites and reads their status only; a grid key cannot check in."""
    site = make_key("site", sites=["S2"])
    out = _checkin(client, plan_id, [
        {"id": "s1", "code": CODES["H005"], "site_id": "S2", "at": "2022-11-23T09:10:00+08:00", "people": 2},
        {"id": "s2", "code": CODES["H001"], "site_id": "S1", "at": "2022-11-23T09:10:00+08:00", "people": 1},
    ], key=site)
    assert out["accepted"] == 1 and out["rejected"][0]["index"] == 1
    assert client.get(f"/api/v1/plans/{plan_id}/status?by=grid", headers=auth(site)).status_code == 403
    rows = client.get(f"/api/v1/plans/{plan_id}/status?by=site", headers=auth(site)).json()["data"]
    assert [r["key"] for r in rows] == ["S2"]
    assert client.get(f"/api/v1/plans/{plan_id}/missed", headers=auth(site)).status_code == 403
    grid = make_key("grid", grids=["G1"])
    assert client.post(f"/api/v1/plans/{plan_id}/checkins", json={"checkins": []}, headers=auth(grid)).status_code == 403


def test_public_sites_show_queue_status_without_personal_data(client: TestClient, plan_id: int) -> None:
    """No key: each site with 畅通/忙碌/拥堵 from the queue due; closed before the window; no names or phones."""
    r = client.get("/api/v1/public/sites?at=2022-11-23T08:10:00%2B08:00")
    assert r.status_code == 200
    sites = {s["site_id"]: s for s in r.json()["data"]}
    assert set(sites) == {"S1", "S2"} and sites["S1"]["status"] == "畅通"
    assert sites["S1"]["queue_people"] == 3 + 2 + 1  # slot 08:00 started, nobody sampled yet
    assert "1381234" not in r.text and "张三" not in r.text
    before = client.get("/api/v1/public/sites?at=2022-11-23T05:00:00%2B08:00").json()["data"]
    assert {s["status"] for s in before} == {"未开放"}


def test_the_day_uses_the_codes_stored_with_the_plan(client: TestClient) -> None:
    """Check-ins match the code the plan stored (and its SMS carried); blank stored codes are keyed anew."""
    from api.storage import store_plan
    from tests.api.plandir import plan_frames, plan_summary

    frames = plan_frames()
    for name in ("assignments", "contacts"):
        t = frames[name]
        t.loc[t["household_id"] == "H001", "code"] = "ZZZZ2345"
        t.loc[t["household_id"] == "H002", "code"] = ""
    plan_id = store_plan(client.app.state.engine, plan_summary(), frames)  # type: ignore[attr-defined]
    at = "2022-11-23T08:10:00+08:00"
    out = _checkin(client, plan_id, [
        {"id": "a", "code": "ZZZZ2345", "site_id": "S1", "at": at, "people": 1},
        {"id": "b", "code": CODES["H001"], "site_id": "S1", "at": at, "people": 1},
        {"id": "c", "code": CODES["H002"], "site_id": "S1", "at": at, "people": 1},
    ])
    assert out["accepted"] == 2 and [r["index"] for r in out["rejected"]] == [1]
