"""Entry point of the `sampler` console script: composes the commands of all three layers.

The service adds `sampler serve` (uvicorn), `sampler keys create --role ...` and `sampler purge` here.
"""

from __future__ import annotations

import importlib.util
import socket
from typing import Annotated, Any

import typer

import sampler
import sampler.commands
import sim.commands
from api import daycli
from api.sections import register_all
from sampler.commands.ui import console

__all__ = ["app", "build_app", "main"]


def _version(value: bool) -> None:
    if value:
        console.print(f"sampler {sampler.__version__}")
        raise typer.Exit()


# What `sampler serve` and `sampler keys` import beyond the core (pyproject.toml's `serve` extra).
SERVE_MODULES = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "pydantic_settings", "multipart", "psycopg")


def require_serve_extra(command: str) -> None:
    """Exit with status 2 and the install line when the service's dependencies are missing.

    `make demo` installs only the core (plan, simulate); the service is the `serve` extra.
    """
    missing = [name for name in SERVE_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        console.print(
            f"[red]`sampler {command}` needs the service's dependencies (the 'serve' extra); "
            f"not installed: {', '.join(missing)}.[/]\n"
            "Install them with `pip install 'sampler\\[serve]'`, or the locked set from this checkout: "
            "`pip install --require-hashes -r requirements/serve.lock` (`make serve` does that and starts it).",
            soft_wrap=True)
        raise typer.Exit(2)


def _settings() -> Any:
    """The service settings, or exit 2 with what is wrong (e.g. a too short bootstrap key)."""
    from pydantic import ValidationError

    from api.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            console.print(f"[red]SAMPLER_{field.upper()}[/]: {err['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(2) from None


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="HTTP worker processes (SQLite: keep 1-2).")] = 1,
) -> None:
    """Run the plan service (database from SAMPLER_DATABASE_URL, default sqlite:///data/sampler.db).

    X-Forwarded-For is believed only from SAMPLER_TRUSTED_PROXIES (default: from nobody).
    """
    require_serve_extra("serve")
    import uvicorn

    from api.main import create_app
    from api.privacy import private_umask

    settings = _settings()
    private_umask()  # the database, scratch files and job outputs: readable by the service user only
    proxies = settings.proxy_list()
    trusted = proxies or ["127.0.0.1"]  # only read when proxy_headers is on
    shown = f"[{host}]" if ":" in host else host
    console.print(f"sampler serve: http://{shown}:{port}/  (居民查询 /r · 采样点 /site · 网格员 /grid · API 文档 /docs)")
    if workers <= 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning",
                    proxy_headers=bool(proxies), forwarded_allow_ips=trusted)
        return
    from uvicorn.supervisors import Multiprocess

    create_app(settings)  # migrate once before the workers start
    config = uvicorn.Config("api.asgi:app", host=host, port=port, workers=workers, log_level="warning",
                            proxy_headers=bool(proxies), forwarded_allow_ips=trusted)
    # uvicorn's own shared socket is created without IPPROTO_TCP, so asyncio skips TCP_NODELAY on
    # accepted connections and each response waits ~40 ms for a delayed ACK; bind it ourselves.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    sock.listen(config.backlog)
    Multiprocess(config, sockets=[sock]).run()


def purge_command(
    scenario: Annotated[int, typer.Argument(help="Id of the stored scenario whose campaign is over.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a campaign's personal data (names, phones, rooms, health reasons); keep its statistics.

    Deletes the scenario's households registry and its plans' contacts, blanks units, rooms and
    home-visit reasons, withdraws the plans from the resident lookup. Summaries, site load,
    building slots and simulations stay. Recorded in the audit log.
    """
    require_serve_extra("purge")
    import getpass

    from api.audit import record
    from api.db import make_engine, run_migrations
    from api.privacy import private_umask
    from api.purge import purge_scenario

    settings = _settings()
    private_umask()
    if not yes and not typer.confirm(f"Erase the personal data of scenario {scenario} and its plans?"):
        raise typer.Exit(1)
    engine = make_engine(settings.database_url)
    run_migrations(engine)
    result = purge_scenario(engine, scenario)
    if result is None:
        console.print(f"[red]no scenario {scenario}[/] in {make_url_safe(settings.database_url)}: "
                      "list them with GET /api/v1/scenarios")
        raise typer.Exit(2)
    record(engine, "scenario.purge", key_name=f"cli:{getpass.getuser()}"[:100], role="cli",
           scenario_id=scenario, records=result.records, detail=f"plans {','.join(map(str, result.plans))}"[:200])
    engine.dispose()
    state = "was already purged; nothing left" if result.already and not result.records else "purged"
    console.print(f"scenario {scenario} {state}: {len(result.plans)} plan(s), {result.contacts} contact rows "
                  f"and {result.files} registry file(s) deleted")


def make_url_safe(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def keys_create_command(
    role: Annotated[str, typer.Option(help="planner, site, grid or viewer.")],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
    site: Annotated[list[str] | None, typer.Option(help="Site id a site key may use (repeat).")] = None,
    grid: Annotated[list[str] | None, typer.Option(help="Grid (网格) a grid key follows up (repeat).")] = None,
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    require_serve_extra("keys create")
    from api.audit import record
    from api.db import make_engine, run_migrations, session_factory
    from api.security import create_key

    if role not in ("planner", "site", "grid", "viewer"):
        console.print(f"[red]unknown role {role!r}[/]: use planner, site, grid or viewer")
        raise typer.Exit(2)
    if role == "site" and not site:
        console.print("[red]a site key needs at least one --site SITE_ID[/]")
        raise typer.Exit(2)
    import getpass

    from api.security import BOOTSTRAP

    if name == BOOTSTRAP:
        console.print(f"[red]the name {BOOTSTRAP!r} is reserved[/] for SAMPLER_BOOTSTRAP_PLANNER_KEY; choose another")
        raise typer.Exit(2)
    if role == "grid" and not grid:
        console.print("[red]a grid key needs at least one --grid GRID[/]")
        raise typer.Exit(2)
    engine = make_engine(_settings().database_url)
    run_migrations(engine)
    with session_factory(engine)() as session:
        key, token = create_key(session, role, name, list(site or []) if role == "site" else [],
                                grids=list(grid or []) if role == "grid" else [])
    record(engine, "key.create", key_name=f"cli:{getpass.getuser()}"[:100], role="cli",
           detail=f"key {key.id} role {role}")
    console.print(f"key {key.id} ({role}): {token}")


def build_app() -> typer.Typer:
    """The `sampler` app: the planning commands, the simulation commands, then the service's own."""
    app = typer.Typer(
        name="sampler",
        help="Plan, simulate and serve mass nucleic-acid sampling (全员核酸采样).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _root(
        version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                              help="Print the version and exit.")] = False,
    ) -> None:
        """Plan, simulate and serve mass nucleic-acid sampling (全员核酸采样)."""

    register_all()  # every layer's scenario sections, before any command reads a scenario
    sampler.commands.register(app)
    sim.commands.register(app)
    app.command("serve")(serve_command)
    app.command("purge")(purge_command)
    daycli.register(app)
    keys_app = typer.Typer(help="API keys of the plan service.", no_args_is_help=True)
    keys_app.command("create")(keys_create_command)
    app.add_typer(keys_app, name="keys")
    return app


app = build_app()


def main() -> None:
    """Run the `sampler` command line."""
    app()
