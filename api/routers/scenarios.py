"""Scenarios: upload registry files and parameters (validated like `sampler validate`), list, get, delete."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import replace
from pathlib import Path as FsPath
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, File, Form, HTTPException, Path, Query, UploadFile, status
from sqlalchemy import delete, func, select

from api.deps import PlannerDep, SessionDep, SettingsDep, ViewerDep
from api.models import Plan, Scenario, ScenarioFile
from api.schemas import Message, ScenarioPublic, ScenariosPublic
from sampler.errors import InputError, InputIssue

__all__ = ["router", "scenario_public"]

router = APIRouter(prefix="/scenarios", tags=["scenarios"])
_ROLES = ("households", "buildings", "sites")
_SUFFIXES = (".csv", ".xlsx", ".txt")


def scenario_public(row: Scenario) -> ScenarioPublic:
    """The wire form of a stored scenario."""
    return ScenarioPublic(id=row.id, name=row.name, area=row.area, households=row.households, people=row.people,
                          buildings=row.buildings, sites=row.sites, parameters=json.loads(row.parameters),
                          created_at=row.created_at)


def unprocessable(issues: list[InputIssue]) -> HTTPException:
    """A 422 carrying every input issue (file, row, field, value, fix)."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[i.as_dict() for i in issues[:1000]])


async def _read_upload(upload: UploadFile, role: str, limit: int) -> tuple[str, bytes]:
    """The upload's file name (households.csv / .xlsx) and bytes, or an HTTP error."""
    suffix = FsPath(upload.filename or "").suffix.lower() or ".csv"
    if suffix not in _SUFFIXES:
        raise unprocessable([InputIssue(upload.filename or role, None, "(file)", suffix,
                                        "upload a .csv or .xlsx file")])
    chunks, size = [], 0
    while chunk := await upload.read(1 << 20):
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                f"{role} file is larger than {limit // (1 << 20)} MB; split the area or raise SAMPLER_MAX_UPLOAD_MB")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data.strip():
        raise unprocessable([InputIssue(upload.filename or role, None, "(file)", "", "the file is empty; upload the registry")])
    return f"{role}{'.csv' if suffix == '.txt' else suffix}", data


def _parameters(text: str, source: str) -> dict[str, Any]:
    """The scenario sections sent (a ``registry`` section is checked, then replaced by the uploads)."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise unprocessable([InputIssue(source, None, "(form field)", text[:40],
                                        f"send YAML or JSON: {exc}")]) from exc
    if not isinstance(data, dict):
        raise unprocessable([InputIssue(source, None, "(form field)", str(data)[:40],
                                        "send a mapping of scenario sections (YAML or JSON)")])
    return data


@router.post("", response_model=ScenarioPublic, status_code=status.HTTP_201_CREATED,
             responses={422: {"description": "Input issues: a list of {file, row, field, value, fix}"},
                        413: {"description": "A file is too large"}})
async def create_scenario(
    session: SessionDep,
    settings: SettingsDep,
    _caller: PlannerDep,
    households: Annotated[UploadFile, File(description="households registry (CSV or XLSX)")],
    buildings: Annotated[UploadFile, File(description="buildings registry (CSV or XLSX)")],
    sites: Annotated[UploadFile, File(description="sampling sites (CSV or XLSX)")],
    parameters: Annotated[str, Form(max_length=100_000, description="scenario sections as YAML or JSON")] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    scenario_file: Annotated[UploadFile | None, File(alias="scenario", description="the scenario file (YAML or JSON) instead of `parameters`")] = None,
) -> ScenarioPublic:
    """Validate the three registry files with the scenario parameters and store them."""
    from sampler.params import RegistryFiles, scenario_from_mapping
    from sampler.registry.read import load_registry

    limit = int(settings.max_upload_mb * (1 << 20))
    files = {role: await _read_upload(up, role, limit)
             for role, up in zip(_ROLES, (households, buildings, sites), strict=True)}
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
    mapping = _parameters(parameters, source)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix="upload-") as tmp:
        for filename, data in files.values():
            (FsPath(tmp) / filename).write_bytes(data)
        try:
            scenario = scenario_from_mapping(mapping, source, FsPath(tmp))
            scenario = scenario.replace(registry=RegistryFiles(**{r: f[0] for r, f in files.items()}))
            registry = load_registry(scenario)
        except InputError as exc:
            # Name the files as uploaded, not by their temporary path.
            raise unprocessable([replace(i, file=i.file.replace(tmp + "/", "")) for i in exc.issues]) from None
        except (ValueError, UnicodeError, KeyError, IndexError, TypeError, OSError) as exc:
            raise unprocessable([InputIssue("upload", None, "(file)", type(exc).__name__,
                                            f"the files could not be read ({str(exc)[:200]}); upload CSV or XLSX registries")]) from None
    mapping.pop("registry", None)  # the uploaded files are the registry
    row = Scenario(
        name=name or scenario.area, area=scenario.area, parameters=json.dumps(mapping, ensure_ascii=False, default=str),
        households=len(registry.households), people=registry.people, buildings=len(registry.buildings),
        sites=len(registry.sites),
        hashes=json.dumps({r: hashlib.sha256(f[1]).hexdigest() for r, f in files.items()}),
    )
    session.add(row)
    session.flush()
    for role, (filename, data) in files.items():
        session.add(ScenarioFile(scenario_id=row.id, role=role, filename=filename, content=data))
    session.commit()
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
