"""One cost-matrix file as it comes: CSV or Parquet, long or wide, its ids coded and its costs checked.

:func:`read_matrix_file` reads ``data.cost_matrix`` (or ``data.cost_matrix_existing``), tells its
format from its columns when the scenario does not say it (noted), and returns a
:class:`MatrixFile`: every data row's demand id (and, long, site id) as a code into the
distinct ids, and every non-empty cell as a pair with its cost. The problems a file shows on its
own — a missing column, an empty id, a pair given twice, a negative or non-numeric cost — are
appended to ``problems``; :mod:`siting.data.cost_matrix` checks the ids against the district.
Everything is vectorised: a long table names each id many times, and each distinct id is read once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from siting.data.readers import read_csv_frame
from siting.data.scenario import CostMatrixTable
from siting.errors import DataError, SitingError, rows_text, where

CSV_SUFFIXES = (".csv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
LISTED = 5  # ids or columns named in a message


@dataclass(frozen=True)
class MatrixFile:
    """One matrix file as read: its rows, the ids they name (each distinct id once), and its non-empty cells.

    Ids are factorised (a long table names each id many times): a row holds a code into
    ``demand_ids`` (and, long, into ``destinations``), so that ids are checked once each.
    """

    path: Path
    role: str
    spec: CostMatrixTable
    format: Literal["long", "wide"]
    demand_ids: np.ndarray  # each distinct demand id ('' for a blank)
    row_demand: np.ndarray  # code of each data row's demand id
    destinations: np.ndarray  # long: each distinct site id; wide: the header of each column
    row_destination: np.ndarray | None  # long: code of each data row's site id
    entry_row: np.ndarray  # data row of each pair
    entry_dest: np.ndarray  # position in ``destinations`` of each pair
    cost: np.ndarray  # cost of each pair in the file's unit (nan where not a number)

    def place(self, column: str | None = None) -> str:
        return where(self.path, column=column)

    def row_ids(self) -> np.ndarray:
        """The demand id of every data row (for naming rows in messages)."""
        out: np.ndarray = self.demand_ids[self.row_demand]
        return out

    def destination_place(self, bad: np.ndarray) -> str:
        """Where the destinations flagged in ``bad`` are: rows of the site column, or columns of a wide table."""
        if self.row_destination is not None:
            rows = np.flatnonzero(bad[self.row_destination])
            return f"{self.place(self.spec.site)}, {rows_text(rows, self.destinations[self.row_destination])}"
        columns = np.flatnonzero(bad)
        names = [str(c) for c in self.destinations[columns[:LISTED]]]
        more = f" and {columns.size - LISTED} more" if columns.size > LISTED else ""
        return f"{self.place()}, column(s) {names}{more}"


def _id_text(values: pd.Series | pd.Index, place: str, notes: list[str]) -> np.ndarray:
    """Ids as stripped text ('' for a blank); whole numbers stored as decimals (a Parquet column with gaps)
    without ``.0``, noted."""
    series = pd.Series(values)
    text = series.astype("string").fillna("").str.strip().to_numpy(dtype=object)
    if pd.api.types.is_float_dtype(series):
        x = series.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(x) & (x == np.round(x))
        if whole.any():
            text[whole] = x[whole].astype(np.int64).astype(str)
            notes.append(f"{place}: ids stored as decimal numbers, read as whole numbers (3.0 as '3')")
    return np.asarray(text, dtype=object)


def _coded_ids(values: pd.Series, place: str, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code of each row, each distinct id as text): the column factorised, then each distinct value read once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = np.append(_id_text(pd.Index(uniques), place, notes), "")  # the last: blank (a null's code -1)
    merged, ids = pd.factorize(text)  # ' D1' and 'D1' are one id
    return np.asarray(merged, dtype=np.int64)[codes], np.asarray(ids, dtype=object)


def _numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray, pd.Series | None]:
    """(numbers, blank, text) of costs: numeric columns as they are (null is blank, no text), text parsed
    ('1,200' is 1200)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        x = values.to_numpy(dtype=float, na_value=np.nan)
        return x, np.isnan(x), None
    text = values.astype("string").fillna("").str.strip()
    blank = (text == "").to_numpy(dtype=bool)
    parsed = pd.to_numeric(text.str.replace(",", "", regex=False).where(~blank, None), errors="coerce")
    return parsed.to_numpy(dtype=float, na_value=np.nan), blank, text


def _first_text(text: pd.Series | None, blank: np.ndarray, cost: np.ndarray) -> str | None:
    """The text of the first cost that is not a number, for the message."""
    bad = np.flatnonzero(~blank & ~np.isfinite(cost))
    return str(text.iloc[int(bad[0])]) if text is not None and bad.size else None


