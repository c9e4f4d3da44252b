"""Age and sex from resident identity numbers (居民身份证号码, GB 11643-1999), for whole columns.

An 18-character number is 6 digits of region, 8 of birth date (YYYYMMDD), 3 of sequence (odd:
male, even: female) and a check character: ``"10X98765432"[Σ dᵢ·wᵢ mod 11]`` with weights
7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 (ISO 7064 MOD 11-2). Old 15-digit numbers hold YYMMDD (19YY)
and no check character.

`parse_ids` returns only what planning needs — age in whole years on a given day, sex, and which
numbers were malformed or failed the check — never the numbers themselves; the caller drops the
column right after (residents' identity numbers must not reach any output, database or log).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sampler.model import IntArray

__all__ = ["IdFacts", "check_char", "parse_ids"]

_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


def check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits (for tests and templates)."""
    total = sum(int(c) * int(w) for c, w in zip(first17, _WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


@dataclass(frozen=True)
class IdFacts:
    """What a column of identity numbers says, row by row.

    Attributes
    ----------
    age
        Age in whole years on the reference day; −1 where the number is blank or unreadable.
    sex
        1 male, 2 female, 0 unknown.
    malformed
        Not blank and not 18 characters (17 digits + digit or X) or 15 digits, or no valid birth date.
    bad_check
        18 characters with a valid date whose check character does not match.
    """

    age: IntArray
    sex: IntArray
    malformed: np.ndarray
    bad_check: np.ndarray


def _fixed(arr: pa.Array, width: int, mask: np.ndarray) -> np.ndarray:
    """The rows of ``mask`` (all exactly ``width`` bytes) as an (n, width) uint8 matrix."""
    chosen = arr.filter(pa.array(mask))
    if isinstance(chosen, pa.ChunkedArray):
        chosen = chosen.combine_chunks()
    if not len(chosen):
        return np.zeros((0, width), dtype=np.uint8)
    chosen = chosen.cast(pa.large_string())
    offsets = np.frombuffer(chosen.buffers()[1], dtype=np.int64)[chosen.offset: chosen.offset + len(chosen) + 1]
    data = np.frombuffer(chosen.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]]
    return data.reshape(-1, width)


def _dates_ok(year: IntArray, month: IntArray, day: IntArray) -> np.ndarray:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)[np.clip(month, 0, 12)]
    days = days + ((month == 2) & leap)
    return (year >= 1880) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)


def _ages(year: IntArray, month: IntArray, day: IntArray, on: dt.date) -> IntArray:
    before = (month > on.month) | ((month == on.month) & (day > on.day))
    return (on.year - year - before).astype(np.int64)


def parse_ids(values: pa.Array, on: dt.date) -> IdFacts:
    """Age (on ``on``), sex and validity of every identity number of a text column (Arrow, trimmed)."""
    arr = pc.utf8_upper(values.cast(pa.large_string()))
    n = len(arr)
    age = np.full(n, -1, dtype=np.int64)
    sex = np.zeros(n, dtype=np.int64)
    bad_check = np.zeros(n, dtype=bool)
    blank = pc.equal(arr, "").to_numpy(zero_copy_only=False)
    is18 = pc.match_substring_regex(arr, r"^\d{17}[\dX]$").to_numpy(zero_copy_only=False)
    is15 = pc.match_substring_regex(arr, r"^\d{15}$").to_numpy(zero_copy_only=False)
    ok = np.zeros(n, dtype=bool)
    if is18.any():
        m = _fixed(arr, 18, is18)
        digits = (m[:, :17] - 48).astype(np.int64)
        y = digits[:, 6:10] @ np.array([1000, 100, 10, 1])
        mo = digits[:, 10:12] @ np.array([10, 1])
        d = digits[:, 12:14] @ np.array([10, 1])
        valid = _dates_ok(y, mo, d) & (y <= on.year)
        rows = np.flatnonzero(is18)
        expected = _CHECK[(digits @ _WEIGHTS) % 11]
        bad_check[rows[valid]] = (expected != m[:, 17])[valid]
        age[rows[valid]] = _ages(y, mo, d, on)[valid]
        sex[rows[valid]] = np.where(digits[:, 16] % 2 == 1, 1, 2)[valid]
        ok[rows[valid]] = True
    if is15.any():
        m = _fixed(arr, 15, is15)
        digits = (m - 48).astype(np.int64)
        y = 1900 + digits[:, 6:8] @ np.array([10, 1])
        mo = digits[:, 8:10] @ np.array([10, 1])
        d = digits[:, 10:12] @ np.array([10, 1])
        valid = _dates_ok(y, mo, d)
        rows = np.flatnonzero(is15)
        age[rows[valid]] = _ages(y, mo, d, on)[valid]
        sex[rows[valid]] = np.where(digits[:, 14] % 2 == 1, 1, 2)[valid]
        ok[rows[valid]] = True
    age[ok & (age < 0)] = -1
    return IdFacts(age=age, sex=sex, malformed=~blank & ~ok, bad_check=bad_check)
