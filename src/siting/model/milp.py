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


def gaining_columns(milp: MilpModel, objective: np.ndarray) -> np.ndarray | None:
    """The integer columns of which at least one must be 1 for ``objective`` (maximised) to be above 0.

    Read off the rows of the form ``a_v u_v − Σ_i a_i u_i ≤ b`` with ``a_v > 0``, every ``a_i > 0``
    on an integer column with lower bound 0, and ``b ≤ 0`` — a coverage row
    ``z_r ≤ Σ_{k reaching r} x_k``: while all its other columns are 0, such a row holds ``u_v`` at
    0 or below. When every column the objective values (``c_v > 0``) has such a row, the columns of
    all those rows are returned (a boolean mask over the model's columns): a solution with each of
    them at 0 scores 0 or less, and every solution scores 0 or more. On a plan in phases the rows of
    every phase's copy are read alike.

    Returns
    -------
    numpy.ndarray or None
        The mask; ``None`` when the objective has an entry below 0, a valued column may go below 0,
        or some valued column has no such row.
    """
    c = np.asarray(objective, dtype=float)
    if np.any(c < 0):
        return None
    valued = c > 0
    if np.any(milp.col_lower[valued] < 0):
        return None
    A = sparse.csr_matrix(milp.A)
    row_of = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    positive, negative = A.data > 0, A.data < 0
    n_positive = np.bincount(row_of[positive], minlength=A.shape[0])
    plain = milp.integer[A.indices] & (milp.col_lower[A.indices] >= 0)
    n_other = np.bincount(row_of[negative & ~plain], minlength=A.shape[0])
    head = np.full(A.shape[0], -1, dtype=np.int64)
    head[row_of[positive]] = A.indices[positive]  # the positive column of each row with exactly one
    rows = (n_positive == 1) & (n_other == 0) & (milp.row_upper <= 0) & (head >= 0)
    rows &= valued[np.maximum(head, 0)]
    held = np.zeros(milp.n_cols, dtype=bool)
    held[head[rows]] = True
    if np.any(valued & ~held):
        return None
    out = np.zeros(milp.n_cols, dtype=bool)
    out[A.indices[negative & rows[row_of]]] = True
    return out
