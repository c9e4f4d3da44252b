"""Scenario parameters are parsed bounded: no YAML anchors or aliases (billion laughs), limited
depth and size, no control characters; ordinary YAML, JSON and TOML read as before."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sampler.errors import InputError
from sampler.params import MAX_SCENARIO_BYTES, parse_mapping, read_mapping

LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(6))


def test_ordinary_documents_read_as_safe_load_does() -> None:
    """YAML and JSON give what yaml.safe_load gives; TOML is read by tomllib."""
    text = 'area: 幸福街道\nwindow: {start: "2022-11-23 06:00", hours: 12}\nsms: {sign: "x"}\nlist: [1, 2.5, null]\n'
    assert parse_mapping(text, "s.yaml") == yaml.safe_load(text)
    assert parse_mapping('{"area": "a", "walk": {"max_minutes": 15}}', "p") == {"area": "a", "walk": {"max_minutes": 15}}
    assert parse_mapping('area = "a"\n[walk]\nmax_minutes = 15\n', "s.toml", toml=True) == {
        "area": "a", "walk": {"max_minutes": 15}}


@pytest.mark.parametrize("text, words", [
    (LAUGHS, "aliases"),
    ("a: &x 1\n", "aliases"),
    ("x: " + "[" * 100 + "]" * 100, "nested"),
    ("area: " + "x" * (MAX_SCENARIO_BYTES + 1), "at most"),
    ('area: "a\\0b"', "control characters"),
    ('"k\\x01": 1', "control characters"),
    ("- 1\n- 2\n", "mapping"),
])
def test_hostile_documents_are_input_errors(text: str, words: str) -> None:
    """Aliases, deep nesting, oversize text and control characters are InputErrors naming the file."""
    with pytest.raises(InputError) as err:
        parse_mapping(text, "scenario.yaml")
    assert err.value.issues[0].file == "scenario.yaml"
    assert words in str(err.value)


def test_billion_laughs_scenario_file_is_refused(tmp_path: Path) -> None:
    """A scenario file built of aliases is refused by the file loader the CLI uses."""
    path = tmp_path / "scenario.yaml"
    path.write_text(LAUGHS, encoding="utf-8")
    with pytest.raises(InputError, match="aliases"):
        read_mapping(path)
