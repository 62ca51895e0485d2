"""Errors a planner can act on.

Every user mistake raises a :class:`SitingError` subclass whose message names the file, the
field or column, the row where there is one, and the fix. The command line prints the message
and exits with code 2; anything else is a bug in ``siting`` and shows a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


class SitingError(Exception):
    """Base class of every error caused by the input rather than by ``siting`` itself."""


class ScenarioError(SitingError):
    """A scenario file is missing, unreadable or does not follow the schema."""


class DataError(SitingError):
    """A data file (demand, sites, existing facilities, network) is missing or malformed."""


class CatalogueError(SitingError):
    """A service or age group is unknown or defined inconsistently."""


class InfeasibleError(SitingError):
    """The requirements of a scenario cannot all hold at once."""


class ExecutionError(SitingError):
    """The execution back end cannot be used: a wrong ``--scheduler`` value or an unreachable cluster."""


class SolverUnavailableError(SitingError):
    """The requested solver backend is not installed on this machine."""


class SolverError(SitingError):
    """The solver failed: its process crashed, was killed, or did not return in time."""


class OutputError(SitingError):
    """The output folder cannot be written safely (not a folder, holds other files, outside its root)."""


class ResumeError(SitingError):
    """An interrupted sweep cannot be resumed: its progress log belongs to another sweep."""


class ValidationErrors(SitingError):
    """Several problems found at once; the message lists every one of them.

    Nested :class:`ValidationErrors` are flattened, so that every problem is one line item.
    """

    def __init__(self, problems: Sequence[SitingError | str]) -> None:
        self.problems: list[str] = []
        for p in problems:
            if isinstance(p, ValidationErrors):
                self.problems.extend(p.problems)
            else:
                self.problems.append(str(p))
        lines = [f"{len(self.problems)} problem(s) found:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def raise_problems(problems: Sequence[SitingError]) -> None:
    """Raise the problems found, if any: the one problem itself, or all of them listed.

    Raises
    ------
    SitingError
        The single problem, or :class:`ValidationErrors` listing several.
    """
    if not problems:
        return
    if len(problems) == 1:
        raise problems[0]
    raise ValidationErrors(problems)


def where(file: str | Path | None, field: str | None = None, row: int | None = None, *,
          layer: str | None = None, column: str | None = None) -> str:
    """Format the place of a problem: ``file, layer 'l', column 'x', row 3``.

    Parameters
    ----------
    file
        The file the value came from.
    field
        The scenario field (or column, for backwards compatibility).
    row
        The 1-based data row (header excluded), when the problem belongs to one row.
    layer
        The layer of a multi-layer vector file.
    column
        The column of a table.
    """
    parts = [str(file)] if file is not None else []
    if layer is not None:
        parts.append(f"layer '{layer}'")
    if field is not None:
        parts.append(f"field '{field}'")
    if column is not None:
        parts.append(f"column '{column}'")
    if row is not None:
        parts.append(f"row {row}")
    return ", ".join(parts)


def rows_text(rows: np.ndarray | Sequence[int], ids: np.ndarray | Sequence[str] | None = None, *,
              show: int = 5) -> str:
    """Name the rows of a problem: ``row 3 (id 'B02')`` or ``rows 3, 8, 9 (ids ...) and 12 more``.

    Parameters
    ----------
    rows
        0-based positions of the rows; shown 1-based (the first data row under the header is 1).
    ids
        The id column of the table, to show each row's id beside its number.
    show
        How many rows to name before summarising the rest as a count.
    """
    rows = [int(r) for r in rows]
    if not rows:
        return "no row"
    shown = rows[:show]
    numbers = ", ".join(str(r + 1) for r in shown)
    text = f"row {numbers}" if len(rows) == 1 else f"rows {numbers}"
    if ids is not None:
        labels = [str(ids[r]) for r in shown if r < len(ids) and str(ids[r]).strip() not in ("", "nan", "<NA>")]
        if len(labels) == len(shown):
            quoted = ", ".join(repr(label) for label in labels)
            text += f" (id {quoted})" if len(shown) == 1 else f" (ids {quoted})"
    if len(rows) > show:
        text += f" and {len(rows) - show} more"
    return text
