"""Exports of a plan: SMS list (planner only, the one place with full phone numbers), the list of
missing/invalid phones, building notices (HTML per building, one XLSX) and the plan workbook.

Every export is audited: who, which plan, how many records. Answers carry ``Cache-Control:
no-store`` and, for the HTML notices, a CSP without scripts or framing (api.headers)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from sqlalchemy import select

from api.deps import EngineDep, PlannerDep, SessionDep, ViewerDep, audit
from api.models import PlanBlob, Scenario
from api.routers.plans import get_plan_row
from api.schemas import PLAIN
from api.storage import read_plan_files
from sampler.errors import InputError
from sampler.io.csvsafe import to_csv
from sampler.notify.sms import SmsResult
from sampler.planfiles.read import news_only

__all__ = ["router"]

router = APIRouter(prefix="/plans/{plan_id}/exports", tags=["exports"])
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1, description="plan id")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _sms_result(session: SessionDep, engine: EngineDep, plan_id: int) -> SmsResult:
    from sampler.notify.sms import build_messages, sms_params

    plan = get_plan_row(session, plan_id)
    try:
        params = sms_params(_section(session, plan.scenario_id, "sms"), f"scenario {plan.scenario_id}")
    except InputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [i.as_dict() for i in exc.issues]) from None
    # A re-plan texts only the households whose slot changed or who were missed (as `sampler sms`).
    return build_messages(news_only(read_plan_files(engine, plan.id)), params)


def _section(session: SessionDep, scenario_id: int | None, name: str) -> Any:
    """The scenario's ``name`` section as stored (None when the plan has no scenario or it has none)."""
    scenario = session.get(Scenario, scenario_id) if scenario_id is not None else None
    return json.loads(scenario.parameters).get(name) if scenario is not None else None


def _notices_params(session: SessionDep, scenario_id: int | None) -> Any:
    """The scenario's ``notices`` section (issuer, date, hotline, grid workers) as NoticesParams."""
    from sampler.notify.notices import NoticesParams
    from sampler.params import build_section

    try:
        return build_section(NoticesParams, _section(session, scenario_id, "notices"), f"scenario {scenario_id}",
                             "notices")
    except InputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [i.as_dict() for i in exc.issues]) from None


def _scenario_of(session: SessionDep, plan_id: int) -> int | None:
    return get_plan_row(session, plan_id).scenario_id


def _csv(frame_csv: str, name: str) -> Response:
    return Response(frame_csv.encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/sms.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "household_id,phone,send_at,text,segments"}})
def export_sms(session: SessionDep, engine: EngineDep, caller: PlannerDep, plan_id: PlanId) -> Response:
    """One text per household with batched send times (full phone numbers: planner role only)."""
    result = _sms_result(session, engine, plan_id)
    s = result.summary()
    audit(engine, caller, "export.sms", plan_id=plan_id, scenario_id=_scenario_of(session, plan_id),
          records=len(result.messages))
    response = _csv(str(to_csv(result.messages)), f"plan{plan_id}_sms.csv")
    response.headers["X-SMS-Messages"] = str(s["messages"])
    response.headers["X-SMS-Segments"] = str(s["segments"])
    response.headers["X-SMS-Invalid-Phones"] = str(s["invalid_phones"])
    return response


@router.get("/sms-invalid.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "households without a valid phone"}})
def export_sms_invalid(session: SessionDep, engine: EngineDep, caller: PlannerDep, plan_id: PlanId) -> Response:
    """Households with a missing or invalid phone, for grid workers to call on or visit."""
    result = _sms_result(session, engine, plan_id)
    audit(engine, caller, "export.sms_invalid", plan_id=plan_id, scenario_id=_scenario_of(session, plan_id),
          records=len(result.invalid))
    from sampler.notify.sms import call_list

    return _csv(str(to_csv(call_list(result.invalid))), f"plan{plan_id}_sms_invalid.csv")


@router.get("/notices/{building_id}.html", response_class=Response,
            responses={200: {"content": {"text/html": {}}, "description": "printable notice"}})
def export_building_notice(request: Request, session: SessionDep, engine: EngineDep, caller: ViewerDep, plan_id: PlanId,
                           building_id: Annotated[str, Path(max_length=200, pattern=PLAIN)]) -> Response:
    """The printable notice of one building (Chinese, A4 print CSS)."""
    from sampler.notify.notices import building_notice_html, notice_rows

    plan = get_plan_row(session, plan_id)
    files = read_plan_files(engine, plan_id, [building_id])
    rows = notice_rows(files)
    if rows.empty:
        placed = files.assignments["mode"].isin(["site", "home"]).any() if len(files.assignments) else False
        raise HTTPException(status.HTTP_404_NOT_FOUND, (
            "this building gets no public notice: its households are all visited at home for their own "
            "needs, and their grid worker tells them" if placed else "no household of this building is in the plan"))
    info = files.buildings.drop_duplicates("building_id")
    building = {str(k): str(v) for k, v in info.iloc[0].items()} if len(info) else {"building_id": building_id}
    settings = request.app.state.settings
    resident_url = f"{settings.public_url.rstrip('/')}/r" if settings.public_url else ""
    window = files.summary.get("window")
    html = building_notice_html(str(files.summary.get("area", "")), building, rows, resident_url,
                                params=_notices_params(session, plan.scenario_id),
                                window_start=str(window.get("start", "")) if isinstance(window, dict) else "")
    audit(engine, caller, "export.notice", plan_id=plan_id, records=len(rows), detail=f"building {building_id}")
    return Response(html, media_type="text/html; charset=utf-8")


@router.get("/notices.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "a sheet per compound or building"}})
def export_notices_workbook(session: SessionDep, engine: EngineDep, caller: ViewerDep, plan_id: PlanId) -> Response:
    """All building notices as one workbook: a sheet per compound (per building in small areas)."""
    from sampler.notify.notices import notices_workbook

    get_plan_row(session, plan_id)
    files = news_only(read_plan_files(engine, plan_id), whole_buildings=True)  # a re-plan: affected buildings
    with tempfile.TemporaryDirectory() as tmp:
        path = FsPath(tmp) / "notices.xlsx"
        notices_workbook(files, path)
        data = path.read_bytes()
    audit(engine, caller, "export.notices", plan_id=plan_id, records=len(files.assignments))
    return Response(data, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="plan{plan_id}_notices.xlsx"'})


@router.get("/plan.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "the planner's workbook"}})
def export_plan_workbook(session: SessionDep, engine: EngineDep, caller: ViewerDep, plan_id: PlanId) -> Response:
    """The plan workbook written by the planner (summary and per-site schedules)."""
    get_plan_row(session, plan_id)
    blob = session.scalar(select(PlanBlob).where(PlanBlob.plan_id == plan_id, PlanBlob.name == "plan.xlsx"))
    if blob is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this plan was stored without a workbook")
    audit(engine, caller, "export.plan_workbook", plan_id=plan_id)
    return Response(blob.content, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="plan{plan_id}.xlsx"'})

