"""Errors a planner can act on.

Every user mistake raises a :class:`SitingError` subclass whose message names the file, the
field or column, the row where there is one, and the fix. The command line prints the message
and exits with code 2; anything else is a bug in ``siting`` and shows a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


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


class ValidationErrors(SitingError):
    """Several problems found at once; the message lists every one of them."""

    def __init__(self, problems: Sequence[SitingError | str]) -> None:
        self.problems = [str(p) for p in problems]
        lines = [f"{len(self.problems)} problem(s) found:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def where(file: str | Path | None, field: str | None = None, row: int | None = None) -> str:
    """Format the place of a problem: ``file, column 'x', row 3``.

    Parameters
    ----------
    file
        The file the value came from.
    field
        The column or field name.
    row
        The 1-based data row (header excluded), when the problem belongs to one row.
    """
    parts = [str(file)] if file is not None else []
    if field is not None:
        parts.append(f"field '{field}'")
    if row is not None:
        parts.append(f"row {row}")
    return ", ".join(parts)
