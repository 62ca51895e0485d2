"""Spreadsheets (.xlsx, .xlsm, .xls, .ods) read with python-calamine, as tables of text.

The sheet is the one the scenario names (``sheet:``), else the only sheet, else the one named
after the table (:data:`SHEET_NAMES`: ``闲置资产一本账`` or ``sites`` for the ledger...). Title
rows above the header (a merged "江北区闲置资产一本账" line) are skipped, with a note; cells are
turned into text as CSV cells are (``500.0`` → ``500``), so that the same checks apply.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from siting.errors import DataError, SitingError, where

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
#: Sheet names that hold each table, when the scenario names none (compared without case).
SHEET_NAMES: dict[str, tuple[str, ...]] = {
    "sites": ("闲置资产一本账", "闲置资产", "一本账", "资产台账", "sites", "ledger"),
    "demand": ("需求", "人口", "居住建筑", "住宅", "demand", "buildings"),
    "existing": ("现有设施", "设施", "existing", "facilities", "poi"),
    "census": ("人口普查", "社区人口", "census", "population"),
    "needs": ("高频需求清单", "需求清单", "needs"),
}
#: Leading rows looked at for the header.
HEADER_SEARCH_ROWS = 10


def _text(value: Any) -> str:
    """A cell as CSV would hold it: whole numbers without '.0', dates in ISO form, blanks empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


def sheet_for(names: list[str], role: str, sheet: str | int | None, path: Path,
              problems: list[SitingError]) -> str | None:
    """The sheet to read: the one named, the only one, or the one named after the table."""
    field = f"data.{role}.sheet"
    if isinstance(sheet, int):
        if 0 <= sheet < len(names):
            return names[sheet]
        problems.append(DataError(f"{where(path, field=field)}: sheet {sheet} does not exist; the workbook has "
                                  f"{len(names)} sheet(s) {names} (counted from 0)"))
        return None
    if isinstance(sheet, str):
        if sheet in names:
            return sheet
        problems.append(DataError(f"{where(path, field=field)}: no sheet named {sheet!r}; the workbook has {names}; "
                                  f"fix the name in the scenario"))
        return None
    if len(names) == 1:
        return names[0]
    wanted = {n.lower() for n in SHEET_NAMES.get(role, (role,))}
    for name in names:
        if name.strip().lower() in wanted:
            return name
    problems.append(DataError(
        f"{path}: the workbook has {len(names)} sheets {names} and none is named for the {role} table "
        f"({', '.join(SHEET_NAMES.get(role, (role,)))}); name the sheet in the scenario: "
        f"data.{role}: {{path: {path.name}, sheet: {names[0]}}}"))
    return None


def read_sheet(path: Path, *, role: str, sheet: str | int | None, problems: list[SitingError],
               notes: list[str], allow_empty: bool = False) -> tuple[pd.DataFrame | None, str | None]:
    """Read one sheet as a table of text (``None`` when it cannot be read; the problem is appended).

    Parameters
    ----------
    path
        The workbook.
    role
        Which table it holds, to choose the sheet and for messages.
    sheet
        The sheet named in the scenario (name, or 0-based position), or ``None``.
    problems, notes
        Problems and notes found are appended here.
    allow_empty
        A header without rows is a valid (empty) table.

    Returns
    -------
    (DataFrame or None, sheet name or None)
    """
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        names = [str(n) for n in book.sheet_names]
        name = sheet_for(names, role, sheet, path, problems)
        if name is None:
            return None, None
        rows = book.get_sheet_by_name(name).to_python()
    except (CalamineError, OSError, ValueError, TypeError) as e:
        problems.append(DataError(f"{role} file {path} cannot be read as a spreadsheet: {e}; save it again as "
                                  f".xlsx, or export the sheet as 'CSV UTF-8'"))
        return None, None
    place = f"{path}, sheet '{name}'"
    cells = [[_text(v) for v in row] for row in rows]
    cells = [row for row in cells if any(row)]
    if not cells:
        problems.append(DataError(f"{place} is empty; it needs a header row and data rows"))
        return None, name
    counts = [sum(1 for v in row if v) for row in cells[:HEADER_SEARCH_ROWS]]
    start = counts.index(max(counts))
    if start:
        notes.append(f"{place}: the header is row {start + 1}; the title row(s) above it were skipped")
    header, body = cells[start], cells[start + 1:]
    width = max(len(header), *(len(r) for r in body)) if body else len(header)
    header = header + [""] * (width - len(header))
    body = [r + [""] * (width - len(r)) for r in body]
    keep = [i for i, h in enumerate(header) if h or any(r[i] for r in body)]
    unnamed = [i for i in keep if not header[i]]
    if unnamed:
        problems.append(DataError(f"{place}: column {unnamed[0] + 1} has values but no header; give every column "
                                  f"a header"))
        return None, name
    frame = pd.DataFrame([[r[i] for i in keep] for r in body], columns=[header[i] for i in keep], dtype=object)
    dup = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if dup:
        problems.append(DataError(f"{place}: the header names column(s) {dup} more than once; give every column "
                                  f"its own name"))
        return None, name
    if frame.empty and not allow_empty:
        problems.append(DataError(f"{place} has a header but no data rows"))
        return None, name
    return frame.astype(str).reset_index(drop=True), name


__all__ = ["SHEET_NAMES", "SPREADSHEET_SUFFIXES", "read_sheet", "sheet_for"]
