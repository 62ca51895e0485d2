"""A greedy plan for any objective: the move with the best marginal value per yuan, under the plan rules.

Every objective decides which allowed (site, service) pairs (the ``x`` columns of
:class:`~siting.model.structure.SiteColumns`) to choose under the same plan rules; what differs
is the value of adding a pair to a plan. :func:`greedy_plan` asks a :class:`Gains` oracle for
the marginal value of every column (one vector per lexicographic level, computed with sparse
products: no loop over demand points or matrix entries) and repeats the best move:

- add one more service at a converted site, its fit-out as the price, or
- convert a closed site with the bundle of its services worth the most that fits its floor
  area (services taken by value in turn while they fit), its conversion paid once for all;

comparing the moves by value per yuan, level by level (lexicographically: a level-0 gain
beats any level-1 gain). The minimum numbers of sites per service are met first, by value per
yuan. It stops when no move with a positive gain fits the budget and the limits, when the
oracle says the plan is good enough (:meth:`Gains.satisfied`: least cost), or at the
deadline — the plan is feasible at every step. The oracles (:mod:`siting.optimizer.gains`)
only estimate where the exact value needs a solve (capacity); the search that follows
evaluates plans exactly.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from siting.model.rules import PlanningRules, SiteData, column_costs, plan_violation
from siting.model.structure import SiteColumns

#: Relative slack of cost and area checks.
_TOL = 1e-9


class Gains(Protocol):
    """Marginal values of adding each column to the plan being built (it is told each addition)."""

    def gains(self) -> np.ndarray:
        """(levels × columns) marginal value of adding each column now; level 0 counts most."""
        ...

    def add(self, column: int) -> None:
        """Column ``column`` joins the plan."""
        ...

    def satisfied(self) -> bool:
        """True when the plan is good enough and the greedy should stop (least cost: targets met)."""
        ...


def _pick(ratios: np.ndarray, ok: np.ndarray) -> int:
    """Index of the lexicographically best ratio vector among ``ok`` columns with some positive level, or -1."""
    cand = np.flatnonzero(ok & (ratios > 0).any(axis=0))
    if cand.size == 0:
        return -1
    keys = tuple(ratios[lv, cand] for lv in range(ratios.shape[0] - 1, -1, -1))
    order = np.lexsort((-cand, *keys))  # ties: the lower index (lexsort: last key most significant)
    return int(cand[order[-1]])


class _Plan:
    """A plan being built: columns, open sites, area, counts, spending."""

    def __init__(self, cols: SiteColumns, sites: SiteData, rules: PlanningRules, budget: float) -> None:
        self.cols = cols
        self.fit = column_costs(cols.x_site, cols.x_service, sites, rules)
        self.retrofit = np.asarray(sites.retrofit_cost, dtype=float)
        self.area = np.asarray(rules.service_area, dtype=float)[cols.x_service]
        self.floor = np.asarray(sites.floor_area, dtype=float)
        self.min_sites = np.asarray(rules.min_sites)
        self.max_sites = np.asarray(rules.max_sites)
        self.budget = float(budget)
        self.x = np.zeros(cols.n_pairs, dtype=bool)
        self.open = np.asarray(rules.force_in, dtype=bool).copy()
        self.used = np.zeros(cols.n_sites)
        self.count = np.zeros(cols.n_services, dtype=np.int64)
        self.spent = float(self.retrofit[self.open].sum())
        scale = self.budget if np.isfinite(self.budget) else float(np.max(self.retrofit, initial=0.0))
        self.eps = 1e-9 * max(scale, 1.0)

    def left(self) -> float:
        return self.budget - self.spent

    def addable(self) -> np.ndarray:
        """Columns that may join the plan now (site open or not), budget aside."""
        c = self.cols
        full = (self.max_sites >= 0) & (self.count >= self.max_sites)
        return np.asarray(~self.x & ~full[c.x_service]
                          & (self.used[c.x_site] + self.area <= self.floor[c.x_site] * (1 + _TOL) + 1e-6))

    def price(self) -> np.ndarray:
        """What adding each column alone costs now (its site's conversion if closed)."""
        return np.asarray(self.fit + np.where(self.open[self.cols.x_site], 0.0, self.retrofit[self.cols.x_site]))

    def add(self, k: int, gains: Gains) -> None:
        j = int(self.cols.x_site[k])
        if not self.open[j]:
            self.open[j] = True
            self.spent += float(self.retrofit[j])
        self.x[k] = True
        self.spent += float(self.fit[k])
        self.used[j] += float(self.area[k])
        self.count[self.cols.x_service[k]] += 1
        gains.add(k)


def _bundles(plan: _Plan, gains: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every closed site with a gain: the site, its best bundle's gains per level and the bundle's price.

    Services are taken in order of level-0 gain (then level 1...) while they fit the floor area;
    vectorised over sites, one pass per service position.
    """
    c = plan.cols
    cand = np.flatnonzero(ok & ~plan.open[c.x_site] & (gains > 0).any(axis=0))
    L = gains.shape[0]
    if cand.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((L, 0)), np.zeros(0)
    keys = tuple(-gains[lv, cand] for lv in range(L - 1, -1, -1))
    order = cand[np.lexsort((*keys, c.x_site[cand]))]  # by site, then by gain
    site = c.x_site[order]
    first = np.r_[True, site[1:] != site[:-1]]
    start = np.flatnonzero(first)
    sizes = np.diff(np.r_[start, order.size])
    rank = np.arange(order.size) - np.repeat(start, sizes)
    taken = np.zeros(order.size, dtype=bool)
    used = np.zeros(start.size)
    cap = plan.floor[site[start]] * (1 + _TOL) + 1e-6
    group = np.repeat(np.arange(start.size), sizes)
    for r in range(int(sizes.max())):
        at = np.flatnonzero(rank == r)
        fits = used[group[at]] + plan.area[order[at]] <= cap[group[at]]
        taken[at[fits]] = True
        used[group[at[fits]]] += plan.area[order[at[fits]]]
    sel = order[taken]
    g = group[taken]
    value = np.zeros((L, start.size))
    for lv in range(L):
        np.add.at(value[lv], g, gains[lv, sel])
    price = plan.retrofit[site[start]] + np.bincount(g, weights=plan.fit[sel], minlength=start.size)
    return site[start], value, price


def _meet_minimums(plan: _Plan, gains: Gains) -> bool:
    """Add the best columns (value per yuan) of every service below its minimum; False when impossible."""
    c = plan.cols
    for s in np.flatnonzero(plan.min_sites > 0):
        while plan.count[s] < plan.min_sites[s]:
            g = gains.gains()
            price = plan.price()
            ok = plan.addable() & (c.x_service == s) & (price <= plan.left() + 1e-6)
            if not ok.any():
                return False
            ratio = (g + plan.eps) / (price + plan.eps)
            k = _pick(ratio, ok)
            if k < 0:
                k = int(np.flatnonzero(ok)[np.argmin(price[ok])])
            plan.add(k, gains)
    return True


def greedy_plan(cols: SiteColumns, sites: SiteData, rules: PlanningRules, gains: Gains, *,
                budget: bool = True, time_limit_s: float = 60.0, start: np.ndarray | None = None) -> np.ndarray | None:
    """A feasible plan by marginal value per yuan (module docstring).

    Parameters
    ----------
    cols
        The allowed (site, service) columns.
    sites, rules
        Candidate sites; budget, areas, limits and forced sites.
    gains
        The objective's oracle (fresh: it must describe the empty plan).
    budget
        Keep to the budget (``False`` for least cost, where the budget is the answer).
    time_limit_s
        Stop adding after this many seconds.
    start
        Boolean (sites × services): pairs taken first, as far as the rules let them in (the
        greedy then completes that plan; least cost repairs a relaxation's plan this way).

    Returns
    -------
    numpy.ndarray or None
        Boolean (sites × services), or ``None`` when the forced sites alone exceed the budget
        or the minimum numbers of sites cannot be met greedily within it.
    """
    deadline = time.perf_counter() + time_limit_s
    plan = _Plan(cols, sites, rules, rules.budget if budget else np.inf)
    c = plan.cols
    if start is not None:
        for k in np.flatnonzero(start[c.x_site, c.x_service]).tolist():
            if plan.addable()[k] and plan.price()[k] <= plan.left() + 1e-6:
                plan.add(k, gains)
    if plan.left() < -1e-6 or not _meet_minimums(plan, gains):
        return None
    while time.perf_counter() < deadline and not gains.satisfied():
        g = np.atleast_2d(gains.gains())
        ok = plan.addable()
        left = plan.left() + 1e-6
        # one more service at an open site
        at_open = ok & plan.open[c.x_site] & (plan.fit <= left)
        r_col = np.where(at_open[None, :], g / (plan.fit + plan.eps)[None, :], 0.0)
        k = _pick(r_col, at_open)
        # a closed site converted with its bundle
        bsite, value, price = _bundles(plan, g, ok)
        fits = price <= left
        b = _pick(value / (price + plan.eps)[None, :], fits) if bsite.size else -1
        if k < 0 and b < 0:
            break
        if b >= 0 and (k < 0 or _better(value[:, b] / (price[b] + plan.eps), r_col[:, k])):
            for col in _bundle_columns(plan, g, ok, int(bsite[b])):
                plan.add(int(col), gains)
        else:
            plan.add(k, gains)
    hosts = c.hosts(plan.x.astype(float))
    return None if plan_violation(hosts, sites, rules, budget=budget) else hosts


def _better(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` lexicographically greater than ``b`` (level 0 first)."""
    for u, v in zip(a, b, strict=True):
        if u > v * (1 + 1e-12) + 1e-300:
            return True
        if v > u * (1 + 1e-12) + 1e-300:
            return False
    return False


def _bundle_columns(plan: _Plan, g: np.ndarray, ok: np.ndarray, site: int) -> np.ndarray:
    """The columns of the best bundle at a closed ``site`` (as :func:`_bundles` chose them)."""
    c = plan.cols
    cand = np.flatnonzero(ok & (c.x_site == site) & (g > 0).any(axis=0))
    L = g.shape[0]
    keys = tuple(-g[lv, cand] for lv in range(L - 1, -1, -1))
    order = cand[np.lexsort(keys)] if cand.size else cand
    out, used = [], 0.0
    for k in order.tolist():
        if used + plan.area[k] <= plan.floor[site] * (1 + _TOL) + 1e-6:
            out.append(k)
            used += float(plan.area[k])
    return np.asarray(out, dtype=np.int64)


__all__ = ["Gains", "greedy_plan"]
