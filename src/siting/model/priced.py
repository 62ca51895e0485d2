"""The budget priced into the objective: coverage − λ·cost, the subproblem of a shared budget.

When several life circles share one city-wide budget ``B``, the city problem is::

    maximise    Σ_c coverage_c(x_c)
    subject to  Σ_c cost_c(x_c) ≤ B,   x_c ∈ X_c  (each circle's own rules)

Moving the shared budget row into the objective with a price ``λ ≥ 0`` (yuan → weighted
residents) splits it into one independent problem per circle::

    maximise    coverage_c(x_c) − λ·cost_c(x_c)   subject to  x_c ∈ X_c

and for every ``λ ≥ 0`` the Lagrangian bound ``L(λ) = Σ_c max_c(coverage_c − λ cost_c) + λ·B``
is at least the city optimum (any plan within budget scores no less in the priced problems
than its coverage minus ``λ·B``). A priced solution whose total cost fits ``B`` is a feasible
city plan; the gap between it and ``min_λ L(λ)`` bounds how far it is from the optimum.

This module rewrites a built covering model (:mod:`siting.model.covering`) into its priced
form: the objective gains ``−λ × (retrofit and fit-out cost)`` on the ``y`` and ``x``
columns, and the budget row loses its upper limit. It imports no solver.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from siting.model.covering import CoveringModel


def budget_row(model: CoveringModel) -> np.ndarray:
    """Cost of each column in yuan: the coefficients of the covering model's budget row."""
    milp = model.milp
    row = milp.row_blocks["budget"].start
    return np.asarray(milp.A[row].toarray()).ravel()


def price_budget(model: CoveringModel, price: float) -> CoveringModel:
    """The covering model with its budget priced: maximise coverage − ``price`` × cost.

    Parameters
    ----------
    model
        A budgeted covering model. Columns that cost more than its budget alone were already
        left out, so build it with the budget of the whole problem (the city's).
    price
        ``λ ≥ 0``: weighted residents one yuan must buy to be worth spending.

    Returns
    -------
    CoveringModel
        Same columns and rows, same decoding; the objective priced and the budget row open.
    """
    if not price >= 0:
        raise ValueError(f"the price of the budget must be zero or positive, got {price}")
    milp = model.milp
    row = milp.row_blocks["budget"].start
    row_upper = milp.row_upper.copy()
    row_upper[row] = np.inf
    priced = dataclasses.replace(milp, name=f"{milp.name}, budget priced at {price:.6g} per yuan",
                                 objective=milp.objective - price * budget_row(model), row_upper=row_upper)
    return dataclasses.replace(model, milp=priced)


def with_budget(model: CoveringModel, budget: float) -> CoveringModel:
    """The covering model with another budget (the limit of its budget row), objective unchanged.

    Only lowers what the model was built for: columns dearer than the original budget were
    left out when it was built.
    """
    milp = model.milp
    row = milp.row_blocks["budget"].start
    row_upper = milp.row_upper.copy()
    row_upper[row] = float(budget)
    return dataclasses.replace(model, milp=dataclasses.replace(milp, row_upper=row_upper))


def lagrangian_bound(priced_bounds: np.ndarray, price: float, budget: float) -> float:
    """``Σ_c bound_c(λ) + λ·B``: an upper bound on the coverage of any plan within ``budget``.

    Parameters
    ----------
    priced_bounds
        Per circle, a proven upper bound on ``max coverage − λ cost`` (the solver's bound).
    price
        The ``λ`` they were solved at.
    budget
        The shared budget ``B``.
    """
    return float(np.sum(priced_bounds) + price * budget)


__all__ = ["budget_row", "lagrangian_bound", "price_budget", "with_budget"]
