"""SMS call-down lists: one Chinese text per household with its slot, batched send times.

The messages are built from a plan directory (`sampler.planfiles.read.PlanFiles`): assignments give the
slot, sites the site name, buildings the building name, contacts the phone number and plan.json the
area. Segments are counted the way Chinese carriers bill: up to 70 characters is one message,
longer texts are sent in parts of 67 characters. Households without a valid mobile number go to a
separate list for grid workers to call or visit (`call_list`: Chinese headers, by 网格 and 小区).

The texts come from the Jinja2 templates ``sms_site.txt.j2`` and ``sms_home.txt.j2``
(`sampler.notify.templating`; a street office replaces them with ``--templates DIR``), unless the
scenario's ``sms`` section or the command line gives a one-line template with ``{placeholders}``.
The defaults fit one 70-character segment with the resident code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sampler.errors import InputError, InputIssue
from sampler.io.timefmt import SLOT_FORMAT, clock_of, date_zh, parse_clock
from sampler.notify.contact import addresses, valid_phones
from sampler.params import build_section
from sampler.planfiles.read import PlanFiles
from sampler.planfiles.schema import TABLES

__all__ = [
    "CALL_LIST_HEADERS",
    "INVALID_COLUMNS",
    "SMS_COLUMNS",
    "SmsParams",
    "SmsResult",
    "build_messages",
    "call_list",
    "check_plan_columns",
    "segments",
    "sms_params",
]

SMS_COLUMNS = ["household_id", "phone", "send_at", "text", "segments"]
INVALID_COLUMNS = ["household_id", "building_id", "grid", "compound", "address", "contact", "phone", "reason",
                   "slot_start", "slot_end", "site"]
CALL_LIST_HEADERS = ["网格", "小区", "地址", "户主", "登记电话", "问题", "采样时间", "采样地点", "户编号", "楼栋编号"]
"""The grid workers' call list (`call_list`): what they read, in Chinese."""
_REASONS = {"missing": "未登记电话", "invalid": "号码无效"}

_FIELDS = {"sign", "address", "date", "start", "end", "site", "team", "area", "code"}


def _before_midnight(text: str) -> bool:
    """Whether ``text`` is a clock time of the day, 00:00 to 23:59."""
    try:
        return parse_clock(text) < 24 * 60
    except ValueError:
        return False


@dataclass(frozen=True)
class SmsParams:
    """The `sms` section of a scenario.

    Attributes
    ----------
    sign
        Sender signature shown in 【】; blank = the plan's area (e.g. XX街道).
    site_template, home_template
        One-line texts for site and home visits with placeholders {sign} {address} {date} {start}
        {end} {site} {team} {area} {code} (the resident code, which the lookup asks for). Blank (the
        default): the Jinja2 templates ``sms_site.txt.j2`` / ``sms_home.txt.j2`` (the same names
        as ``{{ sign }}`` …), which fit one 70-character segment for usual addresses and site names.
    send
        ``evening``: the evening before the slot's day at ``evening_at``; ``before``:
        ``hours_before`` hours before the slot starts.
    evening_at
        Clock time of the evening batch, ``HH:MM``.
    hours_before
        Lead time for ``send: before``.
    per_minute
        Most messages handed to the gateway in one minute; later ones wait for the next minute.
    """

    sign: str = ""
    site_template: str = ""
    home_template: str = ""
    send: str = "evening"
    evening_at: str = "20:00"
    hours_before: float = 2.0
    per_minute: int = 3000

    def check(self) -> list[tuple[str, str, str]]:
        problems = []
        if self.send not in ("evening", "before"):
            problems.append(("send", self.send, "use 'evening' or 'before'"))
        if not _before_midnight(self.evening_at):
            problems.append(("evening_at", self.evening_at, "give a clock time 'HH:MM', e.g. 20:00"))
        if not 0 <= self.hours_before <= 72:
            problems.append(("hours_before", str(self.hours_before), "use 0 to 72 hours"))
        if self.per_minute < 1:
            problems.append(("per_minute", str(self.per_minute), "allow at least 1 message per minute"))
        for name in ("site_template", "home_template"):
            text = getattr(self, name)
            if not text:
                continue
            used = set(re.findall(r"{(\w*)}", text))
            unknown = used - _FIELDS
            if unknown:
                problems.append((name, text[:40], f"use only the placeholders {sorted(_FIELDS)}"))
            else:
                try:
                    text.format(**dict.fromkeys(_FIELDS, ""))
                except (ValueError, IndexError, KeyError):
                    problems.append((name, text[:40], "balance the braces; write {{ for a literal {"))
        return problems


def sms_params(mapping: Any, file: str = "<scenario>") -> SmsParams:
    """Build SmsParams from a scenario's ``sms`` section (None → defaults); raises InputError."""
    params: SmsParams = build_section(SmsParams, mapping, file, "sms")
    return params


