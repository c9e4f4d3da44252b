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
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite existing files of those names that `sampler sms` did not write.")] = False,
) -> None:
    """Write one SMS per household (phone, send_at, text, segments) and a list of bad phones.

    Both files are written all or nothing (a private temporary file renamed at the end); an
    existing file is replaced only when it is an earlier `sampler sms` list, or with --force.
    """
    from contextlib import ExitStack

    from sampler.errors import InputError, InputIssue
    from sampler.io.atomic import atomic_file, check_output_file, csv_header_is
    from sampler.io.csvsafe import to_csv
    from sampler.notify.sms import (
        INVALID_COLUMNS,
        SMS_COLUMNS,
        SmsParams,
        build_messages,
        check_plan_columns,
    )
    from sampler.params import load_scenario, with_overrides
    from sampler.planfiles.read import read_plan

    invalid = invalid or out.with_name(f"{out.stem}_invalid.csv")
    inputs = [plandir, *([scenario] if scenario else [])]
    targets = [(out, csv_header_is(SMS_COLUMNS)), (invalid, csv_header_is(INVALID_COLUMNS))]
    with fail_on_input_error():
        if out.absolute() == invalid.absolute():
            raise InputError([InputIssue(str(invalid), None, "--invalid", str(invalid),
                                         "give the list of invalid phones a file name other than the messages'")])
        for path, recognise in targets:
            check_output_file(path, "sms", force=force, inputs=inputs, recognise=recognise)
        params = load_scenario(scenario).section("sms", SmsParams) if scenario else SmsParams()
        changes = {k: v for k, v in {
            "sign": sign, "site_template": site_template, "home_template": home_template, "send": send,
            "evening_at": evening_at, "hours_before": hours_before, "per_minute": per_minute,
        }.items() if v is not None}
        params = with_overrides(params, changes, "command line", "sms")
        plan = read_plan(plandir)
        check_plan_columns(plan)
        result = build_messages(plan, replace(params))
        with ExitStack() as stack:
            tmp = [stack.enter_context(atomic_file(path, "sms", force=force, inputs=inputs, recognise=recognise))
                   for path, recognise in targets]
            to_csv(result.messages, tmp[0], encoding="utf-8")
            to_csv(result.invalid, tmp[1], encoding="utf-8")
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
