"""The Lagrangian bound of budgeted covering, by the volume algorithm: for districts too large for the Benders LP.

The coverage rows ``z_r ≤ Σ_{k ∈ N(r)} x_k`` are priced with multipliers ``0 ≤ μ_r ≤ w_r`` and
the budget with ``λ ≥ 0``. For any such prices the relaxed problem separates by row and by site::

    L(μ, λ) = Σ_r (w_r − μ_r)                                   (each row: z_r = 1 when w_r > μ_r)
            + λ B
            + Σ_j max(0, max_T Σ_{k ∈ T} max(0, A_k − λ c_k) − λ C_j)

with ``A = Rᵀ μ`` (what the priced rows pay a column), ``c_k`` a column's fit-out, ``C_j`` the
site's conversion and ``T`` the site's patterns (the maximal sets of services its floor area
holds; any subset of one fits too); a site the rules force in has its conversion taken out of
``B`` and ``C_j = 0``. Every plan within the budget whose sites hold one pattern each is worth
at most ``L(μ, λ)`` (weak duality: ``w z ≤ (w − μ) z + μ R x`` and ``λ (B − cost) ≥ 0``); the
numbers of sites per service are left out, which only loosens it. So ``L`` is a valid upper
bound for *any* prices, however they were found, and the best of them over ``(μ, λ)`` equals
the LP bound of that relaxation. At ``μ = w`` it is the bound of
:func:`siting.optimizer.bounds.knapsack_bound`, computed before anything else.

For fixed ``μ`` the best ``λ`` is the knapsack's LP price (the value per yuan of the site the
budget runs out on) when no service has a fit-out cost, else found by bisection on the slope
``B − cost`` of the chosen sites (``L`` is convex in ``λ``). The prices ``μ`` follow the volume algorithm (Barahona &
Anbil, *Math. Program.* 87, 2000): a step from the best prices along the averaged subgradient
``R x̄ − z̄`` (``x̄``, ``z̄`` the running averages of the relaxed problem's solutions, also an
approximate LP solution the kernel search starts from), of Polyak's length toward the best
plan's value, scaled per row by ``w_r`` (our choice: ``μ_r`` lives in ``[0, w_r]``, and without
the scaling the light rows stall the heavy ones; on the 20,000 × 1,000 district, 30 s: 0.07 %
above the LP bound with it, 1.0 % without).

The volume algorithm itself (:func:`volume`) takes any relaxation that bounds a maximum: the
max-min share and the coverage kept above floors price more rows with it
(:mod:`siting.optimizer.share_lagrangian`).

Measured (docs/model.md, benchmark case ``optimizer-growing-200k``): on the 200,000-building
district (10,000 sites, 295,000 merged coverage rows) the Benders LP took 12–32 s per master LP
and stood 7.9 % above the best plan at 300 s; this bound converges in about 1,000 steps (56 s) and
stands 1.5 % above it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from siting.model.instance import CoveringInstance
from siting.model.patterns import Patterns

#: Volume algorithm: weight of the newest solution in the running averages, first step factor,
#: steps without improvement before the factor shrinks, and how it grows and shrinks.
AVERAGE_WEIGHT = 0.1
FIRST_STEP = 0.1
PATIENCE = 20
GROW, SHRINK, MAX_STEP = 1.1, 0.66, 2.0
#: Stop when the bound moved by less than this (relative) over the last :data:`STALL_WINDOW` steps.
STALL_TOLERANCE = 1e-5
STALL_WINDOW = 100
BISECTION_STEPS = 30


@dataclass
class LagrangianReport:
    """What the volume algorithm did."""

    bound: float = float("inf")
    iterations: int = 0
    seconds: float = 0.0
    average: np.ndarray | None = None  # x̄: the averaged relaxed plan, an approximate LP solution
    log: list[str] = field(default_factory=list)


class CoveringLagrangian:
    """The relaxed problem ``L(μ, λ)`` of one covering instance (module docstring).

    Parameters
    ----------
    instance
        The covering instance.
    patterns
        The sites' patterns; ``None`` (too many services to enumerate) lets a site hold all its
        columns together, which only loosens the bound.
    """

    def __init__(self, instance: CoveringInstance, patterns: Patterns | None) -> None:
        inst = instance
        self.R = inst.cover.astype(np.float64).tocsr()
        self.RT = self.R.T.tocsr()
        self.w = np.asarray(inst.weight, dtype=np.float64)
        self.fit_out = np.asarray(inst.x_cost, dtype=np.float64)
        self.has_fit_out = bool((self.fit_out > 0).any())
        if patterns is not None and patterns.n:
            link = patterns.link().T.tocsr()  # patterns × columns
            owner = patterns.site
        else:  # one pattern per site: all its columns
            link = sparse.csr_matrix((np.ones(inst.n_cols), (inst.x_site, np.arange(inst.n_cols))),
                                     shape=(inst.n_sites, inst.n_cols))
            owner = np.arange(inst.n_sites)
            keep = np.asarray(link.sum(axis=1)).ravel() > 0
            link, owner = link[keep], owner[keep]
        order = np.argsort(owner, kind="stable")
        self.link = link[order].tocsr()
        self.link_t = self.link.T.tocsr()
        owner = owner[order]
        self.starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if owner.size else np.zeros(0, np.int64)
        self.site = owner[self.starts]  # the site of each block of patterns
        self.pattern_site = np.repeat(np.arange(self.starts.size), np.diff(np.r_[self.starts, owner.size]))
        # a forced site's conversion is paid whatever the plan: out of the budget, and free to use
        cost = np.asarray(inst.site_cost, dtype=np.float64)
        forced = np.asarray(inst.force_in, dtype=bool)
        self.budget = float(inst.budget) - float(cost[forced].sum())
        self.site_cost = np.where(forced[self.site], 0.0, cost[self.site])

    def _sites(self, A: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per site at ``λ``: the value of its best pattern net of fit-out (before its conversion), that
        pattern, what the site would cost with it; and the columns' values net of fit-out."""
        col = np.maximum(A - lam * self.fit_out, 0.0) if self.has_fit_out else np.maximum(A, 0.0)
        pv = self.link @ col
        if pv.size == 0:
            return np.zeros(0), np.zeros(0, np.int64), np.zeros(0), col
        best = np.maximum.reduceat(pv, self.starts)
        first = np.flatnonzero(pv >= best[self.pattern_site])
        first = first[np.r_[True, self.pattern_site[first][1:] != self.pattern_site[first][:-1]]]
        cost = self.site_cost
        if self.has_fit_out:
            cost = cost + (self.link @ (self.fit_out * (col > 0)))[first]
        return best, first, cost, col

    def best_budget_price(self, A: np.ndarray, hint: float = 1.0) -> float:
        """The ``λ`` that minimises ``λ B + Σ_j max(0, value_j(λ) − λ C_j)`` (value net of fit-out).

        Without fit-out costs the sites' values do not depend on ``λ``: the knapsack's LP price,
        the value per yuan of the site the budget runs out on. With them, bisection on the slope
        ``B − cost of the sites taken`` (non-decreasing in ``λ``).
        """
        if not self.has_fit_out:
            best, _, cost, _ = self._sites(A, 0.0)
            take = best > 0
            if cost[take].sum() <= self.budget:
                return 0.0
            paid = take & (cost > 0)
            if not paid.any():  # only free sites, and still over a budget below 0: nothing to price
                return 0.0
            ratio = best[paid] / cost[paid]
            order = np.argsort(-ratio, kind="stable")
            spent = float(cost[take & (cost <= 0)].sum()) + np.cumsum(cost[paid][order])
            k = int(np.searchsorted(spent, self.budget, side="right"))
            return float(ratio[order][min(k, order.size - 1)])

        def slope(lam: float) -> float:
            best, _, cost, _ = self._sites(A, lam)
            return self.budget - float(cost[best - lam * self.site_cost > 0].sum())

        if slope(0.0) >= 0:
            return 0.0
        lo, hi = 0.0, max(hint, 1e-12)
        for _ in range(200):  # a budget below 0 never turns the slope: stop doubling
            if slope(hi) >= 0:
                break
            lo, hi = hi, 2 * hi
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            if slope(mid) < 0:
                lo = mid
            else:
                hi = mid
        return lo if self.value(A, lo) <= self.value(A, hi) else hi

    def value(self, A: np.ndarray, lam: float) -> float:
        """``λ B + Σ_j max(0, value_j(λ) − λ C_j)``: the sites' part of ``L``."""
        return self._value(self._sites(A, lam), lam)

    def _value(self, sites: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], lam: float) -> float:
        best = sites[0]
        return lam * self.budget + float(np.maximum(best - lam * self.site_cost, 0.0).sum())

    def _plan(self, sites: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], lam: float) -> np.ndarray:
        """The relaxed problem's plan at ``λ``: 0/1 per column."""
        best, first, _, col = sites
        chosen = np.zeros(self.link.shape[0])
        chosen[first[best - lam * self.site_cost > 0]] = 1.0
        taken = np.asarray(self.link_t @ chosen) > 0
        return (taken & (col > 0)).astype(np.float64)

    def bound(self, mu: np.ndarray, hint: float = 1.0, w: np.ndarray | None = None) -> tuple[float, float, np.ndarray]:
        """``L(μ, λ*)`` with the best ``λ*``: the bound, ``λ*`` and the relaxed plan ``x``.

        ``w`` replaces the rows' weights (a relaxation that prices the weights too, as the max-min
        share's in :mod:`siting.optimizer.share_lagrangian`).
        """
        A = self.RT @ mu
        lam = self.best_budget_price(A, hint)
        sites = self._sites(A, lam)  # once for the value and the plan
        rows = float(np.maximum((self.w if w is None else w) - mu, 0.0).sum())
        return rows + self._value(sites, lam), lam, self._plan(sites, lam)


