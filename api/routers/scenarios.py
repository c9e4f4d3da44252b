"""Scenarios: upload registry files and parameters (validated like `sampler validate`), list, get, delete.

An upload is either households + buildings + sites or a person-level roster: persons + compounds +
sites. A roster is stored as the households, buildings and sites it was read into (WGS-84,
``registry.crs: wgs84``), never as the roster itself: identity numbers never reach the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import delete, func, select

from api.deps import PlannerDep, SessionDep, SettingsDep, ViewerDep
from api.models import Plan, Scenario, ScenarioFile
from api.schemas import Message, ScenarioPublic, ScenariosPublic
from api.scratch import scratch_dir
from api.settings import Settings
from api.uploads import (
    PERSON_ROLES,
    ROLES,
    ParseResult,
    UploadLimits,
    UploadTooCostly,
    parse_in_child,
)
from sampler.errors import InputError, InputIssue

__all__ = ["limits_of", "router", "scenario_public"]

router = APIRouter(prefix="/scenarios", tags=["scenarios"])
_SUFFIXES = (".csv", ".xlsx", ".txt")
_ROSTER_SUFFIXES = (*_SUFFIXES, ".xls")  # a roster and its compounds may be legacy workbooks
_LABELS = {"households": "住户登记表", "buildings": "楼栋表", "sites": "采样点表", "persons": "人员花名册",
           "compounds": "小区表"}


def scenario_public(row: Scenario) -> ScenarioPublic:
    """The wire form of a stored scenario."""
    return ScenarioPublic(id=row.id, name=row.name, area=row.area, households=row.households, people=row.people,
                          buildings=row.buildings, sites=row.sites, parameters=json.loads(row.parameters),
                          created_at=row.created_at)


def unprocessable(issues: list[InputIssue], code: int = status.HTTP_422_UNPROCESSABLE_CONTENT) -> HTTPException:
    """A 422 (or ``code``) carrying every input issue (file, row, field, value, fix)."""
    return HTTPException(code, detail=[i.as_dict() for i in issues[:1000]])


def _copy_upload(upload: UploadFile, role: str, directory: FsPath, limit: int) -> str:
    """Copy an upload (spooled by Starlette) into the scratch directory; its stored file name.

    Runs in a worker thread: files of hundreds of MB are copied without holding the event loop.
    """
    suffix = FsPath(upload.filename or "").suffix.lower() or ".csv"
    allowed = _ROSTER_SUFFIXES if role in ("persons", "compounds") else _SUFFIXES
    if suffix not in allowed:
        raise unprocessable([InputIssue(upload.filename or role, None, "(file)", suffix,
                                        "upload a .csv or .xlsx file" + (" (or .xls)" if ".xls" in allowed else ""))])
    filename = f"{role}{'.csv' if suffix == '.txt' else suffix}"
    size, blank = 0, True
    upload.file.seek(0)
    with open(directory / filename, "wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                    f"{role} file is larger than {limit / (1 << 20):g} MB; split the area or raise SAMPLER_MAX_UPLOAD_MB")
            blank = blank and not chunk.strip()
            out.write(chunk)
    if blank:
        raise unprocessable([InputIssue(upload.filename or role, None, "(file)", "",
                                        "the file is empty; upload the registry")])
    return filename


def _parameters(text: str, source: str) -> dict[str, Any]:
    """The scenario sections sent (YAML or JSON; a ``registry`` section is checked, then replaced by
    the uploads), bounded by `sampler.params.parse_mapping`: no aliases, at most 100 kB, no control
    characters."""
    from sampler.params import parse_mapping

    try:
        return parse_mapping(text, source) if text.strip() else {}
    except InputError as exc:
        raise unprocessable(exc.issues) from None


def _check_name(name: str) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise unprocessable([InputIssue("name", None, "(form field)", repr(name[:40]),
                                        "remove the control characters (such as \\0) from the name")])


def limits_of(settings: Settings) -> UploadLimits:
    """The parse limits configured for uploads."""
    return UploadLimits(decompressed_bytes=int(settings.max_unpacked_mb * 2**20), max_ratio=settings.max_unpack_ratio,
                        rows=settings.max_rows, columns=settings.max_columns, cell_chars=settings.max_cell_chars,
                        seconds=settings.upload_parse_seconds, memory_bytes=settings.upload_parse_memory_mb * 2**20)


def _store(request: Request, name: str, mapping: dict[str, Any], result: ParseResult, directory: FsPath,
           names: dict[str, str]) -> Scenario:
    """Store the validated scenario and its files in one transaction (in a worker thread): the
    uploads, or the household-level files a roster was read into (`ParseResult.stored`)."""
    if result.stored:
        names = result.stored
    contents = {role: (directory / filename).read_bytes() for role, filename in names.items()}
    with request.app.state.sessions() as session:
        row = Scenario(
            name=name or result.area, area=result.area,
            parameters=json.dumps(mapping, ensure_ascii=False, default=str),
            households=result.households, people=result.people, buildings=result.buildings, sites=result.sites,
            hashes=json.dumps({r: hashlib.sha256(c).hexdigest() for r, c in contents.items()}),
        )
        session.add(row)
        session.flush()
        for role, filename in names.items():
            session.add(ScenarioFile(scenario_id=row.id, role=role, filename=FsPath(filename).name,
                                     content=contents[role]))
        session.commit()
        return row


def _chosen(files: dict[str, UploadFile | None]) -> dict[str, UploadFile]:
    """The uploads of one complete set, households + buildings + sites or persons + compounds + sites;
    a 422 naming the missing files, or the mixed ones."""
    given = {role for role, up in files.items() if up is not None}
    household, person = given & {"households", "buildings"}, given & {"persons", "compounds"}
    if household and person:
        raise unprocessable([InputIssue(", ".join(sorted(household | person)), None, "(file)",
                                        f"{'+'.join(sorted(household))} and {'+'.join(sorted(person))}",
                                        "upload either households + buildings + sites (住户登记表+楼栋表) or persons + "
                                        "compounds + sites (人员花名册+小区表), not files of both")])
    roles = PERSON_ROLES if person else ROLES
    missing = [r for r in roles if r not in given]
    if missing:
        raise unprocessable([InputIssue(role, None, "(file)", "(missing)",
                                        f"add the {role} file ({_LABELS[role]}): an upload is households + buildings + "
                                        "sites, or persons + compounds + sites") for role in missing])
    return {role: up for role in roles if (up := files[role]) is not None}


def _parsers(request: Request, settings: Settings) -> asyncio.Semaphore:
    """The app's bound on uploads read at the same time."""
    state = request.app.state
    if getattr(state, "upload_parsers", None) is None:
        state.upload_parsers = asyncio.Semaphore(settings.upload_parsers)
    semaphore: asyncio.Semaphore = state.upload_parsers
    return semaphore


