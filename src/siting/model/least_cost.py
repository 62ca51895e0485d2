"""Least-cost set covering: the cheapest plan that reaches a coverage target — "what budget do we need?".

Formulation (matrix form, solver-agnostic), over the site rules of
:mod:`siting.model.structure` without the budget row::

    minimise    Σ_j c_j y_j + Σ_k f_s(k) x_k            retrofit once per site + fit-out per service
    subject to  share_t ≥ target_t                      for every target t           (target)
                z_r ≤ Σ_{k ∈ N(r)} x_k                  for every coverage row r     (cover)
                x_k ≤ y_j(k),  Σ_{k at j} a_s(k) x_k ≤ F_j y_j,  min_s ≤ Σ_{k of s} x_k ≤ max_s
                x, y ∈ {0, 1},  0 ≤ z ≤ 1

with ``share_t = (B_t + Σ_r P_rt z_r) / T_t`` the covered share of the target's (service,
age group) pairs (residents already covered ``B_t`` plus newly covered, over all ``T_t``).
A target of 100 % asks every resident of the group to be within the walking limit.

A target that no plan can reach — because some residents are beyond the walking limit of
every allowed site and every existing facility — is found before any solve by
:func:`unreachable_targets`, which says how far short the best possible plan falls. ``z`` is
implied integer: raising a ``z_r`` whose row is covered to 1 costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from siting.coverage import Coverage
from siting.model.milp import Sense
from siting.model.rules import PlanningRules, SiteData, site_bounds
from siting.model.structure import (
    ShareTarget,
    SitingModel,
    cover_rows,
    covering_skeleton,
    plan_cost_vector,
    share_terms,
    site_columns,
)


@dataclass(frozen=True)
class TargetShortfall:
    """A target no plan can reach.

    Attributes
    ----------
    target
        The target.
    best_share
        The share reached when every allowed site hosts the service.
    residents_out_of_reach
        Residents of the target's groups beyond the walking limit of every allowed site and
        existing facility.
    """

    target: ShareTarget
    best_share: float
    residents_out_of_reach: float


def unreachable_targets(coverage: Coverage, sites: SiteData, rules: PlanningRules,
                        targets: list[ShareTarget]) -> list[TargetShortfall]:
    """Targets beyond what any plan can cover (every allowed site hosting every allowed service)."""
    cols = site_columns(sites, rules, budget=False)
    rows = cover_rows(coverage, cols)
    coef, base, total = share_terms(rows, targets)
    best = np.where(total > 0, (base + np.asarray(coef.sum(axis=1)).ravel()) / np.maximum(total, 1e-300), 1.0)
    out = []
    for t, b, tot in zip(targets, best, total, strict=True):
        if b < t.share - 1e-9:
            out.append(TargetShortfall(t, float(b), float((1.0 - b) * tot)))
    return out


def build_least_cost_model(coverage: Coverage, sites: SiteData, rules: PlanningRules,
                           targets: list[ShareTarget]) -> SitingModel:
    """Build the least-cost covering model (see the module docstring).

    Parameters
    ----------
    coverage, sites
        Coverage matrices and candidate sites.
    rules
        Costs, areas and requirements (the budget is not a constraint here).
    targets
        Shares to reach.

    Returns
    -------
    SitingModel
        The model; its objective is the plan's cost in yuan.
    """
    asm, cols, rows = covering_skeleton(coverage, sites, rules, budget=False)
    K, m, nz = cols.n_pairs, cols.n_sites, rows.n_rows
    if targets:
        coef, base, total = share_terms(rows, targets)
        need = np.array([t.share for t in targets]) * total - base
        asm.add("target", {"z": coef}, need - 1e-6 * np.maximum(total, 1.0), np.inf)
    fit, retro = plan_cost_vector(cols, sites, rules)
    y_lo, y_hi = site_bounds(rules)
    milp = asm.build("least-cost set covering", Sense.MINIMIZE, {"x": fit, "y": retro}, integer=("x", "y"),
                     col_lower={"y": y_lo}, col_upper={"y": y_hi}, implied_integer=("z",))
    stats = {"assignments": K, "sites": m, "coverage_rows": nz, "rows": milp.n_rows, "nonzeros": int(milp.A.nnz)}
    return SitingModel(milp, cols, rows, "least_cost", stats)