def _frame(spec: CostMatrixTable, role: str, problems: list[SitingError], notes: list[str]) -> pd.DataFrame | None:
    """The matrix file as a table (CSV as text, Parquet as stored), headers as stripped text."""
    path = spec.path
    if not path.is_file():
        problems.append(DataError(f"cost matrix {path} not found; fix the path in the scenario's 'data.{role}'"))
        return None
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return read_csv_frame(path, "cost matrix", problems, notes)
    if suffix not in PARQUET_SUFFIXES:
        problems.append(DataError(f"cost matrix {path}: unsupported format '{suffix}'; give a CSV (.csv) or a "
                                  f"Parquet (.parquet) file"))
        return None
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        problems.append(DataError(f"cost matrix {path}: reading Parquet needs the pyarrow package; install it "
                                  f"(pip install pyarrow) or save the matrix as CSV"))
        return None
    except Exception as e:  # pyarrow raises several types for unreadable files
        problems.append(DataError(f"cost matrix {path} is not a readable Parquet file: {e}"))
        return None
    if frame.empty:
        problems.append(DataError(f"cost matrix {path} has no data rows"))
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.reset_index(drop=True)


def _format(spec: CostMatrixTable, frame: pd.DataFrame, role: str, problems: list[SitingError],
            notes: list[str]) -> Literal["long", "wide"] | None:
    """The format the scenario names, or the one the columns show (noted)."""
    if spec.format is not None:
        return spec.format
    columns = list(frame.columns)
    if spec.site in columns and spec.cost in columns:
        notes.append(f"{spec.path}: read as a long cost matrix (one row per pair: columns '{spec.demand}', "
                     f"'{spec.site}', '{spec.cost}'); say data.{role}.format to choose")
        return "long"
    if spec.demand in columns:
        notes.append(f"{spec.path}: read as a wide cost matrix (one row per demand id in column '{spec.demand}', "
                     f"one column per site id: {len(columns) - 1} columns); say data.{role}.format to choose")
        return "wide"
    problems.append(DataError(
        f"{where(spec.path, field=f'data.{role}.format')}: cannot tell the format: no column '{spec.demand}' (demand "
        f"ids) nor '{spec.site}' and '{spec.cost}'; the file has {columns[:8]}. Name the columns in the scenario "
        f"(data.{role}: {{path: {spec.path.name}, demand: <demand id column>, site: <site id column>, cost: <cost "
        f"column>}}) and say format: long (one row per pair) or wide (one column per site)"))
    return None


def _missing_columns(spec: CostMatrixTable, frame: pd.DataFrame, role: str, fields: tuple[str, ...],
                     problems: list[SitingError]) -> bool:
    missing = [(f, getattr(spec, f)) for f in fields if getattr(spec, f) not in frame.columns]
    for field, column in missing:
        problems.append(DataError(
            f"{where(spec.path, column=column)}: missing; the file has {list(frame.columns)[:8]}; name the column "
            f"of the {field} {'ids' if field != 'cost' else 'costs'} in the scenario: data.{role}.{field}"))
    return bool(missing)


def _read_long(spec: CostMatrixTable, frame: pd.DataFrame, role: str, problems: list[SitingError],
               notes: list[str]) -> MatrixFile | None:
    if _missing_columns(spec, frame, role, ("demand", "site", "cost"), problems):
        return None
    row_d, demand = _coded_ids(frame[spec.demand], where(spec.path, column=spec.demand), notes)
    row_s, dest = _coded_ids(frame[spec.site], where(spec.path, column=spec.site), notes)
    cost, blank, text = _numbers(frame[spec.cost])
    for column, codes, ids in ((spec.demand, row_d, demand), (spec.site, row_s, dest)):
        empty = np.flatnonzero(ids[codes] == "")
        if empty.size:
            problems.append(DataError(f"{where(spec.path, column=column)}, {rows_text(empty)}: empty id; give the "
                                      f"demand id and the site id of every pair"))
    empty = np.flatnonzero(blank)
    if empty.size:
        problems.append(DataError(
            f"{where(spec.path, column=spec.cost)}, {rows_text(empty, demand[row_d])}: empty cost; give the walking "
            f"cost, or remove the row (a pair absent from a long table is beyond reach)"))
    key = pd.Series(row_d * len(dest) + row_s)
    twice = key.duplicated(keep=False).to_numpy(dtype=bool)
    if twice.any():
        rows = np.flatnonzero(twice)
        first = int(rows[0])
        others = int(key.iloc[rows].nunique()) - 1
        problems.append(DataError(
            f"{where(spec.path)}, columns '{spec.demand}' and '{spec.site}', {rows_text(rows)}: the pair "
            f"({demand[row_d[first]]!r}, {dest[row_s[first]]!r}){f' and {others} other(s)' if others else ''} given "
            f"more than once; keep one row per pair"))
    rows = np.flatnonzero(~blank)  # empty costs are reported above
    read = MatrixFile(spec.path, role, spec, "long", demand, row_d, dest, row_s, rows, row_s[rows], cost[rows])
    _check_costs(read, _first_text(text, blank, cost), problems)
    return read


