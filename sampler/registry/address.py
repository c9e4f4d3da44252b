"""Addresses as rosters write them, split into compound, building, unit and room.

Three styles are read, each optionally after the compound's name (and any district or street in
front of it)::

    湖绣家园3号楼2单元501室     3栋2单元501     3-2-501     (also 3幢, 3座, 3#, 3-501, 芝山村12号)

`parse_address` returns ``(prefix, building, unit, room)``, the prefix being the text before the
building (where the compound's name is looked for), or None when no building can be found. A
village house (``芝山村12号``) is a building of its own (``12号``) without unit or room.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np

__all__ = ["compound_in", "natural_key", "normalise", "parse_address", "parse_addresses"]

_ZH_DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
              "十": "10"}
_BUILDING = r"(?P<b>[0-9]+[A-Za-z]?|[A-Za-z][0-9]*)"
_UNIT = r"(?:(?P<u>[0-9]+)(?:单元|门|号门))"
_ROOM = r"(?P<r>[0-9]+[A-Za-z]?)"
_PATTERNS = (
    # 湖绣家园3号楼2单元501室, 3栋2单元501, 3幢501室, 3#2单元501
    re.compile(rf"(?P<pre>.*?){_BUILDING}(?:号楼|号栋|号幢|栋|幢|座|号?楼|#)-?{_UNIT}?-?(?:{_ROOM}(?:室|号|户)?)?"),
    # 3号2单元501室, 3号501室 (号 as the building's mark only when a room follows)
    re.compile(rf"(?P<pre>.*?){_BUILDING}号{_UNIT}?{_ROOM}(?:室|户)"),
    re.compile(rf"(?P<pre>.*?){_BUILDING}号{_UNIT}{_ROOM}(?:室|号|户)?"),
    # 3-2-501, 湖绣家园3-2-501室
    re.compile(rf"(?P<pre>.*?[^0-9A-Za-z-])?{_BUILDING}-(?P<u>[0-9]+)-{_ROOM}(?:室|号)?"),
    # 3-501 (a building without units)
    re.compile(rf"(?P<pre>.*?[^0-9A-Za-z-])?{_BUILDING}-{_ROOM}(?:室|号)?"),
    # 芝山村12号: a house
    re.compile(r"(?P<pre>.*?)(?P<b>[0-9]+)号(?:院)?"),
)


def normalise(text: str) -> str:
    """Full-width digits, letters and dashes as ASCII, spaces removed, 一单元 as 1单元."""
    text = unicodedata.normalize("NFKC", text).replace(" ", "").replace("—", "-").replace("－", "-")
    text = text.replace("－", "-").replace("–", "-").replace("_", "-")
    return re.sub(r"([一二三四五六七八九十])(?=单元)", lambda m: _ZH_DIGITS[m.group(1)], text)


def parse_address(text: str) -> tuple[str, str, str, str] | None:
    """``(prefix, building, unit, room)`` of an address, or None when it names no building."""
    text = normalise(text)
    if not text:
        return None
    for pattern in _PATTERNS:
        m = pattern.fullmatch(text)
        if m:
            groups = m.groupdict()
            house = pattern is _PATTERNS[-1]
            return ((groups.get("pre") or "").strip("-,，"), groups["b"].upper() + ("号" if house else ""),
                    groups.get("u") or "", groups.get("r") or "")
    return None


def _normalise_arrow(values: Any) -> Any:
    """`normalise` of an Arrow string array, in Arrow's kernels."""
    import pyarrow.compute as pc

    text = pc.utf8_normalize(values, "NFKC")
    for old, new in ((" ", ""), ("—", "-"), ("－", "-"), ("–", "-"), ("_", "-")):
        text = pc.replace_substring(text, old, new)
    for zh, digit in _ZH_DIGITS.items():
        text = pc.replace_substring(text, zh + "单元", digit + "单元")
    return text


def parse_addresses(values: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`parse_address` of every value of an Arrow string array at once (RE2 in Arrow, linear time):
    prefix, building, unit and room as object arrays ('' where absent) and a mask of the values
    that name a building. Same results as `parse_address` value by value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _normalise_arrow(pa.array(values, type=pa.string()) if not isinstance(values, pa.Array) else values)
    n = len(text)
    out = [np.full(n, "", dtype=object) for _ in range(4)]
    done = np.zeros(n, dtype=bool)
    blank = pc.equal(text, "").to_numpy(zero_copy_only=False)
    for k, pattern in enumerate(_PATTERNS):
        todo = np.flatnonzero(~done & ~blank)
        if not len(todo):
            break
        found = pc.extract_regex(text.take(pa.array(todo)), "^" + pattern.pattern + "$")
        ok = found.is_valid().to_numpy(zero_copy_only=False)
        rows = todo[ok]
        names = [found.type.field(i).name for i in range(found.type.num_fields)]
        for j, name in enumerate(("pre", "b", "u", "r")):
            if name not in names:
                continue
            col = np.asarray(found.field(names.index(name)).to_numpy(zero_copy_only=False), dtype=object)[ok]
            if name == "b":
                col = np.array([c.upper() + ("号" if k == len(_PATTERNS) - 1 else "") for c in col], dtype=object)
            if name == "pre":
                col = np.array([c.strip("-,，") for c in col], dtype=object)
            out[j][rows] = col
        done[rows] = True
    return out[0], out[1], out[2], out[3], done


def compound_in(prefix: str, names: list[str]) -> str | None:
    """The compound named in an address's prefix: the longest of ``names`` it contains."""
    prefix = normalise(prefix)
    best = None
    for name in names:
        if name and name in prefix and (best is None or len(name) > len(best)):
            best = name
    return best


def natural_key(label: str) -> tuple[int, str]:
    """Sort key putting building 2 before 10 (labels that are not numbers after numbers)."""
    m = re.match(r"\d+", label)
    return (int(m.group()) if m else 1 << 30, label)
