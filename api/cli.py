"""Entry point of the `sampler` console script: composes the commands of all three layers.

The service adds `sampler serve` (uvicorn) and `sampler keys create --role ...` here.
"""

from __future__ import annotations

import importlib.util
import socket
from typing import Annotated

import typer

import sampler
import sampler.commands
import sim.commands
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


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="HTTP worker processes (SQLite: keep 1-2).")] = 1,
) -> None:
    """Run the plan service (database from SAMPLER_DATABASE_URL, default sqlite:///data/sampler.db)."""
    require_serve_extra("serve")
    import uvicorn

    from api.main import create_app
    from api.settings import Settings

    settings = Settings()
    if workers <= 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
        return
    from uvicorn.supervisors import Multiprocess

    create_app(settings)  # migrate once before the workers start
    config = uvicorn.Config("api.asgi:app", host=host, port=port, workers=workers, log_level="warning")
    # uvicorn's own shared socket is created without IPPROTO_TCP, so asyncio skips TCP_NODELAY on
    # accepted connections and each response waits ~40 ms for a delayed ACK; bind it ourselves.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    sock.listen(config.backlog)
    Multiprocess(config, sockets=[sock]).run()


def keys_create_command(
    role: Annotated[str, typer.Option(help="planner, site or viewer.")],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
    site: Annotated[list[str] | None, typer.Option(help="Site id a site key may read (repeat).")] = None,
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    require_serve_extra("keys create")
    from api.db import make_engine, run_migrations, session_factory
    from api.security import create_key
    from api.settings import Settings

    if role not in ("planner", "site", "viewer"):
        console.print(f"[red]unknown role {role!r}[/]: use planner, site or viewer")
        raise typer.Exit(2)
    if role == "site" and not site:
        console.print("[red]a site key needs at least one --site SITE_ID[/]")
        raise typer.Exit(2)
    engine = make_engine(Settings().database_url)
    run_migrations(engine)
    with session_factory(engine)() as session:
        key, token = create_key(session, role, name, list(site or []) if role == "site" else [])
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

    sampler.commands.register(app)
    sim.commands.register(app)
    app.command("serve")(serve_command)
    keys_app = typer.Typer(help="API keys of the plan service.", no_args_is_help=True)
    keys_app.command("create")(keys_create_command)
    app.add_typer(keys_app, name="keys")
    return app


app = build_app()


def main() -> None:
    """Run the `sampler` command line."""
    app()
