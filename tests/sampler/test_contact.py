"""Contact details: one mobile rule, masking, and the address whether built one row or a column at a time."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from sampler.notify.contact import (
    address_of,
    addresses,
    mask_phone,
    unit_label,
    valid_phone,
    valid_phones,
)


def test_mobile_rule_exact_cases():
    assert valid_phone("13812345678") and valid_phone("19912345678")
    for bad in ("", "12812345678", "1381234567", "138123456789", "+8613812345678", "138 1234 5678", "１３８１２３４５６７８"):
        assert not valid_phone(bad), bad
    assert valid_phones(pd.Series(["13812345678", "", None, "12812345678", 13812345678])).tolist() == [
        True, False, False, False, True]


def test_mask_and_unit_label():
    assert mask_phone("13812345678") == "138****5678"
    assert (mask_phone(""), mask_phone("1234567")) == ("", "****")
    assert [unit_label(u) for u in ("", "2", "2单元", "东")] == ["", "2单元", "2单元", "东单元"]
    assert address_of("3号楼", "2", "501") == "3号楼2单元501"
    assert address_of("3号楼", "", "") == "3号楼"


_cell = st.one_of(st.none(), st.sampled_from(["", "1", "2单元", "东", "单元", "0"]), st.text(max_size=4))


@given(st.lists(st.tuples(st.text(min_size=1, max_size=5), _cell, _cell), max_size=30))
def test_columns_give_the_same_addresses_as_rows(rows: list[tuple[str, str | None, str | None]]):
    """`addresses` is `address_of` applied row by row, missing cells counting as blank."""
    name = pd.Series([r[0] for r in rows], dtype=object)
    unit = pd.Series([r[1] for r in rows], dtype=object)
    room = pd.Series([r[2] for r in rows], dtype=object)
    expected = [address_of(b, u or "", r or "") for b, u, r in rows]
    assert addresses(name, unit, room).tolist() == expected


@given(st.lists(st.text(alphabet="0123456789+ -", max_size=13), max_size=30))
def test_column_check_is_the_row_check(phones: list[str]):
    assert valid_phones(pd.Series(phones, dtype=object)).tolist() == [valid_phone(p) for p in phones]
