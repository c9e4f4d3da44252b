"""Scenario parameters under hostile input: any mapping gives a Scenario or an InputError, never a crash."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sampler.errors import InputError
from sampler.params import (
    SECTIONS,
    Scenario,
    read_mapping,
    registered_sections,
    scenario_from_mapping,
)

_COMPONENTS = registered_sections()  # tests/conftest.py registered every layer's
_CLASSES: dict[str, type] = {**SECTIONS, **{name: spec.load() for name, spec in _COMPONENTS.items()}}
_FIELDS = sorted({f.name for cls in _CLASSES.values() for f in dataclasses.fields(cls)})

_scalars = (st.none() | st.booleans() | st.integers() | st.just(10**400) | st.just(2**53 + 1)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
            | st.datetimes(min_value=dt.datetime(1, 1, 2)) | st.sampled_from(["06:00", "24:00", "evening", "plan"]))
_keys = st.sampled_from(_FIELDS) | st.text(max_size=6) | st.integers()
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=3),
                       max_leaves=10)
_sections = st.dictionaries(_keys, _values, max_size=5) | _values
_mappings = st.dictionaries(st.sampled_from(["area", *_CLASSES, "smss", "colour"]) | st.text(max_size=5),
                            _sections, max_size=6)


def _outcome(mapping: dict[Any, Any]) -> Scenario | list[tuple[str, int | None, str, str, str]]:
    try:
        return scenario_from_mapping(mapping, "scenario.yaml")
    except InputError as exc:
        return [(i.file, i.row, i.field, i.value, i.fix) for i in exc.issues]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mappings)
def test_any_mapping_is_a_scenario_or_named_issues(mapping: dict[Any, Any]) -> None:
    """No exception but InputError; every issue names the file, a field, a short value and a fix;
    a scenario holds each component section it was given as its checked dataclass; same input,
    same outcome."""
    outcome = _outcome(mapping)
    if isinstance(outcome, Scenario):
        assert set(outcome.sections) == {k for k in mapping if k in _COMPONENTS}
        for name, params in outcome.sections.items():
            assert isinstance(params, _CLASSES[name])
            check = getattr(params, "check", None)
            assert check is None or check() == []
    else:
        assert outcome
        for file, row, field, value, fix in outcome:
            assert file == "scenario.yaml" and row is None
            assert isinstance(field, str) and field and isinstance(value, str) and len(value) <= 200
            assert isinstance(fix, str) and fix
    assert _outcome(mapping) == outcome


def test_files_with_deep_nesting_or_huge_numbers_are_issues(tmp_path: Any) -> None:
    """A YAML integer of 5,000 digits or nesting 10,000 deep is an issue naming the file; such a
    number given directly is an issue too (Python will not even print it)."""
    for name, text in (("long.yaml", "window: {hours: 1" + "0" * 5000 + "}\n"),
                       ("deep.yaml", "sim: " + "[" * 10_000 + "]" * 10_000 + "\n")):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        try:
            read_mapping(path)
        except InputError as exc:
            assert exc.issues[0].file == str(path) and exc.issues[0].field == "(file)"
        else:
            raise AssertionError(f"{name} was read")
    try:
        scenario_from_mapping({"window": {"hours": 10**5000}, 10**5000: 1})
    except InputError as exc:
        assert [(i.field, i.value) for i in exc.issues] == [("window.hours", "(a number too long to show)"),
                                                            ("(a number too long to show)", "1")]
    else:
        raise AssertionError("a 5,000-digit number was accepted")
