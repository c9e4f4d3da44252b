"""`sampler sms PLANDIR -o sms.csv`: one call-down text per household, with batched send times."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from sampler.commands.ui import console, fail_on_input_error, summary_table

__all__ = ["register"]

# The header sms_invalid.csv had before the call list was in Chinese: such a file is still ours.
_OLD_INVALID_COLUMNS = ["household_id", "building_id", "address", "contact", "phone", "reason", "slot_start",
                        "slot_end", "site"]


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
    templates: Annotated[Path | None, typer.Option(
        help="Folder of edited SMS templates (sms_site.txt.j2, sms_home.txt.j2; see docs/notices.md).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite existing files of those names that `sampler sms` did not write.")] = False,
) -> None:
    """Write one SMS per household (phone, send_at, text, segments) and the grid workers' call list
    of households without a valid phone (Chinese headers, by grid and compound).

    Both are UTF-8 with a BOM, so Excel and WPS show the Chinese; both are written all or nothing (a private temporary file renamed at the end); an
    existing file is replaced only when it is an earlier `sampler sms` list, or with --force.
    """
    from contextlib import ExitStack

    from sampler.errors import InputError, InputIssue
    from sampler.io.atomic import atomic_file, check_output_file, csv_header_is
    from sampler.io.csvsafe import to_csv
    from sampler.notify.sms import (
        CALL_LIST_HEADERS,
        SMS_COLUMNS,
        SmsParams,
        build_messages,
        call_list,
        check_plan_columns,
    )
    from sampler.params import load_scenario, with_overrides
    from sampler.planfiles.read import news_only, read_plan

    invalid = invalid or out.with_name(f"{out.stem}_invalid.csv")
    inputs = [plandir, *([scenario] if scenario else []), *([templates] if templates else [])]
    new_list, old_list = csv_header_is(CALL_LIST_HEADERS), csv_header_is(_OLD_INVALID_COLUMNS)
    targets = [(out, csv_header_is(SMS_COLUMNS)), (invalid, lambda p: new_list(p) or old_list(p))]
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
        plan = news_only(read_plan(plandir))  # a re-plan: only whose slot changed or who were missed
        check_plan_columns(plan)
        result = build_messages(plan, replace(params), templates=templates)
        with ExitStack() as stack:
            tmp = [stack.enter_context(atomic_file(path, "sms", force=force, inputs=inputs, recognise=recognise))
                   for path, recognise in targets]
            to_csv(result.messages, tmp[0], encoding="utf-8-sig")
            to_csv(call_list(result.invalid), tmp[1], encoding="utf-8-sig")
    s = result.summary()
    console.print(summary_table("短信名单", [
        ("短信条数", f"{s['messages']:,}"), ("计费条数（70字一条）", f"{s['segments']:,}"),
        ("无有效手机号（网格员电话或上门通知）", f"{s['invalid_phones']:,}"),
        ("首条 / 末条发送", f"{s['first_send']} / {s['last_send']}"),
        ("每分钟最多", f"{s['peak_per_minute']:,}"),
        ("输出", f"{out}, {invalid}"),
    ]))


def register(app: typer.Typer) -> None:
    """Add the `sms` command."""
    app.command("sms")(sms_command)
