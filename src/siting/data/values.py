"""Column values checked: required columns, numbers, ids and text, every problem named with its rows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from siting.errors import DataError, SitingError, raise_problems, rows_text, where


def require_columns(df: pd.DataFrame, columns: Sequence[str], path: Path,
                    problems: list[SitingError] | None = None, *, layer: str | None = None) -> bool:
    """Check that the table has the columns; name every missing one.

    Returns
    -------
    bool
        True when every column is there. Problems are appended to ``problems`` when given,
        raised otherwise.
    """
    missing = [c for c in columns if c not in df.columns]
    if not missing:
        return True
    have = [str(c) for c in df.columns if c != "geometry"]
    error = DataError(f"{where(path, layer=layer, column=missing[0])}: missing column(s) {missing}; "
                      f"the file has {have}; add {'it' if len(missing) == 1 else 'them'} or fix the header's spelling")
    if problems is None:
        raise error
    problems.append(error)
    return False


def numeric(df: pd.DataFrame, col: str, path: Path, *, minimum: float | None = None,
            positive: bool = False, maximum: float | None = None, problems: list[SitingError] | None = None,
            ids: np.ndarray | None = None, layer: str | None = None, what: str = "a number",
            fix: str = "correct it") -> np.ndarray:
    """A numeric column, checked: every value a finite number, within ``[minimum, maximum]``.

    Parameters
    ----------
    df, col, path
        The table, the column and the file it came from.
    minimum, positive
        Smallest allowed value; with ``positive`` the value must be greater than ``minimum``.
    maximum
        Largest plausible value (a larger one is reported as absurd).
    problems
        Problems are appended here when given (so that all are listed at once), raised otherwise.
    ids
        The table's ids, to name rows by id as well as by number.
    layer
        The layer of a multi-layer vector file.
    what, fix
        What the values are and how to correct out-of-range ones, for messages.

    Returns
    -------
    numpy.ndarray
        The values as floats (``nan`` where not a number).
    """
    raw = df[col]
    text = raw.astype("string").fillna("").str.strip()
    values = pd.to_numeric(text.str.replace(",", "", regex=False).where(text != "", None),
                           errors="coerce").to_numpy(dtype=float)
    place = where(path, layer=layer, column=col)
    found: list[SitingError] = []
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        blank = text.iloc[bad].eq("").to_numpy()
        first = text.iloc[bad[0]]
        shown = "empty" if first == "" else f"{first!r} is not a number"
        found.append(DataError(
            f"{place}, {rows_text(bad, ids)}: value {shown}"
            + (f" ({int(blank.sum())} of them empty)" if bad.size > 1 and blank.any() else "")
            + f"; give {what} in every row"))
    ok = np.isfinite(values)
    if minimum is not None:
        low = np.flatnonzero(ok & ((values <= minimum) if positive else (values < minimum)))
        if low.size:
            rel = "greater than" if positive else "at least"
            found.append(DataError(
                f"{place}, {rows_text(low, ids)}: value {values[low[0]]:g} must be {rel} {minimum:g}; {fix}"))
    if maximum is not None:
        high = np.flatnonzero(ok & (values > maximum))
        if high.size:
            found.append(DataError(
                f"{place}, {rows_text(high, ids)}: value {values[high[0]]:g} is implausibly large (more than "
                f"{maximum:,.0f}); check the unit and the decimal point"))
    if found:
        if problems is None:
            raise_problems(found)
        else:
            problems.extend(found)
    return values


def ids(df: pd.DataFrame, path: Path, problems: list[SitingError] | None = None, *,
        layer: str | None = None) -> np.ndarray:
    """The ``id`` column as strings, checked for blanks and duplicates."""
    col = df["id"].astype("string").str.strip()
    found: list[SitingError] = []
    place = where(path, layer=layer, column="id")
    blank = np.flatnonzero(col.isna().to_numpy() | (col == "").fillna(True).to_numpy())
    if blank.size:
        found.append(DataError(f"{place}, {rows_text(blank)}: empty id; give every row a unique id"))
    dup = (col.duplicated(keep=False) & col.notna() & (col != "")).fillna(False).to_numpy()
    if dup.any():
        values = col[dup]
        first = str(values.iloc[0])
        rows = np.flatnonzero(dup & (col == first).fillna(False).to_numpy())
        n_ids = values.nunique()
        found.append(DataError(
            f"{place}, {rows_text(rows)}: duplicate id {first!r}"
            + (f" ({n_ids} ids are used more than once)" if n_ids > 1 else "") + "; ids must be unique"))
    if found:
        if problems is None:
            raise_problems(found)
        else:
            problems.extend(found)
    return col.fillna("").to_numpy(dtype=object)


def text_column(df: pd.DataFrame, col: str, default: np.ndarray | None = None) -> np.ndarray:
    """A text column (names, kinds), blanks as empty strings; ``default`` when absent."""
    if col not in df.columns:
        return default.copy() if default is not None else np.full(len(df), "", dtype=object)
    return df[col].astype("string").fillna("").str.strip().to_numpy(dtype=object)
