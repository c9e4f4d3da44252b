"""Exports over the API: SMS list with full phones for planners, notices HTML/XLSX, plan workbook."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
from fastapi.testclient import TestClient

from api.models import PlanBlob
from tests.api.conftest import auth


def test_sms_export_has_full_phones_and_counts(client: TestClient, plan_id: int) -> None:
    """The SMS CSV lists every textable household with its full phone; headers report the totals."""
    r = client.get(f"/api/v1/plans/{plan_id}/exports/sms.csv", headers=auth())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    frame = pd.read_csv(io.BytesIO(r.content), dtype=str, encoding="utf-8-sig")
    assert list(frame.columns) == ["household_id", "phone", "send_at", "text", "segments"]
    assert sorted(frame["household_id"]) == ["H001", "H002", "H004", "H006", "H007", "H008"]
    assert "13812345678" in set(frame["phone"])
    assert int(r.headers["X-SMS-Segments"]) == frame["segments"].astype(int).sum()
    assert r.headers["X-SMS-Invalid-Phones"] == "2"


def test_sms_invalid_list(client: TestClient, plan_id: int) -> None:
    """Missing and invalid phones are listed apart with the reason."""
    r = client.get(f"/api/v1/plans/{plan_id}/exports/sms-invalid.csv", headers=auth())
    frame = pd.read_csv(io.BytesIO(r.content), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert dict(zip(frame["户编号"], frame["问题"], strict=True)) == {"H003": "未登记电话", "H005": "号码无效"}
    assert frame[["网格", "小区"]].values.tolist() == [["G1", "幸福小区"], ["G1", "幸福小区"]]


def test_building_notice_html_is_escaped(client: TestClient, plan_id: int) -> None:
    """A building's notice is HTML with the slot table; names from the registry are escaped."""
    r = client.get(f"/api/v1/plans/{plan_id}/exports/notices/B3.html", headers=auth())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "&lt;b&gt;7号楼&lt;/b&gt;" in r.text and "<b>7号楼" not in r.text
    assert "11月24日 05:30-06:00" in r.text
    assert client.get(f"/api/v1/plans/{plan_id}/exports/notices/NOPE.html", headers=auth()).status_code == 404


def test_notices_workbook_opens(client: TestClient, plan_id: int) -> None:
    """The notices workbook opens and has one sheet per building in a small area."""
    r = client.get(f"/api/v1/plans/{plan_id}/exports/notices.xlsx", headers=auth())
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["3号楼", "5号楼", "<b>7号楼<_b>"]
    rows = list(book["3号楼"].iter_rows(values_only=True))
    assert rows[0][:5] == ("小区", "楼栋", "单元", "楼层", "房号")
    assert rows[1][:7] == ("幸福小区", "3号楼", "1单元", "1层", "全部", 1, 4)
    assert rows[2][:7] == ("幸福小区", "3号楼", "2单元", "5-6层", "全部", 3, 6)


def test_plan_workbook_served_when_stored(client: TestClient, plan_id: int) -> None:
    """The plan workbook is 404 until stored, then served byte for byte."""
    url = f"/api/v1/plans/{plan_id}/exports/plan.xlsx"
    assert client.get(url, headers=auth()).status_code == 404
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        session.add(PlanBlob(plan_id=plan_id, name="plan.xlsx", content=b"PK-fake-xlsx"))
        session.commit()
    r = client.get(url, headers=auth())
    assert r.status_code == 200 and r.content == b"PK-fake-xlsx"


def test_building_notice_has_a_qr_code_when_the_public_address_is_set(client: TestClient, plan_id: int) -> None:
    """With SAMPLER_PUBLIC_URL the notice carries a QR code to its /r page (and no QR without it)."""
    url = f"/api/v1/plans/{plan_id}/exports/notices/B3.html"
    assert "<svg" not in client.get(url, headers=auth()).text
    client.app.state.settings = client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"public_url": "https://hs.example.gov.cn/"})
    text = client.get(url, headers=auth()).text
    assert "<svg" in text and "https://hs.example.gov.cn/r" in text


def test_building_notice_is_signed_by_the_scenarios_notices_section(client: TestClient, plan_id: int) -> None:
    """The API's notice carries the issuer, date and hotline of the plan's scenario, as `sampler
    notices --scenario` prints them; a bad section is a 422 naming the field."""
    import json

    from api.models import Plan, Scenario

    section = {"issuer": "幸福街道疫情防控指挥部", "date": "2022-11-22", "hotline": "0599-3821234"}
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        scenario = Scenario(name="s", area="幸福街道", parameters=json.dumps({"notices": section}, ensure_ascii=False))
        session.add(scenario)
        session.flush()
        plan = session.get(Plan, plan_id)
        assert plan is not None
        plan.scenario_id = scenario.id
        session.commit()
        scenario_id = scenario.id
    text = client.get(f"/api/v1/plans/{plan_id}/exports/notices/B3.html", headers=auth()).text
    assert "幸福街道疫情防控指挥部" in text and "0599-3821234" in text and "2022年11月22日" in text
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        row = session.get(Scenario, scenario_id)
        assert row is not None
        row.parameters = json.dumps({"notices": {"date": "22/11/2022"}})
        session.commit()
    r = client.get(f"/api/v1/plans/{plan_id}/exports/notices/B3.html", headers=auth())
    assert r.status_code == 422 and "date" in r.text
