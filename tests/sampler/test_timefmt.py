"""The one slot-label format and clock parser: exact cases, round trips and bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sampler.io.timefmt import (
    HOUR_CHARS,
    clock_of,
    date_zh,
    format_clock,
    format_slot,
    parse_clock,
    parse_slot,
    run_text,
    slot_labels,
    span_zh,
)
from sampler.notify.sms import SmsParams
from sampler.params import WindowParams


def test_labels_and_clocks_read_as_in_the_plan_files() -> None:
    """Exact spellings: labels, clock times, the Chinese span and the hour prefix."""
    start = dt.datetime(2022, 11, 23, 23, 0)
    assert slot_labels(start, 30, 3) == ["2022-11-23 23:00", "2022-11-23 23:30", "2022-11-24 00:00"]
    assert format_clock(0) == "00:00" and format_clock(390) == "06:30" and format_clock(1440) == "24:00"
    assert clock_of("2022-11-23 06:30") == "06:30"
    assert date_zh("2022-11-03 06:30") == "11月3日"
    assert span_zh("2022-11-23 06:00", "2022-11-23 06:30") == "11月23日 06:00-06:30"
    assert "2022-11-23 06:30"[:HOUR_CHARS] == "2022-11-23 06"


def test_runs_show_dates_only_when_they_cross_midnight() -> None:
    """A run ending at midnight keeps clock times; one going past it shows month-day."""
    assert run_text("2022-11-23 06:00", "2022-11-23 07:30") == "06:00-07:30"
    assert run_text("2022-11-23 23:00", "2022-11-24 00:00") == "23:00-00:00"
    assert run_text("2022-11-23 23:30", "2022-11-24 00:30") == "11-23 23:30-11-24 00:30"


@pytest.mark.parametrize(("text", "minutes"), [
    ("00:00", 0), ("6:30", 390), ("06:30", 390), (" 07:05 ", 425), ("20：00", 1200), ("24:00", 1440),
])
def test_clock_times_that_parse(text: str, minutes: int) -> None:
    """H:MM or HH:MM, ASCII or full-width colon, up to 24:00."""
    assert parse_clock(text) == minutes


@pytest.mark.parametrize("text", ["", "7", "7:5", "07:60", "24:01", "25:00", "-1:00", "07:00:00", "7h30", "07.30"])
def test_clock_times_that_do_not(text: str) -> None:
    """Anything else is a ValueError (callers turn it into an InputIssue)."""
    with pytest.raises(ValueError):
        parse_clock(text)


@given(st.integers(0, 24 * 60))
def test_clock_round_trip(minute: int) -> None:
    """parse_clock inverts format_clock on the whole day."""
    assert parse_clock(format_clock(minute)) == minute


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)))
def test_label_round_trip(when: dt.datetime) -> None:
    """parse_slot inverts format_slot to the minute."""
    assert parse_slot(format_slot(when)) == when.replace(second=0, microsecond=0)


def test_bad_labels_are_value_errors() -> None:
    """A label that is not YYYY-MM-DD HH:MM does not parse."""
    for text in ("2022-11-23", "2022/11/23 06:00", "2022-11-23 6", "06:00"):
        with pytest.raises(ValueError):
            parse_slot(text)


def test_scenario_sections_use_the_one_parser() -> None:
    """The window's night hours and the SMS evening batch accept and refuse the same spellings."""
    assert WindowParams(night=("22：00", "6:00")).check() == []
    assert [p[0] for p in WindowParams(night=("22:00", "7:5")).check()] == ["night"]
    assert SmsParams(evening_at="20：00").check() == []
    assert [p[0] for p in SmsParams(evening_at="24:00").check()] == ["evening_at"]
