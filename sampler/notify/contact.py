"""Residents' contact details: the mobile-number rule, phone masking and the address as written.

One rule each, used by the registry reader (phone checks), the SMS lists (checks, addresses),
the printed notices (unit labels) and the API (masking, lookup addresses).
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["MOBILE", "address_of", "addresses", "mask_phone", "unit_label", "valid_phone", "valid_phones"]

MOBILE = re.compile(r"1[3-9]\d{9}")
"""An 11-digit mainland mobile number (1[3-9]xxxxxxxxx); match it whole (``fullmatch``)."""

_UNIT = "单元"


def valid_phone(phone: str) -> bool:
    """Whether ``phone`` is an 11-digit mainland mobile number (1[3-9]xxxxxxxxx)."""
    return bool(MOBILE.fullmatch(phone))


def valid_phones(phones: pd.Series) -> npt.NDArray[np.bool_]:
    """`valid_phone` of every cell of a column (blank and missing cells are not valid)."""
    return phones.astype(str).str.fullmatch(MOBILE.pattern).fillna(False).to_numpy(dtype=bool)


def mask_phone(phone: str) -> str:
    """Mask a phone number for display: 13812341234 → 138****1234; short values → ****."""
    phone = str(phone)
    if len(phone) < 8:
        return "****" if phone else ""
    return f"{phone[:3]}****{phone[-4:]}"


def unit_label(unit: str) -> str:
    """A unit as residents write it: '2' → '2单元'; '2单元' and blank stay as they are."""
    return unit if not unit or unit.endswith(_UNIT) else f"{unit}{_UNIT}"


def address_of(building_name: str, unit: str, room: str) -> str:
    """Address as residents write it: 3号楼2单元501 (unit and room optional)."""
    return f"{building_name}{unit_label(str(unit)) if unit else ''}{room if room else ''}"


def addresses(building_name: pd.Series, unit: pd.Series, room: pd.Series) -> npt.NDArray[np.object_]:
    """`address_of` for whole columns (missing cells are blank); each distinct unit is labelled once."""
    codes, units = pd.factorize(unit.fillna("").astype(str), sort=False)
    labels = pd.Series(np.array([unit_label(u) for u in units], dtype=object)[codes], index=unit.index, dtype=object)
    text = building_name.fillna("").astype(str) + labels + room.fillna("").astype(str)
    return text.to_numpy(dtype=object)
