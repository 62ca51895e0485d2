"""CSV tables safe to open in a spreadsheet.

Site and service names come from planners' data. A cell such as ``=HYPERLINK(...)`` or
``@SUM(...)`` would run as a formula when the CSV is opened in Excel or WPS; every text cell
that a spreadsheet would read as a formula is written with a leading apostrophe, which the
spreadsheet shows as plain text. Numbers, and signed text numbers such as ``+12 %``, are
written as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

_FORMULA_START = re.compile(r"^[=@\t\r]|^[+-](?![\d.,\s%]*$)")


def neutralise(value: object) -> object:
    """The value, or the text with a leading apostrophe when a spreadsheet would run it as a formula."""
    if isinstance(value, str) and _FORMULA_START.match(value):
        return "'" + value
    return value


def safe_table(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells (and column names) cannot act as spreadsheet formulas."""
    text = [c for c in df.columns if df[c].dtype == object or isinstance(df[c].dtype, pd.StringDtype)]
    if not text and not any(isinstance(c, str) and _FORMULA_START.match(c) for c in df.columns):
        return df
    out = df.copy()
    for c in text:
        out[c] = out[c].map(neutralise)
    out.columns = [neutralise(c) for c in out.columns]
    return out


def write_csv(df: pd.DataFrame, path: Path, *, float_format: str | None = None) -> None:
    """Write ``df`` as CSV without its index, text cells made formula-safe (module docstring)."""
    safe_table(df).to_csv(path, index=False, float_format=float_format)
