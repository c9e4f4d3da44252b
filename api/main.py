"""The FastAPI application: `create_app(settings)` wires the database, jobs and routers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from api.db import make_engine, run_migrations, session_factory
from api.jobs import JobRunner, recover_jobs
from api.routers import exports, jobs, keys, lookup, plans, scenarios, simulations
from api.routers.lookup import PublishedPlans
from api.security import RateLimiter, ensure_bootstrap_key
from api.settings import Settings
from sampler.errors import InputError

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"


def operation_id(route: APIRoute) -> str:
    """Readable OpenAPI operation ids: ``plans-create_plan``."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service: migrate the database, fail jobs orphaned by a dead process, add routers."""
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    if settings.run_migrations:
        run_migrations(engine)
    recover_jobs(engine)
    factory = session_factory(engine)
    with factory() as session:
        ensure_bootstrap_key(session, settings.bootstrap_planner_key)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gc.freeze()  # startup objects leave the collector's generations: shorter GC pauses under load
        yield
        app.state.jobs.shutdown()
        engine.dispose()

    app = FastAPI(
        title="Sampler plan service",
        summary="Plans for mass nucleic-acid sampling: scenarios, planning jobs, resident lookup, exports.",
        version="0.1.0",
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = factory
    app.state.jobs = JobRunner(engine, settings.database_url, settings.data_dir, settings.job_workers)
    app.state.limiter = RateLimiter(settings.lookup_per_minute)
    app.state.published = PublishedPlans()

    @app.exception_handler(InputError)
    async def input_error(_request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": [i.as_dict() for i in exc.issues[:1000]]})

    api = APIRouter(prefix=API_PREFIX)
    for module in (scenarios, plans, jobs, simulations, lookup, exports, keys):
        api.include_router(module.router)
    app.include_router(api)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness check."""
        return {"status": "ok"}

    return app
