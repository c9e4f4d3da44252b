"""Times as the scenario and the plan files spell them: the one slot-label format, the one clock parser.

A slot label is local time ``YYYY-MM-DD HH:MM`` (`SLOT_FORMAT`), e.g. ``2022-11-23 06:00``; a
clock time is ``HH:MM`` after midnight, ``00:00`` to ``24:00``::

    format_slot(dt.datetime(2022, 11, 23, 6))   # '2022-11-23 06:00'
    parse_clock("6:30"), parse_clock("24:00")   # 390, 1440
    span_zh("2022-11-23 06:00", "2022-11-23 06:30")   # '11月23日 06:00-06:30'
"""

from __future__ import annotations

import datetime as dt
import functools
import re

__all__ = [
    "HOUR_CHARS",
    "SLOT_FORMAT",
    "clock_of",
    "date_zh",
    "format_clock",
    "format_slot",
    "parse_clock",
    "parse_slot",
    "run_text",
    "slot_labels",
    "span_zh",
    "window_minute",
]

SLOT_FORMAT = "%Y-%m-%d %H:%M"
"""strftime/strptime format of a slot label (also numpy/pandas: ``pd.to_datetime(..., format=SLOT_FORMAT)``)."""
HOUR_CHARS = len("YYYY-MM-DD HH")
"""Characters of a label that name its hour (for grouping slots by hour, e.g. in SQL)."""

_CLOCK = re.compile(r"\s*(\d{1,2})[:：](\d{2})\s*")  # ASCII or full-width colon (as typed in Chinese sheets)


def format_slot(when: dt.datetime) -> str:
    """The label of a time: ``YYYY-MM-DD HH:MM``."""
    return when.strftime(SLOT_FORMAT)


def parse_slot(text: str) -> dt.datetime:
    """The time a label names; ValueError when ``text`` is not ``YYYY-MM-DD HH:MM``."""
    return dt.datetime.strptime(text, SLOT_FORMAT)


def slot_labels(start: dt.datetime, minutes: int, count: int) -> list[str]:
    """Labels of ``count`` consecutive times ``minutes`` apart from ``start``."""
    return [format_slot(start + dt.timedelta(minutes=minutes * k)) for k in range(count)]


def clock_of(label: str) -> str:
    """``HH:MM`` of a slot label."""
    return label[-5:]


def format_clock(minute: int) -> str:
    """``HH:MM`` of minutes after midnight (1440 → ``24:00``)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_clock(text: str) -> int:
    """Minutes after midnight of ``H:MM`` or ``HH:MM`` (``24:00`` allowed, ASCII or full-width colon,
    spaces around ignored); ValueError otherwise."""
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise ValueError(f"not a clock time HH:MM: {text!r}")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes >= 60 or hours * 60 + minutes > 24 * 60:
        raise ValueError(f"not a clock time between 00:00 and 24:00: {text!r}")
    return hours * 60 + minutes


@functools.lru_cache(maxsize=4096)
def date_zh(label: str) -> str:
    """The day of a slot label as residents read it: ``11月23日``."""
    day = parse_slot(label)
    return f"{day.month}月{day.day}日"


@functools.lru_cache(maxsize=4096)
def span_zh(start: str, end: str) -> str:
    """A slot from its start and end labels as residents read it: ``11月23日 06:00-06:30``."""
    return f"{date_zh(start)} {clock_of(start)}-{clock_of(end)}"


def run_text(start: str, end: str) -> str:
    """A run of slots for a schedule sheet: ``06:00-07:30``, or with the dates (``11-23 23:30-11-24
    00:30``) when it crosses midnight other than by ending at it."""
    if start[:10] == end[:10] or clock_of(end) == "00:00":
        return f"{clock_of(start)}-{clock_of(end)}"
    return f"{start[5:]}-{end[5:]}"


def window_minute(text: str, start: dt.datetime, end_minute: float, source: str, name: str) -> float:
    """Minute of the window (from ``start``, timezone-aware) of a time given as ``2022-11-23 12:00``,
    ``12:00`` (on the window's first day) or RFC 3339; InputError naming ``source`` and ``name``
    when unreadable or outside [0, ``end_minute``]."""
    from sampler.errors import InputError, InputIssue

    text = text.strip()
    when: dt.datetime | None = None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            clock = dt.datetime.strptime(text, "%H:%M")
            when = start.replace(hour=clock.hour, minute=clock.minute, tzinfo=None)
        except ValueError:
            when = None
    if when is None:
        raise InputError([InputIssue(source, None, name, text,
                                     "write the time as 2022-11-23 12:00, 12:00 or 2022-11-23T12:00:00+08:00")])
    if when.tzinfo is None:
        when = when.replace(tzinfo=start.tzinfo)
    minute = (when - start).total_seconds() / 60.0
    if minute < 0 or minute > end_minute:
        end = start + dt.timedelta(minutes=end_minute)
        raise InputError([InputIssue(source, None, name, text,
                                     f"give a time inside the window {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}")])
    return minute
