"""One output flag everywhere: every command that writes files takes ``-o/--out`` and nothing else."""

from __future__ import annotations

import click
import typer.main

from api.cli import build_app

WRITERS = {"generate", "template", "plan", "replan", "simulate", "whatif", "forecast", "sms", "notices", "roster", "missed"}


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, cmd in group.commands.items():
        out[prefix + name] = cmd
        if isinstance(cmd, click.Group):
            out.update(_commands(cmd, f"{prefix}{name} "))
    return out


def test_every_writing_command_takes_dash_o_out_and_none_takes_output():
    commands = _commands(typer.main.get_command(build_app()))  # type: ignore[arg-type]
    assert set(commands) >= WRITERS
    for name, cmd in commands.items():
        flags = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}
        assert "--output" not in flags, name
        out = [p for p in cmd.params if "--out" in p.opts]
        if name in WRITERS:
            assert len(out) == 1 and set(out[0].opts) == {"--out", "-o"} and out[0].required, name
        else:
            assert not out and "-o" not in flags, name
