"""`sampler sms PLANDIR -o sms.csv`: one call-down text per household, with batched send times."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from sampler.commands.ui import console, fail_on_input_error, summary_table

__all__ = ["register"]


def sms_command(
    plandir: Annotated[Path, typer.Argument(help="Plan directory written by `sampler plan`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV of messages to write.")],
    invalid: Annotated[Path | None, typer.Option(help="CSV of missing/invalid phones (default: <out>_invalid.csv).")] = None,
    scenario: Annotated[Path | None, typer.Option(help="Scenario file whose `sms` section configures the texts.")] = None,
    sign: Annotated[str | None, typer.Option(help="Signature in 【】 (default: the plan's area).")] = None,
    site_template: Annotated[str | None, typer.Option(help="Template for site visits.")] = None,
    home_template: Annotated[str | None, typer.Option(help="Template for home visits.")] = None,
    send: Annotated[str | None, typer.Option(help="'evening' (evening before) or 'before' (N hours before).")] = None,
    evening_at: Annotated[str | None, typer.Option(help="Clock time of the evening batch, HH:MM.")] = None,
    hours_before: Annotated[float | None, typer.Option(help="Hours before the slot for --send before.")] = None,
    per_minute: Annotated[int | None, typer.Option(help="Most messages per minute handed to the gateway.")] = None,
) -> None:
    """Write one SMS per household (phone, send_at, text, segments) and a list of bad phones."""
    from sampler.notify.sms import SmsParams, build_messages, check_plan_columns
    from sampler.params import load_scenario, with_overrides
    from sampler.planfiles.read import read_plan

    with fail_on_input_error():
        params = load_scenario(scenario).section("sms", SmsParams) if scenario else SmsParams()
        changes = {k: v for k, v in {
            "sign": sign, "site_template": site_template, "home_template": home_template, "send": send,
            "evening_at": evening_at, "hours_before": hours_before, "per_minute": per_minute,
        }.items() if v is not None}
        params = with_overrides(params, changes, "command line", "sms")
        plan = read_plan(plandir)
        check_plan_columns(plan)
        result = build_messages(plan, replace(params))
    out.parent.mkdir(parents=True, exist_ok=True)
    invalid = invalid or out.with_name(f"{out.stem}_invalid.csv")
    result.messages.to_csv(out, index=False, encoding="utf-8")
    result.invalid.to_csv(invalid, index=False, encoding="utf-8")
    s = result.summary()
    console.print(summary_table("SMS list", [
        ("messages", s["messages"]), ("billed segments", s["segments"]),
        ("missing/invalid phones", s["invalid_phones"]),
        ("first / last send", f"{s['first_send']} / {s['last_send']}"),
        ("peak per minute", s["peak_per_minute"]),
        ("written to", f"{out}, {invalid}"),
    ]))


def register(app: typer.Typer) -> None:
    """Add the `sms` command."""
    app.command("sms")(sms_command)