Relaxation = Callable[[np.ndarray, float], tuple[float, np.ndarray, np.ndarray, float]]


def volume(relax: Relaxation, prices: np.ndarray, *, scale: np.ndarray,
           project: Callable[[np.ndarray], np.ndarray], target: float, deadline: float,
           stop_bound: float = -np.inf, progress: Callable[[str], None] | None = None) -> LagrangianReport:
    """The volume algorithm (Barahona & Anbil 2000) on any Lagrangian relaxation that bounds a maximum.

    Parameters
    ----------
    relax
        ``relax(prices, hint)`` → the relaxed problem's value at ``prices`` (an upper bound), its
        subgradient there (the rows' slacks of the relaxed solution), the relaxed plan (columns;
        averaged for the kernel search) and a hint for the next call (the budget's price).
    prices
        The first prices (already projected).
    scale
        Per price: how far a step may move it (steps are ``scale ⊙ ḡ``).
    project
        Back onto the prices' domain after a step.
    target
        The value of the best plan known (Polyak's step aims at it).
    deadline
        ``time.perf_counter()`` value at which to stop.
    stop_bound
        Stop once the bound is at or below this (the plan is then proven good enough).
    progress
        Called with a line every 100 steps.

    Returns
    -------
    LagrangianReport
        The best bound found (valid whatever happened) and the averaged plan.
    """
    report = LagrangianReport()
    t0 = time.perf_counter()
    best, g_bar, x_bar, hint = relax(prices, 1.0)
    step, reds = FIRST_STEP, 0
    history = [best]
    while time.perf_counter() < deadline and best > stop_bound and best > target:  # else the plan is proven
        d = scale * g_bar
        norm = float(g_bar @ d)
        if norm <= 0:  # the averaged plan is feasible for every priced row: nothing to move
            break
        trial = project(prices - step * (best - target) / norm * d)
        value, g, x, hint = relax(trial, hint if hint > 0 else 1.0)
        x_bar = AVERAGE_WEIGHT * x + (1 - AVERAGE_WEIGHT) * x_bar
        agrees = float(g @ g_bar) >= 0  # the new subgradient agrees with the averaged one
        g_bar = AVERAGE_WEIGHT * g + (1 - AVERAGE_WEIGHT) * g_bar
        if value < best:
            if agrees:  # longer steps
                step = min(step * GROW, MAX_STEP)
            best, prices, reds = value, trial, 0
        else:
            reds += 1
            if reds >= PATIENCE:
                step, reds = step * SHRINK, 0
        report.iterations += 1
        history.append(best)
        if len(history) > STALL_WINDOW and history[-STALL_WINDOW - 1] - best <= STALL_TOLERANCE * abs(best):
            break
        if progress is not None and report.iterations % 100 == 0:
            progress(f"Lagrangian bound {best:,.8g} after {report.iterations} steps, {time.perf_counter() - t0:.1f} s")
    report.bound = best
    report.average = x_bar
    report.seconds = time.perf_counter() - t0
    report.log.append(f"Lagrangian: bound {best:,.8g} after {report.iterations} steps, {report.seconds:.1f} s")
    return report