@router.post("", response_model=ScenarioPublic, status_code=status.HTTP_201_CREATED,
             responses={422: {"description": "Input issues: a list of {file, row, field, value, fix}"},
                        413: {"description": "A file or the request is too large, or reading it took too long"}})
async def create_scenario(
    request: Request,
    settings: SettingsDep,
    _caller: PlannerDep,
    households: Annotated[UploadFile | None, File(description="households registry (CSV or XLSX); or persons + compounds")] = None,
    buildings: Annotated[UploadFile | None, File(description="buildings registry (CSV or XLSX), with households")] = None,
    sites: Annotated[UploadFile | None, File(description="sampling sites (CSV or XLSX)")] = None,
    persons: Annotated[UploadFile | None, File(description="person-level roster 花名册 (CSV, XLSX or XLS), with compounds, instead of households + buildings")] = None,
    compounds: Annotated[UploadFile | None, File(description="compounds 小区/村 of the roster (CSV, XLSX or XLS)")] = None,
    parameters: Annotated[str, Form(max_length=100_000, description="scenario sections as YAML or JSON")] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    scenario_file: Annotated[UploadFile | None, File(alias="scenario", description="the scenario file (YAML or JSON) instead of `parameters`")] = None,
) -> ScenarioPublic:
    """Validate the three registry files with the scenario parameters and store them.

    The files are households + buildings + sites, or a person-level roster: persons + compounds +
    sites (stored as the households, buildings and sites it was read into, in WGS-84; the roster
    itself, with its identity numbers, is not kept). They are read in a separate process under
    limits (size, unpacked size, rows, columns, cell length, time, memory), so an upload never
    holds up other requests.
    """
    _check_name(name)
    uploads = _chosen({"households": households, "buildings": buildings, "sites": sites, "persons": persons,
                       "compounds": compounds})
    limit = int(settings.max_upload_mb * (1 << 20))
    if scenario_file is not None:
        if parameters:
            raise unprocessable([InputIssue("scenario", None, "(form field)", "scenario and parameters",
                                            "send the scenario either as a file or as the parameters field, not both")])
        raw = await scenario_file.read(100_001)
        try:
            parameters = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise unprocessable([InputIssue(scenario_file.filename or "scenario", None, "(file)", "not UTF-8",
                                            "save the scenario file as UTF-8")]) from None
        if len(raw) > 100_000:
            raise unprocessable([InputIssue(scenario_file.filename or "scenario", None, "(file)", "over 100 kB",
                                            "a scenario file is a few kB of parameters; check the file")])
    # Issues name the scenario as sent: the uploaded file's name, or the form field.
    source = (scenario_file.filename or "scenario") if scenario_file is not None else "parameters"
    mapping = await run_in_threadpool(_parameters, parameters, source)
    with scratch_dir(settings.data_dir, "upload-") as tmp:
        names = {role: await run_in_threadpool(_copy_upload, up, role, tmp, limit) for role, up in uploads.items()}
        async with _parsers(request, settings):
            try:
                result = await run_in_threadpool(parse_in_child, tmp, mapping, names, limits_of(settings), source)
            except InputError as exc:
                raise unprocessable(exc.issues) from None
            except UploadTooCostly as exc:
                raise unprocessable(exc.issues, status.HTTP_413_CONTENT_TOO_LARGE) from None
        # The uploaded files are the registry; only the coordinate system they are in is kept (a
        # roster's stored files are WGS-84, whatever its coordinates were given in).
        crs = "wgs84" if result.stored else (mapping.pop("registry", None) or {}).get("crs")
        mapping.pop("registry", None)
        if crs:
            mapping["registry"] = {"crs": crs}
        row = await run_in_threadpool(_store, request, name, mapping, result, tmp, names)
    return scenario_public(row)


