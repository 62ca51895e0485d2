"""A mixed-integer linear program in matrix form, the one thing every backend translates."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from scipy import sparse


class Sense(StrEnum):
    """Direction of the objective."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


@dataclass(frozen=True)
class MilpModel:
    """``opt  c·x + offset  s.t.  row_lower <= A x <= row_upper,  col_lower <= x <= col_upper``.

    Attributes
    ----------
    name
        A name for logs.
    sense
        Maximise or minimise.
    objective
        Objective coefficients, one per column.
    A
        Constraint matrix, csr, rows × columns.
    row_lower, row_upper
        Row bounds (``-inf`` / ``inf`` where open).
    col_lower, col_upper
        Column bounds.
    integer
        True where the column must take an integer value.
    offset
        Constant added to the objective.
    col_blocks, row_blocks
        Named ranges of columns and rows, for logs and decoding.
    implied_integer
        Optional: continuous columns that some optimal solution sets to integers (a
        formulation's promise, e.g. coverage variables), so that an integer-only backend
        (CP-SAT) may make them integer without changing the optimum.
    """

    name: str
    sense: Sense
    objective: np.ndarray
    A: sparse.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray
    offset: float = 0.0
    col_blocks: dict[str, slice] = field(default_factory=dict)
    row_blocks: dict[str, slice] = field(default_factory=dict)
    implied_integer: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = self.objective.size
        if self.A.shape[1] != n:
            raise ValueError(f"A has {self.A.shape[1]} columns but the objective {n}")
        for name in ("col_lower", "col_upper", "integer"):
            if getattr(self, name).size != n:
                raise ValueError(f"{name} has {getattr(self, name).size} entries, expected {n}")
        for name in ("row_lower", "row_upper"):
            if getattr(self, name).size != self.A.shape[0]:
                raise ValueError(f"{name} has {getattr(self, name).size} entries, expected {self.A.shape[0]}")

    @property
    def n_cols(self) -> int:
        """Number of columns (variables)."""
        return int(self.objective.size)

    @property
    def n_rows(self) -> int:
        """Number of rows (constraints)."""
        return int(self.A.shape[0])

    def value(self, x: np.ndarray) -> float:
        """Objective value of a solution."""
        return float(self.objective @ x + self.offset)

    def violation(self, x: np.ndarray) -> float:
        """Largest violation of any bound or row by ``x`` (0 when feasible)."""
        ax = self.A @ x
        viol = [
            np.max(self.row_lower - ax, initial=0.0),
            np.max(ax - self.row_upper, initial=0.0),
            np.max(self.col_lower - x, initial=0.0),
            np.max(x - self.col_upper, initial=0.0),
            np.max(np.abs(x[self.integer] - np.round(x[self.integer])), initial=0.0),
        ]
        return float(max(viol))
