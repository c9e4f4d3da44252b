"""One rule for worksheet titles (plan workbook, notices, roster): valid for Excel and unique."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sampler.io.xlsx import sheet_title


def test_exact_titles():
    used: set[str] = set()
    assert sheet_title("A区/1号楼[东]", used) == "A区_1号楼_东_"
    assert sheet_title("a区/1号楼[东]", used) == "a区_1号楼_东_~2"  # Excel compares case-insensitively
    assert sheet_title("'quoted'", used) == "quoted"
    assert sheet_title("", used, "site") == "site"
    assert sheet_title("x" * 40, used) == "x" * 31
    assert sheet_title("x" * 40, used) == "x" * 29 + "~2"


@given(st.lists(st.text(max_size=40), max_size=40))
def test_titles_are_valid_and_distinct(texts: list[str]):
    used: set[str] = set()
    titles = [sheet_title(t, used) for t in texts]
    assert len({t.lower() for t in titles}) == len(titles)
    for t in titles:
        assert 1 <= len(t) <= 31 and not set(t) & set("[]:*?/\\") and t[0] != "'" and t[-1] != "'"