@dataclass(frozen=True, eq=False)
class SmsResult:
    """The messages and the households that cannot be texted.

    Attributes
    ----------
    messages
        ``SMS_COLUMNS``, one row per household, ordered by send time then household id.
    invalid
        ``INVALID_COLUMNS``: missing or invalid phone numbers, for grid workers.
    """

    messages: pd.DataFrame
    invalid: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        """Counts for the command line and the API: messages, billed segments, send span."""
        m = self.messages
        per_minute = m["send_at"].value_counts() if len(m) else pd.Series(dtype=int)
        return {
            "messages": len(m),
            "segments": int(m["segments"].sum()) if len(m) else 0,
            "invalid_phones": len(self.invalid),
            "first_send": str(m["send_at"].iloc[0]) if len(m) else "",
            "last_send": str(m["send_at"].iloc[-1]) if len(m) else "",
            "peak_per_minute": int(per_minute.max()) if len(m) else 0,
        }


def segments(text: str) -> int:
    """Billed SMS parts of a Chinese text: ≤ 70 characters is 1, longer is ceil(n / 67)."""
    n = len(text)
    return 1 if n <= 70 else math.ceil(n / 67)


def _building_names(a: pd.DataFrame, names: pd.Series) -> pd.Series:
    """The building name of each assignment row, else its building id."""
    name = a["building_id"].map(names).fillna("").astype(str)
    return name.where(name != "", a["building_id"].astype(str))


def _send_minutes(slot_start: pd.Series, params: SmsParams) -> np.ndarray:
    """Nominal send time of each message, as minutes since the epoch (before spreading)."""
    start = pd.to_datetime(slot_start, format=SLOT_FORMAT)
    if params.send == "before":
        nominal = start - pd.to_timedelta(params.hours_before, unit="h")
    else:
        nominal = start.dt.normalize() - pd.Timedelta(days=1) + pd.Timedelta(minutes=parse_clock(params.evening_at))
    minutes = (nominal - pd.Timestamp("1970-01-01")) // pd.Timedelta(minutes=1)
    return minutes.to_numpy(dtype=np.int64)


def _spread(nominal: np.ndarray, per_minute: int) -> np.ndarray:
    """Give each message (sorted by nominal minute) the first minute ≥ nominal with room left."""
    out = np.empty_like(nominal)
    cursor, used = np.iinfo(np.int64).min, 0
    for i, minute in enumerate(nominal.tolist()):
        if minute > cursor:
            cursor, used = minute, 0
        elif used >= per_minute:
            cursor, used = cursor + 1, 0
        out[i] = cursor
        used += 1
    return out


def _text(value: Any) -> str:
    """A cell as text: blank for missing, 3 for 3.0."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _renderers(params: SmsParams, templates: str | Path | None) -> dict[str, Callable[..., str]]:
    """A text builder per mode: the section's one-line template if given, else the Jinja2 file."""
    from sampler.notify.templating import environment, line_format, render, template

    env = environment(templates)
    out: dict[str, Callable[..., str]] = {}
    for mode, line, file in (("site", params.site_template, "sms_site.txt.j2"),
                             ("home", params.home_template, "sms_home.txt.j2")):
        if line:
            out[mode] = line.format
            continue
        tpl = template(env, file)
        fast = line_format(tpl, env, _FIELDS)
        if fast is not None:
            out[mode] = lambda fast=fast, **values: fast.format(**values).strip()
        else:
            out[mode] = lambda tpl=tpl, **values: render(tpl, values).strip()
    return out