def lagrangian_bound(instance: CoveringInstance, patterns: Patterns | None, *, target: float, deadline: float,
                     stop_bound: float = -np.inf, progress: Callable[[str], None] | None = None,
                     ) -> LagrangianReport:
    """The volume algorithm on ``L`` until the deadline, a stall, or the bound falls to ``stop_bound``.

    Parameters
    ----------
    instance, patterns
        The covering instance and its sites' patterns (``None``: see :class:`CoveringLagrangian`).
    target, deadline, stop_bound, progress
        As :func:`volume`.

    Returns
    -------
    LagrangianReport
        The best bound found (valid whatever happened) and the averaged plan.
    """
    lg = CoveringLagrangian(instance, patterns)
    w = lg.w
    if w.size == 0:
        report = LagrangianReport()
        report.bound = lg.value(np.zeros(instance.n_cols), lg.best_budget_price(np.zeros(instance.n_cols)))
        report.average = np.zeros(instance.n_cols)
        return report

    def relax(mu: np.ndarray, hint: float) -> tuple[float, np.ndarray, np.ndarray, float]:
        value, lam, x = lg.bound(mu, hint)
        return value, lg.R @ x - (mu < w), x, lam

    return volume(relax, 0.5 * w, scale=w, project=lambda mu: np.clip(mu, 0.0, w), target=target,
                  deadline=deadline, stop_bound=stop_bound, progress=progress)


__all__ = ["CoveringLagrangian", "LagrangianReport", "Relaxation", "lagrangian_bound", "volume"]
