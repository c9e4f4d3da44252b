"""Parsing uploaded registries off the event loop, in a child process under limits.

`POST /scenarios` must not stall the service: reading a 50,000-household XLSX takes seconds of
CPU, and a zip bomb minutes and gigabytes. So the files are written to a private scratch directory
and validated by `parse_uploaded` in a separate process (forkserver, libraries preloaded) that
the service waits for from a thread, under `UploadLimits`:

- before parsing: rows (CSV lines) and columns of CSV headers; for XLSX the decompressed size and
  compression ratio declared by the zip (a zip bomb is refused before it is inflated);
- while parsing: a wall-clock limit (the process is killed and the upload answered 413), a CPU
  limit and an address-space limit set inside the child (MemoryError → 413), and a watchdog that
  ends the child if the service dies;
- after parsing: row counts, cell length and NUL bytes in the text the plan stores, and at least
  one household.

A person-level roster (persons + compounds + sites, `sampler.registry.persons`) is read the same
way; the child then writes the registry it was read into as household-level files
(`sampler.registry.write.write_household_files`: households.csv, buildings.csv, sites.csv in
WGS-84) under ``stored/``, reads them back to check they give the same registry, and names them
in `ParseResult.stored`: those are what the service keeps, never the roster, whose identity
numbers (身份证号) the persons reader drops (PIPL: minimum necessary).

Every problem is an `InputIssue` naming the file as uploaded; the caller answers 4xx and stores
nothing.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
import time
import zipfile
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sampler.errors import InputError, InputIssue

__all__ = ["PERSON_ROLES", "ROLES", "BodyLimit", "ParseResult", "UploadLimits", "UploadTooCostly", "parse_in_child", "parse_uploaded"]

ROLES = ("households", "buildings", "sites")
PERSON_ROLES = ("persons", "compounds", "sites")  # a person-level roster instead of households + buildings
STORED_DIR = "stored"  # where the household-level files of a roster are written (`ParseResult.stored`)
_PRELOAD = ["numpy", "pandas", "pyarrow", "pyarrow.csv", "pyarrow.compute", "openpyxl", "sampler.params",
            "sampler.registry.read", "sim.params", "api.sections"]


@dataclass(frozen=True)
class UploadLimits:
    """Bounds on one upload's parse (from `api.settings.Settings`)."""

    decompressed_bytes: int = 1 << 30
    max_ratio: float = 100.0
    rows: int = 2_000_000
    columns: int = 200
    cell_chars: int = 1000
    seconds: float = 300.0
    memory_bytes: int = 3 << 30


@dataclass(frozen=True)
class ParseResult:
    """What the scenario row records about a valid upload."""

    area: str
    households: int
    people: int
    buildings: int
    sites: int
    stored: dict[str, str] = dataclasses.field(default_factory=dict)
    """The files to store instead of the uploads, by role, relative to the upload directory (empty:
    store the uploads; a person-level roster: its households, buildings and sites as written)."""


class UploadTooCostly(Exception):
    """The parse went over its time or memory limit (answered 413)."""

    def __init__(self, issues: list[InputIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))


def _xlsx_issues(name: str, path: Path, limits: UploadLimits) -> list[InputIssue]:
    """A zip whose declared inflated size or ratio is too large is refused before it is read."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return [InputIssue(name, None, "(file)", "not an XLSX workbook",
                           "the file is not an Excel .xlsx workbook (a zip); save it from Excel as .xlsx or upload a .csv")]
    inflated = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if len(infos) > 10_000 or inflated > limits.decompressed_bytes:
        return [InputIssue(name, None, "(file)", f"{inflated / 2**20:.0f} MB unpacked",
                           f"the workbook unpacks to more than {limits.decompressed_bytes / 2**20:.0f} MB; "
                           "upload the registry as CSV or split the area")]
    if inflated > 10 * 2**20 and inflated / packed > limits.max_ratio:
        return [InputIssue(name, None, "(file)", f"compressed {inflated / packed:.0f}:1",
                           f"the workbook unpacks more than {limits.max_ratio:.0f}-fold (a zip bomb?); "
                           "save it again from Excel or upload a CSV")]
    return []


def _csv_issues(name: str, path: Path, limits: UploadLimits) -> list[InputIssue]:
    """Rows and header columns of a CSV, counted on the bytes before any parser sees them."""
    data = path.read_bytes()
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if lines - 1 > limits.rows:
        return [InputIssue(name, None, "(file)", f"{lines - 1} rows",
                           f"at most {limits.rows:,} rows per file; split the area into parts")]
    header = data[: data.find(b"\n")] if b"\n" in data else data
    if header.count(b",") + 1 > limits.columns:
        return [InputIssue(name, 0, "(header)", f"{header.count(b',') + 1} columns",
                           f"at most {limits.columns} columns; remove the columns the plan does not use")]
    # NUL bytes are left to the registry reader, which names their row and column.
    return []


def _text_issues(name: str, fields: dict[str, Any], limits: UploadLimits, numbered: bool = True) -> list[InputIssue]:
    """NUL bytes and over-long cells in the text the plan will store (Arrow or numpy object columns),
    rows numbered as Excel shows them (the header on row 1, as the registry reader numbers them);
    no row when not ``numbered`` (the households of a roster are not its rows)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    issues = []
    for field, values in fields.items():
        arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(
            np.asarray(values, dtype=object).astype(str), type=pa.large_string())
        if len(arr) == 0:
            continue
        nul = pc.match_substring(arr, "\x00")
        if pc.any(nul).as_py():
            i = int(pc.index(nul, True).as_py())
            issues.append(InputIssue(name, i + 2 if numbered else None, field, repr(str(arr[i].as_py())[:40]),
                                     "remove the NUL (\\0) characters from this cell"))
        lengths = pc.utf8_length(arr)
        longest = pc.max(lengths).as_py() or 0
        if longest > limits.cell_chars:
            i = int(pc.index(lengths, longest).as_py())
            issues.append(InputIssue(name, i + 2 if numbered else None, field, f"{longest} characters",
                                     f"a cell holds at most {limits.cell_chars} characters; shorten it"))
    return issues


