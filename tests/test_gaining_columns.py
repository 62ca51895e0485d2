"""The columns without which an objective scores 0 (``siting.model.milp.gaining_columns``), by hand."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from siting.model.milp import MilpModel, Sense, gaining_columns


def model(A: list[list[float]], upper: list[float], integer: list[bool], objective: list[float],
          col_lower: list[float] | None = None) -> MilpModel:
    n = len(objective)
    return MilpModel("hand", Sense.MAXIMIZE, np.array(objective, dtype=float), sparse.csr_matrix(np.array(A)),
                     np.full(len(A), -np.inf), np.array(upper, dtype=float),
                     np.array(col_lower if col_lower is not None else [0.0] * n), np.ones(n),
                     np.array(integer, dtype=bool))


def test_coverage_rows_give_the_pairs_that_reach_the_valued_rows() -> None:
    # columns x1 x2 x3 z1 z2: z1 <= x1 + x2, z2 <= x3, x1 + x2 + x3 <= 2 (no head), objective on z1 only
    m = model([[-1, -1, 0, 1, 0], [0, 0, -1, 0, 1], [1, 1, 1, 0, 0]], [0, 0, 2],
              [True, True, True, False, False], [0, 0, 0, 3, 0])
    got = gaining_columns(m, m.objective)
    assert got is not None and got.tolist() == [True, True, False, False, False]
    both = gaining_columns(m, np.array([0, 0, 0, 1.0, 2.0]))
    assert both is not None and both.tolist() == [True, True, True, False, False]


def test_no_answer_when_a_valued_column_is_not_held_by_such_a_row() -> None:
    # z1 <= x1 + w with w continuous: z1 may be positive with every integer column at 0
    m = model([[-1, -1, 1]], [0], [True, False, False], [0, 0, 1])
    assert gaining_columns(m, m.objective) is None
    # z1 <= x1 + 1: the right-hand side lets z1 be positive with x1 = 0
    m = model([[-1, 0, 1]], [1], [True, False, False], [0, 0, 1])
    assert gaining_columns(m, m.objective) is None
    # an objective with a negative entry, or a valued column that may go below 0
    m = model([[-1, 0, 1]], [0], [True, False, False], [-1, 0, 1])
    assert gaining_columns(m, m.objective) is None
    m = model([[-1, 0, 1]], [0], [True, False, False], [0, 0, 1], col_lower=[0, 0, -1])
    assert gaining_columns(m, m.objective) is None


def test_an_objective_of_zero_needs_no_column() -> None:
    m = model([[-1, 1]], [0], [True, False], [0, 0])
    got = gaining_columns(m, m.objective)
    assert got is not None and not got.any()
