"""Text columns between Arrow and pandas: pandas' default text dtype and the one conversion to it.

Registry files are read into Arrow string arrays, households keep their text columns in Arrow
(`sampler.model.HouseholdTable.with_text`) and the plan files are written from Arrow; each of
those steps turns an Arrow array into a pandas column the same way, here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["TEXT_DTYPE", "text_series"]

TEXT_DTYPE = pd.Series([""], dtype=object).astype(str).dtype  # pandas' default text dtype


def text_series(values: Any) -> pd.Series:
    """An Arrow string array (chunked or not) as a pandas text column of `TEXT_DTYPE`.

    The Arrow buffers are taken over as they are: no trip through a million Python strings.
    """
    return pd.Series(pd.array(values, dtype=TEXT_DTYPE))
