"""All-age fairness (全龄友好): no age group left behind for a bigger total.

Two formulations over the same site rules (see :mod:`siting.model.structure`) and coverage
rows ``z_r`` (a group of demand points of one service that the same pairs reach)::

    share_g  =  (B_g + Σ_r P_rg z_r) / T_g      covered share of group g: residents already
                                                covered B_g plus those newly covered, over
                                                the group's residents T_g (pooled over the
                                                services that serve it, or one service × group)

    max-min:    maximise    t
                subject to  t ≤ share_g                  for every group g      (fair)
                            share_f ≥ floor_f            for every floor f      (floor)
                            z_r ≤ Σ_{k ∈ N(r)} x_k       for every row r        (cover)
                            site rules (link, area, budget, count)
                            x, y ∈ {0, 1},  0 ≤ z ≤ 1,  0 ≤ t ≤ 1

    floors:     maximise    Σ_r w_r z_r                  weighted newly covered residents
                subject to  share_f ≥ floor_f            for every floor f      (floor)
                            z_r ≤ Σ_{k ∈ N(r)} x_k,  site rules, as above

The max-min objective leaves many plans tied; :func:`siting.optimizer.objectives.optimize_objective`
then maximises the weighted coverage among the plans that keep the best minimum share
(lexicographic). ``z`` is implied integer: for fixed ``x`` with positive weights an optimal
``z_r`` is ``min(1, Σ x)``, and with the share rows a ``z_r`` whose row is covered can be
raised to 1 without harm.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.milp import Sense
from siting.model.rules import PlanningRules, SiteData, site_bounds
from siting.model.structure import (
    ShareTarget,
    SitingModel,
    covering_skeleton,
    share_terms,
    weighted_row_values,
)


def age_group_shares(coverage: Coverage, *, by_service: bool = False) -> list[ShareTarget]:
    """The shares a fairness objective balances: per age group, or per service × age group."""
    if by_service:
        return [ShareTarget(f"{coverage.service_keys[s]}/{coverage.group_keys[g]}", (p,))
                for p, (s, g) in enumerate(coverage.pairs)]
    out = []
    for g, key in enumerate(coverage.group_keys):
        pairs = tuple(p for p, (_s, pg) in enumerate(coverage.pairs) if pg == g)
        if pairs:
            out.append(ShareTarget(key, pairs))
    return out


def build_fairness_model(coverage: Coverage, sites: SiteData, rules: PlanningRules, *, mode: str = "max_min",
                         balance: list[ShareTarget] | None = None,
                         floors: list[ShareTarget] | None = None) -> SitingModel:
    """Build the max-min or the weighted-with-floors model (see the module docstring).

    Parameters
    ----------
    coverage, sites, rules
        Coverage matrices, candidate sites, budget and requirements.
    mode
        ``"max_min"`` (maximise the smallest share of ``balance``) or ``"floors"`` (maximise
        the weighted coverage subject to ``floors``).
    balance
        Shares to balance in ``max_min`` mode (default: per age group). Shares without
        residents are left out.
    floors
        Minimum shares every plan must reach.

    Returns
    -------
    SitingModel
        The model; ``t`` (the smallest share) is the column block ``"t"`` in ``max_min`` mode.
    """
    if mode not in ("max_min", "floors"):
        raise ValueError(f"unknown fairness mode {mode!r}")
    asm, cols, rows = covering_skeleton(coverage, sites, rules)
    K, m, nz = cols.n_pairs, cols.n_sites, rows.n_rows
    if mode == "max_min":
        asm.columns("t", 1)
    if floors:
        coef, base, total = share_terms(rows, floors)
        need = np.array([f.share for f in floors]) * total - base
        asm.add("floor", {"z": coef}, need - 1e-6 * np.maximum(total, 1.0), np.inf)
    objective: dict[str, np.ndarray]
    if mode == "max_min":
        targets = [t for t in (balance or age_group_shares(coverage)) if rows.total[list(t.pairs)].sum() > 0]
        coef, base, total = share_terms(rows, targets)
        # T_g t - Σ_r P_rg z_r ≤ B_g   (t is at most the covered share of every group)
        asm.add("fair", {"t": sparse.csr_matrix(total[:, None]), "z": -coef}, -np.inf, base)
        objective = {"t": np.ones(1)}
    else:
        objective = {"z": weighted_row_values(coverage, rules, rows)}
    y_lo, y_hi = site_bounds(rules)
    milp = asm.build("all-age fairness (max-min)" if mode == "max_min" else "coverage with floors",
                     Sense.MAXIMIZE, objective, integer=("x", "y"), col_lower={"y": y_lo},
                     col_upper={"y": y_hi}, implied_integer=("z",))
    stats = {"assignments": K, "sites": m, "coverage_rows": nz, "rows": milp.n_rows, "nonzeros": int(milp.A.nnz)}
    return SitingModel(milp, cols, rows, f"fairness-{mode}", stats)
