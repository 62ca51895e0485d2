"""The Lagrangian bound of the fairest plan (max-min share), by the volume algorithm.

The max-min model (:mod:`siting.model.fairness`) raises ``t``, the smallest covered share of the
groups it balances, under the plan rules. Its rows are priced: the groups' rows
``T_g t ≤ B_g + Σ_r P_gr z_r`` with ``π_g ≥ 0``, the floors ``B_f + Σ_r P_fr z_r ≥ φ_f T_f`` with
``ν_f ≥ 0``, the coverage rows ``z_r ≤ Σ_{k ∈ N(r)} x_k`` with ``μ_r ≥ 0`` and the budget with
``λ ≥ 0``. The relaxed problem then falls apart into ``t``, the rows and the sites::

    L(π, ν, μ, λ) = max(0, 1 − Σ_g π_g)                 (t = 1 while the groups' prices sum below 1)
                  + Σ_g π_g b_g + Σ_f ν_f (b_f − φ_f)     (b = B / T: the shares covered already)
                  + Σ_r max(0, w_r − μ_r)                 w_r = Σ_g π_g P_gr / T_g + Σ_f ν_f P_fr / T_f
                  + the sites' part                       as in :class:`~siting.optimizer.lagrangian.CoveringLagrangian`

For any such prices every plan's smallest share is at most ``L`` (weak duality; the numbers of
sites per service are left out, which only loosens it). For fixed ``π`` the rest is the covering
Lagrangian of the weighted sum of shares ``Σ_g π_g share_g``, so the best ``L`` is the bound of the
best weighted sum: the LP bound of the max-min model with the sites' patterns. The prices follow
:func:`~siting.optimizer.lagrangian.volume` over ``(π, ν, μ)``, each price's steps scaled by its
typical size (our choice): ``1 / n`` for the prices of the ``n`` shares, and a row's weight at
the first prices for ``μ_r``. On the 20,000 × 1,000 district, 25 s each: with the shares' steps
scaled by 1 instead, the age groups (3 shares) end at the same bound (0.6407-0.6415 against
0.6410) but the services × age groups (16 shares) stall at 0.4005 against 0.3328; by 0.1, 0.6418
and 0.3320; by 0.01, 0.6785 and 0.3499.

The weighted coverage kept above floors (the ``coverage`` objective with ``floors``, and the
fairness's second stage) is relaxed the same way (:func:`floors_bound`): no ``t`` and no groups
balanced, each row's weight its own plus what the floors' prices add.

Measured (docs/model.md): on the shared 20,000 × 1,000 district the bound of the age groups
reaches 0.6406-0.6415 in 900-1,100 steps (6-13 s alone on the machine), where the cutting planes
of the max-min master stood at 0.676 after 120 s and the LP with the sets of services per site at
0.642.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import sparse

from siting.model.instance import CoveringInstance
from siting.model.patterns import site_patterns
from siting.model.rules import PlanningRules, SiteData, column_costs
from siting.model.structure import ShareTarget, SitingModel, share_terms
from siting.optimizer.lagrangian import CoveringLagrangian, LagrangianReport, volume


def model_instance(model: SitingModel, sites: SiteData, rules: PlanningRules) -> CoveringInstance:
    """The model's coverage rows and plan columns as a covering instance (weights left at 0)."""
    rows, cols = model.rows, model.cols
    n = rows.n_rows
    return CoveringInstance(
        cover=rows.R.astype(bool).tocsr(), weight=np.zeros(n), row_service=np.zeros(n, dtype=np.int64),
        x_site=np.asarray(cols.x_site, dtype=np.int64), x_service=np.asarray(cols.x_service, dtype=np.int64),
        site_area=np.asarray(sites.floor_area, dtype=float), site_cost=np.asarray(sites.retrofit_cost, dtype=float),
        service_area=np.asarray(rules.service_area, dtype=float),
        x_cost=column_costs(cols.x_site, cols.x_service, sites, rules),
        force_in=np.asarray(rules.force_in, dtype=bool), budget=float(rules.budget),
        min_sites=np.asarray(rules.min_sites, dtype=np.int64), max_sites=np.asarray(rules.max_sites, dtype=np.int64))


