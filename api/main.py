"""The FastAPI application: `create_app(settings)` wires the database, jobs, limits and routers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from api.audit import prune_audit, record
from api.day import DayCache
from api.db import make_engine, run_migrations, session_factory
from api.headers import SecurityHeaders
from api.jobs import JobRunner, recover_jobs
from api.limits import KeyLimits, LookupLimits, open_store
from api.privacy import private_database, private_dir
from api.routers import (
    audit,
    coverage,
    day,
    exports,
    forecasts,
    jobs,
    keys,
    lookup,
    plans,
    purge,
    replan,
    scenarios,
    simulations,
    templates,
    whatif,
)
from api.routers.lookup import PublishedPlans
from api.schemas import ERROR_RESPONSES
from api.scratch import sweep_scratch
from api.sections import register_all
from api.security import ensure_bootstrap_key
from api.settings import Settings
from api.uploads import BodyLimit
from api.web import mapdata, mount_web
from sampler.day.codes import code_secret
from sampler.errors import InputError

__all__ = ["API_PREFIX", "create_app", "scrub"]

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_LOOKUP_ERRORS: dict[int | str, dict[str, Any]] = {k: v for k, v in ERROR_RESPONSES.items() if k in (400, 404, 422, 429)}


def operation_id(route: APIRoute) -> str:
    """Readable OpenAPI operation ids: ``plans-create_plan``."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def scrub(value: Any, paths: list[str]) -> Any:
    """``value`` (str, list, dict) with the server's own directories cut out of every string and
    lone surrogates (which JSON may carry as escapes but UTF-8 cannot encode) shown as ``\\udXXX``."""
    if isinstance(value, str):
        for path in paths:
            value = value.replace(path + "/", "").replace(path, "")
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, (list, tuple)):
        return [scrub(v, paths) for v in value]
    if isinstance(value, dict):
        return {scrub(k, paths): scrub(v, paths) for k, v in value.items()}
    return value


def _warm_lookups(app: FastAPI) -> None:
    """Start building the lookup index of every published plan (`api.lookupindex`), so that the
    first SMS wave after a restart does not wait on the database."""
    try:
        app.state.published.ids(app.state.engine)
    except Exception:  # noqa: BLE001 - a cold cache only means lookups read the database
        logging.getLogger(__name__).warning("lookup indexes not warmed at startup", exc_info=False)


def _allowed(request: Request) -> list[str]:
    """Every method the OpenAPI schema lists for the request's path (for a 405's Allow header)."""
    table: list[tuple[re.Pattern[str], list[str]]] | None = getattr(request.app.state, "allow_table", None)
    if table is None:
        table = []
        for path, ops in request.app.openapi().get("paths", {}).items():
            pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part)
                              for part in re.split(r"(\{[^}]+\})", path))
            methods = sorted(m.upper() for m in ops if m.upper() in _METHODS)
            table.append((re.compile(pattern), [*methods, "HEAD"] if "GET" in methods else methods))
        request.app.state.allow_table = table
    return sorted({m for pattern, methods in table if pattern.fullmatch(request.url.path) for m in methods})