def _household_text(households: Any, field: str) -> Any:
    arrow = households.arrow(field)
    return arrow if arrow is not None else getattr(households, field)


def _registry_issues(registry: Any, names: dict[str, str], limits: UploadLimits) -> list[InputIssue]:
    h, b = registry.households, registry.buildings
    persons = "persons" in names
    h_file, b_file = (names["persons"], names["persons"]) if persons else (names["households"], names["buildings"])
    issues: list[InputIssue] = []
    if len(h) == 0:
        issues.append(InputIssue(h_file, None, "(file)", "0 rows",
                                 "the file has a header but no households; upload the registry rows"))
    for file, count in ((h_file, len(h)), (b_file, len(b)), (names["sites"], len(registry.sites))):
        if count > limits.rows:
            issues.append(InputIssue(file, None, "(file)", f"{count} rows",
                                     f"at most {limits.rows:,} rows per file; split the area into parts"))
    issues += _text_issues(h_file, {f: _household_text(h, f) for f in ("id", "unit", "room", "contact", "phone")},
                           limits, numbered=not persons)
    issues += _text_issues(b_file, {"building_id": b.id, "name": b.name, "grid": b.grid,
                                    "compound": b.compound}, limits, numbered=not persons)
    issues += _text_issues(names["sites"], {"site_id": [s.id for s in registry.sites],
                                            "name": [s.name for s in registry.sites]}, limits)
    return issues


def _culprit(directory: Path, names: dict[str, str], exc: BaseException) -> list[InputIssue]:
    """Which file an unexpected reader error came from (each is read alone again)."""
    from sampler.registry.read import read_table

    for role, filename in names.items():
        try:
            read_table(directory / filename, role, filename)
        except InputError as err:
            return err.issues
        except Exception as err:  # noqa: BLE001 - any reader failure is the file's fault
            return [InputIssue(filename, None, "(file)", type(err).__name__,
                               f"the file is not a readable table ({str(err)[:160]}); save it again from Excel as .xlsx or CSV UTF-8")]
    return [InputIssue("upload", None, "(file)", type(exc).__name__,
                       f"the files could not be read ({str(exc)[:160]}); upload CSV or XLSX registries")]


def parse_uploaded(directory: Path, mapping: dict[str, Any], names: dict[str, str], limits: UploadLimits,
                   source: str = "parameters") -> ParseResult:
    """Validate the uploaded files in ``directory`` with the scenario sections ``mapping`` (as
    `sampler validate` does: every registered section is checked) within ``limits``.

    Raises `InputError` naming the files as uploaded (``names[role]``) and the scenario as sent
    (``source``), never another exception for a bad file.
    """
    from sampler.params import RegistryFiles, scenario_from_mapping
    from sampler.registry.read import load_registry

    issues: list[InputIssue] = []
    for filename in names.values():
        path = directory / filename
        suffix = path.suffix.lower()
        if suffix == ".xls":  # a legacy workbook: bounded by the reader's limits and the child's
            continue
        check = _xlsx_issues if suffix in (".xlsx", ".xlsm") else _csv_issues
        issues += check(filename, path, limits)
    if issues:
        raise InputError(issues)
    scenario = scenario_from_mapping(mapping, source, directory)
    scenario = scenario.replace(registry=RegistryFiles(**names, crs=scenario.registry.crs))
    prefix = str(directory) + os.sep
    try:
        registry = load_registry(scenario)
    except InputError as exc:
        raise InputError([replace(i, file=i.file.replace(prefix, "")) for i in exc.issues]) from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - a reader bug on hostile input is still the file's problem
        raise InputError([replace(i, file=i.file.replace(prefix, "")) for i in _culprit(directory, names, exc)]) from None
    issues = _registry_issues(registry, names, limits)
    if issues:
        raise InputError(issues)
    stored = _household_files(directory, scenario, registry, names["persons"]) if "persons" in names else {}
    return ParseResult(area=scenario.area, households=len(registry.households), people=int(registry.people),
                       buildings=len(registry.buildings), sites=len(registry.sites), stored=stored)