def build_messages(plan: PlanFiles, params: SmsParams | None = None,
                   templates: str | Path | None = None) -> SmsResult:
    """One message per placed household, with batched send times; bad phones listed apart.
    ``templates``: a folder of edited SMS templates (`sampler.notify.templating`)."""
    params = params or SmsParams()
    renderers = _renderers(params, templates)
    area = str(plan.summary.get("area", ""))
    sign = params.sign or area
    a = plan.assignments.sort_values(["slot_start", "household_id"], kind="stable")
    a = a.drop_duplicates("household_id", keep="first")
    info = plan.buildings.drop_duplicates("building_id").set_index("building_id")
    names = info["name"]
    site_names = plan.sites.set_index("site_id")["name"]
    phones = plan.contacts.drop_duplicates("household_id").set_index("household_id")
    frame = pd.DataFrame({
        "household_id": a["household_id"].to_numpy(),
        "code": a["code"].to_numpy() if "code" in a else np.full(len(a), "", dtype=object),
        "building_id": a["building_id"].to_numpy(),
        "grid": a["building_id"].map(info["grid"]).fillna("").to_numpy() if "grid" in info else "",
        "compound": a["building_id"].map(info["compound"]).fillna("").to_numpy() if "compound" in info else "",
        "address": addresses(_building_names(a, names), a["unit"], a["room"]),
        "contact": a["household_id"].map(phones["contact"]).fillna("").to_numpy(),
        "phone": a["household_id"].map(phones["phone"]).fillna("").str.strip().to_numpy(),
        "mode": a["mode"].to_numpy(),
        "site": a["site_id"].map(site_names).fillna("").to_numpy(),
        "team": a["team"].to_numpy(dtype=object),
        "slot_start": a["slot_start"].to_numpy(),
        "slot_end": a["slot_end"].to_numpy(),
    })
    ok = valid_phones(frame["phone"])
    bad = frame[~ok]
    invalid = pd.DataFrame({
        **{c: bad[c] for c in ("household_id", "building_id", "grid", "compound", "address", "contact", "phone")},
        "reason": np.where(bad["phone"] == "", "missing", "invalid"),
        "slot_start": bad["slot_start"], "slot_end": bad["slot_end"],
        "site": np.where(bad["mode"] == "home", "上门采样", bad["site"]),
    }, columns=INVALID_COLUMNS)
    invalid = invalid.sort_values(["grid", "compound", "building_id", "address", "household_id"], kind="stable")
    invalid = invalid.reset_index(drop=True)
    good = frame[ok]
    texts = []
    cols = [[_text(v) for v in good[c].tolist()]
            for c in ("mode", "address", "slot_start", "slot_end", "site", "team", "code")]
    for mode, address, start, end, site, team, code in zip(*cols, strict=True):
        texts.append(renderers["home" if mode == "home" else "site"](
            sign=sign, area=area, address=address, date=date_zh(start), start=clock_of(start),
            end=clock_of(end), site=site, team=team, code=code,
        ))
    nominal = _send_minutes(good["slot_start"], params) if len(good) else np.zeros(0, np.int64)
    replanned_at = (plan.summary.get("replan") or {}).get("at")
    if replanned_at:  # a re-plan's news goes out from its time on, never the evening before
        floor = (pd.Timestamp(str(replanned_at)) - pd.Timestamp("1970-01-01")) // pd.Timedelta(minutes=1)
        nominal = np.maximum(nominal, int(floor))
    order = np.lexsort((good["household_id"].to_numpy(), nominal))
    sent = _spread(nominal[order], params.per_minute)
    stamps = (pd.Timestamp("1970-01-01") + pd.to_timedelta(sent, unit="min")).strftime(SLOT_FORMAT)
    text_arr = np.array(texts, dtype=object)[order]
    messages = pd.DataFrame({
        "household_id": good["household_id"].to_numpy()[order],
        "phone": good["phone"].to_numpy()[order],
        "send_at": np.asarray(stamps, dtype=object),
        "text": text_arr,
        "segments": np.array([segments(t) for t in text_arr], dtype=np.int64),
    }, columns=SMS_COLUMNS)
    return SmsResult(messages=messages, invalid=invalid)


def call_list(invalid: pd.DataFrame) -> pd.DataFrame:
    """The grid workers' call list of households that cannot be texted (``SmsResult.invalid``), as
    they read it: Chinese headers (`CALL_LIST_HEADERS`), by grid, compound and address, the slot
    as 11月23日 06:00-06:30 and 上门采样 for home visits."""
    from sampler.io.timefmt import span_zh

    when = [span_zh(str(a), str(b)) if a and b else "" for a, b in zip(invalid["slot_start"].tolist(),
                                                                       invalid["slot_end"].tolist(), strict=True)]
    return pd.DataFrame({
        "网格": invalid["grid"].to_numpy(), "小区": invalid["compound"].to_numpy(), "地址": invalid["address"].to_numpy(),
        "户主": invalid["contact"].to_numpy(), "登记电话": invalid["phone"].to_numpy(),
        "问题": invalid["reason"].map(_REASONS).fillna(invalid["reason"]).to_numpy(),
        "采样时间": np.array(when, dtype=object), "采样地点": invalid["site"].to_numpy(),
        "户编号": invalid["household_id"].to_numpy(), "楼栋编号": invalid["building_id"].to_numpy(),
    }, columns=CALL_LIST_HEADERS)


_TABLES_USED = ("assignments", "contacts", "sites", "buildings")


def check_plan_columns(plan: PlanFiles) -> None:
    """Raise InputError if a plan table the messages use lacks one of its columns (`sampler.planfiles.schema`)."""
    issues = [InputIssue(str(plan.directory / TABLES[name].file), None, col, "", "write the plan again with `sampler plan`")
              for name in _TABLES_USED for col in TABLES[name].names if col not in getattr(plan, name).columns]
    if issues:
        raise InputError(issues)