def _bootstrap(engine: Any, factory: Any, token: str | None) -> None:
    with factory() as session:
        created, revoked = ensure_bootstrap_key(session, token)
    if created is not None:
        record(engine, "key.bootstrap", key_name="service", detail=f"bootstrap key {created} created")
    for key_id in revoked:
        record(engine, "key.bootstrap_revoke", key_name="service", detail=f"bootstrap key {key_id} replaced")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service: private files, migrations, orphaned jobs failed, scratch directories of
    dead processes removed, bootstrap key, routers."""
    settings = settings or Settings()
    private_dir(settings.data_dir)
    private_database(settings.database_url)
    register_all()  # uploads check every layer's scenario sections
    engine = make_engine(settings.database_url)
    if settings.run_migrations:
        run_migrations(engine)
    recover_jobs(engine)
    sweep_scratch(settings.data_dir)
    factory = session_factory(engine)
    _bootstrap(engine, factory, settings.bootstrap_planner_key)
    prune_audit(engine, settings.audit_retention_days)
    store = open_store(settings.redis_url, settings.data_dir, settings.redis_prefix)

    async def prune_daily() -> None:
        while True:
            await asyncio.sleep(24 * 3600)
            try:
                await asyncio.to_thread(prune_audit, engine, settings.audit_retention_days)
            except Exception:  # a failed prune must not end the loop; the next day retries
                log.exception("audit prune failed")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gc.freeze()  # startup objects leave the collector's generations: shorter GC pauses under load
        pruner = asyncio.create_task(prune_daily())
        warming = asyncio.create_task(asyncio.to_thread(_warm_lookups, app))
        yield
        warming.cancel()
        pruner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pruner
        app.state.jobs.shutdown()
        store.close()
        engine.dispose()

    app = FastAPI(
        title="Sampler plan service",
        summary="Plans for mass nucleic-acid sampling: scenarios, planning jobs, resident lookup, exports.",
        version="0.1.0",
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        docs_url=None,  # served by api.web from the vendored swagger-ui files: no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.add_middleware(BodyLimit, upload_path=f"{API_PREFIX}/scenarios",
                       upload_bytes=int(settings.max_request_mb * 2**20), other_bytes=settings.max_body_kb * 1024)
    app.state.engine = engine
    app.state.sessions = factory
    app.state.jobs = JobRunner(engine, settings.database_url, settings.data_dir, settings.job_workers)
    app.state.store = store
    app.state.lookup_limits = LookupLimits(
        store, settings.lookup_per_minute, settings.lookup_household_failures, settings.lookup_lock_minutes * 60,
        settings.lookup_client_failures_per_hour)
    app.state.key_limits = KeyLimits(store, settings.key_failures_per_minute)
    app.state.published = PublishedPlans(index_max_households=settings.lookup_index_households)
    app.state.day = DayCache(code_secret())
    # Absolute directories only: a relative "data" would also cut the word out of messages.
    hidden = sorted({str(settings.data_dir.resolve()), str(Path(tempfile.gettempdir()).resolve()), tempfile.gettempdir()},
                    key=len, reverse=True)

    @app.exception_handler(InputError)
    async def input_error(_request: Request, exc: InputError) -> JSONResponse:
        issues = [i.as_dict() for i in exc.issues[:1000]]
        return JSONResponse(status_code=422, content={"detail": scrub(issues, hidden)})

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input, which fails to encode if it holds a lone surrogate.
        errors = jsonable_encoder(exc.errors(), custom_encoder={bytes: lambda b: b.decode("utf-8", "backslashreplace")})
        return JSONResponse(status_code=422, content={"detail": scrub(errors, hidden)})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        exc.detail = scrub(exc.detail, hidden)
        if exc.status_code == 405:
            # Starlette's Allow names the methods of the first route with this path only.
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(_allowed(request))}
        return await http_exception_handler(request, exc)

    api = APIRouter(prefix=API_PREFIX)
    # Routes are matched in order: residents' lookups and the public status (the bulk of an SMS
    # wave's requests) first, so that they skip the ~90 staff routes (~0.3 ms a request).
    api.include_router(lookup.router, responses=_LOOKUP_ERRORS)
    api.include_router(day.public_router, responses=_LOOKUP_ERRORS)
    for module in (scenarios, purge, plans, jobs, simulations, forecasts, replan, exports, keys, audit, day,
                   coverage, whatif, templates):
        api.include_router(module.router, responses=ERROR_RESPONSES)
    api.include_router(mapdata.router, responses=ERROR_RESPONSES)
    app.include_router(api)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness check."""
        return {"status": "ok"}

    mount_web(app)
    app.add_middleware(SecurityHeaders)
    return app