@router.get("", response_model=ScenariosPublic)
def list_scenarios(session: SessionDep, _caller: ViewerDep, limit: int = Query(100, ge=1, le=1000),
                   offset: int = Query(0, ge=0, le=10**9)) -> ScenariosPublic:
    """Scenarios, newest first."""
    rows = session.scalars(select(Scenario).order_by(Scenario.id.desc()).limit(limit).offset(offset)).all()
    count = session.scalar(select(func.count()).select_from(Scenario)) or 0
    return ScenariosPublic(data=[scenario_public(r) for r in rows], count=count)


@router.get("/{scenario_id}", response_model=ScenarioPublic)
def get_scenario(session: SessionDep, _caller: ViewerDep,
                 scenario_id: int = Path(ge=1, le=2**31 - 1)) -> ScenarioPublic:
    """One scenario."""
    row = session.get(Scenario, scenario_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such scenario")
    return scenario_public(row)


@router.delete("/{scenario_id}", response_model=Message, responses={409: {"description": "Plans use it"}})
def delete_scenario(session: SessionDep, _caller: PlannerDep,
                    scenario_id: int = Path(ge=1, le=2**31 - 1)) -> Message:
    """Delete a scenario and its files (delete its plans first)."""
    row = session.get(Scenario, scenario_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such scenario")
    plans = session.scalar(select(func.count()).select_from(Plan).where(Plan.scenario_id == scenario_id)) or 0
    if plans:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{plans} plan(s) use this scenario; delete them first")
    session.execute(delete(ScenarioFile).where(ScenarioFile.scenario_id == scenario_id))
    session.execute(delete(Scenario).where(Scenario.id == scenario_id))
    session.commit()
    return Message(detail=f"scenario {scenario_id} deleted")