def _per_share(model: SitingModel, shares: tuple[ShareTarget, ...]) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(rows × shares) share of each row's residents in each share's total; the shares covered already."""
    if not shares:
        return sparse.csr_matrix((model.rows.n_rows, 0)), np.zeros(0)
    coef, base, total = share_terms(model.rows, list(shares))
    scale = 1.0 / np.maximum(total, 1e-300)
    return (sparse.diags(scale) @ coef).T.tocsr(), base * scale


class ShareLagrangian:
    """The relaxed problem ``L(π, ν, μ, λ)`` of a share model (module docstring).

    The prices are one vector ``u = (π, ν, μ)``: the balanced shares', the floors', the rows'.
    Without ``weight`` the model is the max-min one (its value ``t``); with it, the weighted
    coverage ``Σ_r weight_r z_r`` kept above the floors (``balance`` then empty): ``L`` loses the
    ``t`` term and each row's weight is ``weight_r`` plus what the floors' prices add.

    Parameters
    ----------
    model
        The model (its coverage rows and plan columns).
    sites, rules
        Candidate sites; budget and requirements.
    balance, floors
        The shares balanced and the floors kept, as the model was built with.
    weight
        The rows' weights of a weighted-coverage objective; ``None`` for the max-min.
    """

    def __init__(self, model: SitingModel, sites: SiteData, rules: PlanningRules, balance: tuple[ShareTarget, ...],
                 floors: tuple[ShareTarget, ...] = (), *, weight: np.ndarray | None = None) -> None:
        if weight is not None and balance:
            raise ValueError("a weighted-coverage objective balances no shares")
        inst = model_instance(model, sites, rules)
        self.covering = CoveringLagrangian(inst, site_patterns(inst))
        Pb, b = _per_share(model, balance)
        Pf, bf = _per_share(model, floors)
        self.n_balance, self.n_shares = b.size, b.size + bf.size
        self.P = sparse.hstack([Pb, Pf], format="csr")
        self.PT = self.P.T.tocsr()
        self.constant = np.concatenate([b, bf - np.array([f.share for f in floors])])
        self.n_rows = inst.n_rows
        self.weight = None if weight is None else np.asarray(weight, dtype=np.float64)

    def weights(self, u: np.ndarray) -> np.ndarray:
        """The rows' weights ``w`` at the shares' prices."""
        w = np.asarray(self.P @ u[:self.n_shares]).ravel()
        return w if self.weight is None else w + self.weight

    def relax(self, u: np.ndarray, hint: float = 1.0) -> tuple[float, np.ndarray, np.ndarray, float]:
        """``L`` at the prices ``u`` with the best budget price: the bound, the subgradient, the relaxed
        plan (0/1 per column) and the budget price."""
        n_s = self.n_shares
        w = self.weights(u)
        mu = u[n_s:]
        value, lam, x = self.covering.bound(mu, hint, w=w)
        value += float(self.constant @ u[:n_s])
        z = (mu < w).astype(np.float64)
        g_shares = self.constant + self.PT @ z
        if self.weight is None:
            pi_sum = float(u[:self.n_balance].sum())
            value += max(0.0, 1.0 - pi_sum)
            g_shares[:self.n_balance] -= 1.0 if pi_sum < 1.0 else 0.0  # t = 1 while the prices sum below 1
        return value, np.concatenate([g_shares, self.covering.R @ x - z]), x, lam

    def project(self, u: np.ndarray) -> np.ndarray:
        """Prices at or above 0; a row's price above its weight gains nothing, so it is cut to it."""
        out: np.ndarray = np.maximum(u, 0.0)
        out[self.n_shares:] = np.minimum(out[self.n_shares:], self.weights(out))
        return out

    def first_prices(self) -> np.ndarray:
        """The groups' prices equal and summing to 1, no floor priced, each row at half its weight."""
        u = np.concatenate([np.full(self.n_balance, 1.0 / max(self.n_balance, 1)),
                            np.zeros(self.n_shares - self.n_balance), np.zeros(self.n_rows)])
        u[self.n_shares:] = 0.5 * self.weights(u)
        return u

    def scale(self) -> np.ndarray:
        """Each price's step scaled by its typical size: the objective's largest value over ``n`` for the
        ``n`` shares' prices (1 for the max-min, whose prices sum to about 1; the total weight for the
        weighted coverage), a row's weight at the first prices for the rows' (``μ_r ≤ w_r``)."""
        n = max(self.n_shares, 1)
        size = 1.0 if self.weight is None else max(float(self.weight.sum()), 1e-300)
        rows = self.weights(self.first_prices()) if self.weight is not None else \
            np.asarray(self.P.sum(axis=1)).ravel() / n
        return np.concatenate([np.full(self.n_shares, size / n), rows])


def max_min_bound(model: SitingModel, sites: SiteData, rules: PlanningRules, balance: tuple[ShareTarget, ...],
                  floors: tuple[ShareTarget, ...] = (), *, target: float, deadline: float,
                  stop_bound: float = -np.inf, progress: Callable[[str], None] | None = None) -> LagrangianReport:
    """The Lagrangian bound of the max-min model (module docstring) until the deadline or a stall.

    Parameters
    ----------
    model, sites, rules, balance, floors
        As :class:`ShareLagrangian`.
    target, deadline, stop_bound, progress
        As :func:`siting.optimizer.lagrangian.volume` (``target``: the best plan's smallest share).

    Returns
    -------
    LagrangianReport
        The bound (valid whatever happened), and the averaged relaxed plan over the model's columns.
    """
    lg = ShareLagrangian(model, sites, rules, balance, floors)
    return volume(lg.relax, lg.first_prices(), scale=lg.scale(), project=lg.project, target=target,
                  deadline=deadline, stop_bound=stop_bound, progress=progress)


def floors_bound(model: SitingModel, sites: SiteData, rules: PlanningRules, floors: tuple[ShareTarget, ...],
                 weight: np.ndarray, *, target: float, deadline: float, stop_bound: float = -np.inf,
                 progress: Callable[[str], None] | None = None) -> LagrangianReport:
    """The Lagrangian bound of the weighted coverage ``Σ_r weight_r z_r`` kept above ``floors``.

    Parameters
    ----------
    model, sites, rules, floors, weight
        As :class:`ShareLagrangian`.
    target, deadline, stop_bound, progress
        As :func:`siting.optimizer.lagrangian.volume` (``target``: the best plan's value).

    Returns
    -------
    LagrangianReport
        The bound (valid whatever happened), and the averaged relaxed plan over the model's columns.
    """
    lg = ShareLagrangian(model, sites, rules, (), floors, weight=weight)
    return volume(lg.relax, lg.first_prices(), scale=lg.scale(), project=lg.project, target=target,
                  deadline=deadline, stop_bound=stop_bound, progress=progress)


__all__ = ["ShareLagrangian", "floors_bound", "max_min_bound", "model_instance"]