def _household_files(directory: Path, scenario: Any, registry: Any, roster: str) -> dict[str, str]:
    """A roster's registry written as household-level files under ``directory/stored`` (WGS-84),
    read back and compared: the files to store, by role, relative to ``directory``.

    A roster whose households the household-level reader refuses (more than 20 people under one
    户号, say) is an InputError naming the roster and the household.
    """
    from sampler.params import RegistryFiles
    from sampler.registry.read import load_registry
    from sampler.registry.write import write_household_files

    out = directory / STORED_DIR
    out.mkdir()
    names = write_household_files(registry, out)
    again = scenario.replace(base_dir=out, registry=RegistryFiles(**names, crs="wgs84"))
    try:
        back = load_registry(again)
    except InputError as exc:
        ids = registry.households.id
        raise InputError([InputIssue(roster, None, i.field, f"household {ids[i.row - 2]}: {i.value}"
                                     if Path(i.file).name == names["households"] and i.row and 2 <= i.row < len(ids) + 2
                                     else i.value, i.fix) for i in exc.issues]) from None
    same = (len(back.households), back.people, len(back.buildings), back.sites) == \
        (len(registry.households), registry.people, len(registry.buildings), registry.sites)
    if not same:
        raise RuntimeError("the roster's household-level files read back differently")
    return {role: f"{STORED_DIR}/{filename}" for role, filename in names.items()}


def _child(conn: Connection, server_pid: int, directory: str, mapping: dict[str, Any], names: dict[str, str],
           limits: UploadLimits, source: str) -> None:
    """Body of the parse process: limits on itself, a watchdog on the service, the parse, the answer."""
    import resource

    from api.scratch import pid_alive
    from api.sections import register_all

    register_all()  # a process of its own: it checks the sections the service registered
    from api.jobs import background_priority

    background_priority()  # lookups and check-ins in the HTTP workers come first

    cpu = int(limits.seconds) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))

    def watch() -> None:
        while pid_alive(server_pid):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    try:
        answer: tuple[str, Any] = ("ok", parse_uploaded(Path(directory), mapping, names, limits, source))
    except InputError as exc:
        answer = ("issues", exc.issues)
    except MemoryError:
        answer = ("memory", None)
    except BaseException as exc:  # noqa: BLE001 - reported to the service, which answers 4xx
        answer = ("error", f"{type(exc).__name__}: {str(exc)[:200]}")
    conn.send(answer)
    conn.close()


_context_lock = threading.Lock()


def _context() -> Any:
    with _context_lock:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx


def parse_in_child(directory: Path, mapping: dict[str, Any], names: dict[str, str], limits: UploadLimits,
                   source: str = "parameters") -> ParseResult:
    """`parse_uploaded` in a child process, killed when it runs over ``limits.seconds``.

    Blocking: call it from a worker thread. Raises `InputError` (422) or `UploadTooCostly` (413).
    """
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(send, os.getpid(), str(directory), mapping, names, limits, source),
                          name="upload-parse", daemon=True)
    process.start()
    send.close()
    files = ", ".join(names.values())
    try:
        if not receive.poll(limits.seconds):
            raise UploadTooCostly([InputIssue(files, None, "(file)", f"over {limits.seconds:g} s",
                                              f"reading the files took longer than {limits.seconds:g} s; upload the "
                                              "registry as CSV (much faster than XLSX) or split the area")])
        try:
            kind, value = receive.recv()
        except EOFError:
            kind, value = "died", process.exitcode
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        receive.close()
    if kind == "ok":
        assert isinstance(value, ParseResult)
        return value
    if kind == "issues":
        raise InputError(value)
    if kind in ("memory", "died"):
        raise UploadTooCostly([InputIssue(files, None, "(file)", "over the memory limit" if kind == "memory"
                                          else f"reader stopped ({process.exitcode})",
                                          f"reading the files needed more than {limits.memory_bytes / 2**30:.1f} GB "
                                          "or its time; upload CSV or split the area")])
    raise InputError([InputIssue(files, None, "(file)", str(value)[:80],
                                 "the files could not be read; upload CSV UTF-8 or XLSX registries")])


class BodyLimit:
    """ASGI middleware bounding request bodies: ``upload_bytes`` for ``POST upload_path``, ``other_bytes``
    for every other request; a larger declared Content-Length, or a longer streamed body, is a 413."""

    def __init__(self, app: Any, upload_path: str, upload_bytes: int, other_bytes: int) -> None:
        self.app = app
        self.upload_path = upload_path
        self.upload_bytes = upload_bytes
        self.other_bytes = other_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and scope["path"].rstrip("/") == self.upload_path
        limit = self.upload_bytes if upload else self.other_bytes
        detail = (f"the request body is larger than {limit / 2**20:g} MB" if upload
                  else f"the request body is larger than {limit // 1024} kB")
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            from starlette.responses import JSONResponse

            await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    from fastapi import HTTPException

                    raise HTTPException(413, detail)
            return message

        await self.app(scope, limited, send)