def _read_wide(spec: CostMatrixTable, frame: pd.DataFrame, role: str, problems: list[SitingError],
               notes: list[str]) -> MatrixFile | None:
    if _missing_columns(spec, frame, role, ("demand",), problems):
        return None
    given = {"site", "cost"} & spec.model_fields_set
    if given:
        notes.append(f"{spec.path}: data.{role}.{'/'.join(sorted(given))} apply to long tables; a wide table's "
                     f"columns are its site ids")
    row_d, demand = _coded_ids(frame[spec.demand], where(spec.path, column=spec.demand), notes)
    columns = [c for c in frame.columns if c != spec.demand]
    if not columns:
        problems.append(DataError(f"{spec.path}: a wide cost matrix needs one column per site id beside "
                                  f"'{spec.demand}'; the file has none"))
        return None
    names = set(columns)
    mangled = [c for c in columns if "." in c and c.rsplit(".", 1)[0] in names and c.rsplit(".", 1)[1].isdigit()]
    if mangled:  # pandas renames a header given twice 'S1', 'S1.1'
        problems.append(DataError(f"{spec.path}: site column(s) {sorted({c.rsplit('.', 1)[0] for c in mangled})} "
                                  f"appear more than once in the header; give each site one column"))
    ids = demand[row_d]
    empty = np.flatnonzero(ids == "")
    if empty.size:
        problems.append(DataError(f"{where(spec.path, column=spec.demand)}, {rows_text(empty)}: empty id; give the "
                                  f"demand id of every row"))
    twice = np.flatnonzero(pd.Series(row_d).duplicated(keep=False).to_numpy(dtype=bool) & (ids != ""))
    if twice.size:
        problems.append(DataError(f"{where(spec.path, column=spec.demand)}, {rows_text(twice, ids)}: demand id "
                                  f"{ids[twice[0]]!r} has more than one row; keep one row per demand point"))
    block = frame[columns]
    if all(pd.api.types.is_numeric_dtype(block[c]) and not pd.api.types.is_bool_dtype(block[c]) for c in columns):
        flat = pd.Series(block.to_numpy(dtype=float, na_value=np.nan).ravel())
    else:
        flat = pd.Series(block.astype("string").to_numpy(dtype=object).ravel(), dtype="string")
    cost, blank, text = _numbers(flat)
    m = len(columns)
    cells = np.flatnonzero(~blank)  # an empty cell: beyond reach
    read = MatrixFile(spec.path, role, spec, "wide", demand, row_d, np.array(columns, dtype=object), None, cells // m,
                 cells % m, cost[cells])
    _check_costs(read, _first_text(text, blank, cost), problems)
    return read


def _check_costs(read: MatrixFile, first_text: str | None, problems: list[SitingError]) -> None:
    """Non-numeric and negative costs, named by row (and column of a wide table)."""
    spec = read.spec
    beyond = "remove the row" if read.format == "long" else "leave the cell empty"
    for bad, what in ((~np.isfinite(read.cost), "is not a number"), (np.isfinite(read.cost) & (read.cost < 0),
                                                                     "is negative")):
        if not bad.any():
            continue
        rows = np.unique(read.entry_row[bad])
        if read.format == "long":
            place = read.place(spec.cost)
        else:
            cols = [str(c) for c in read.destinations[np.unique(read.entry_dest[bad])][:LISTED]]
            place = f"{read.place()}, column(s) {cols}"
        first = float(read.cost[bad][0])
        shown = f"value {first:g}" if np.isfinite(first) else f"value {first_text!r}" if first_text else "a value"
        problems.append(DataError(
            f"{place}, {rows_text(rows, read.row_ids())}: {shown} {what}; give walking "
            f"{'minutes' if spec.unit == 'min' else 'metres'} (zero or more), or {beyond} for a pair beyond reach"))


def read_matrix_file(spec: CostMatrixTable, role: str, problems: list[SitingError],
                     notes: list[str]) -> MatrixFile | None:
    """Read one cost-matrix file, long or wide; ``None`` when it cannot be read as one.

    Parameters
    ----------
    spec
        The file and how to read it (``data.cost_matrix`` or ``data.cost_matrix_existing``).
    role
        ``cost_matrix`` or ``cost_matrix_existing``, for messages.
    problems, notes
        Problems found and things the planner should know are appended here.
    """
    frame = _frame(spec, role, problems, notes)
    fmt = _format(spec, frame, role, problems, notes) if frame is not None else None
    if frame is None or fmt is None:
        return None
    return (_read_long if fmt == "long" else _read_wide)(spec, frame, role, problems, notes)


__all__ = ["LISTED", "MatrixFile", "read_matrix_file"]
