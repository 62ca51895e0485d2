"""Objectives as formulations the shared search works on, and the one driver every objective uses.

:class:`SitingFormulation` turns any model builder of :mod:`siting.model` (fairness, least
cost, capacitated, a stage of the standards-first model, the p-median) into a
:class:`~siting.optimizer.generic.Formulation`: the same builder over the candidate sites with
fewer allowed pairs. :func:`plan_master` writes the plan rules of :mod:`siting.model.rules` over
the master's ``x, y`` columns (for :mod:`siting.optimizer.cutting`); :func:`cover_groups` groups
coverage rows by service and neighbourhood for the cuts. :func:`search_plan` is the driver:

1. the objective's greedy plan (:mod:`siting.optimizer.greedy`) and any plan the caller starts
   from, each evaluated exactly;
2. small and medium models: branch and bound on the whole model, warm-started — a proof;
3. large ones: the objective's bound (cutting planes, :mod:`siting.optimizer.cutting`) on a
   share of the time, then kernel search from the bound's solution, then neighbourhood search
   with the time left (:mod:`siting.optimizer.generic`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import sparse

from siting.model.milp import Sense
from siting.model.patterns import define_site_packing
from siting.model.rules import (
    PlanningRules,
    RuleRows,
    SiteData,
    column_costs,
    define_area,
    define_budget,
    define_link,
    define_site_counts,
    site_bounds,
    usable_pairs,
)
from siting.model.structure import SiteColumns
from siting.optimizer import generic
from siting.optimizer.cutting import CuttingPlanes, CuttingReport, Master, chunk, neighbourhood_order
from siting.optimizer.deadline import Deadline
from siting.optimizer.generic import Built, PlanSearch, Progress
from siting.solvers.base import SolveOptions

#: Share of the usable time the bound may take before the search starts.
BOUND_SHARE = 0.45
#: Share of the usable time after the bound spent in the kernel search (the rest: neighbourhoods).
#: On the 20,000 × 1,000 district, runs side by side at 120 s, 0.7 against the earlier 0.35:
#: capacitated 3.67 % against 6.21 %, fairness 8.6 % against 12.2 %, the standards default's basic
#: stage 3.43 % against 4.51 % (quality 176 % against 311 %): the kernel's first round needs its
#: time, the neighbourhood search gains little after it.
KERNEL_SHARE = 0.7
#: Seconds the master MIP needs at least to be worth starting (on the district its root bound took
#: about 6 s; started with 5 s left, it gave no bound and overran by 3 s).
MASTER_MIP_MIN_S = 10.0
#: Coverage rows of one service are cut into at most this many neighbourhood groups for the cuts.
GROUPS_PER_SERVICE = 48


@dataclass
class SitingFormulation:
    """A model builder over the candidate sites, restricted by the pairs it may use.

    Attributes
    ----------
    sites, rules
        Candidate sites; budget and requirements.
    builder
        ``builder(sites)`` builds the objective's model over ``sites`` (whose ``allowed`` may be
        narrowed); the result has ``milp`` and ``cols``.
    budget
        Whether the budget limits which pairs are usable (``False``: least cost).
    """

    sites: SiteData
    rules: PlanningRules
    builder: Callable[[SiteData], Any]
    budget: bool = True

    def __post_init__(self) -> None:
        self._allowed = usable_pairs(self.sites, self.rules, budget=self.budget)

    @property
    def allowed(self) -> np.ndarray:
        """Boolean (sites × services): every pair a plan may choose."""
        return self._allowed

    def build(self, allowed: np.ndarray, fixed: np.ndarray | None = None) -> Built:
        """The model over the pairs ``allowed`` (``fixed`` ones stay columns, held by bounds)."""
        out: Built = self.builder(replace(self.sites, allowed=self.sites.allowed & allowed))
        return out

    def exact_value(self, hosts: np.ndarray) -> float | None:
        """``None``: a plan's value takes a solve (what its facilities serve within capacity...)."""
        return None


def plan_master(cols: SiteColumns, sites: SiteData, rules: PlanningRules, *, budget: bool = True,
                sets: bool = True) -> tuple[list[RuleRows], dict[str, np.ndarray], dict[str, np.ndarray],
                                            dict[str, int]]:
    """The plan rules over the master's ``x, y`` columns: rows, the ``y`` bounds (forced sites), set columns.

    The floor areas are written twice: the row per site, and the sets of services each site
    can hold together (:func:`~siting.model.patterns.define_site_packing`, over columns of their
    own), whose relaxation is the convex hull of the site's plans — the masters' LP bounds rise
    with them where sites cannot hold every service they allow.

    ``sets=False`` leaves the sets out (the floor-area row alone).

    Returns
    -------
    rows, col_lower, col_upper, blocks
        Row blocks (link, area, packing, budget, counts), the bounds of ``y``, and the column
        blocks the rows add beyond ``x, y`` (``pack``: one per set; put after ``theta``).
    """
    packing, n_sets = define_site_packing(cols.x_site, cols.x_service, np.asarray(sites.floor_area, dtype=float),
                                          np.asarray(rules.service_area, dtype=float)) if sets else (None, 0)
    rows = [define_link(cols.x_site, cols.n_sites),
            define_area(cols.x_site, rules.service_area[cols.x_service], sites.floor_area)]
    if packing is not None and n_sets:
        rows.append(packing)
    if budget:
        rows.append(define_budget(column_costs(cols.x_site, cols.x_service, sites, rules),
                                  np.asarray(sites.retrofit_cost, dtype=float), rules.budget))
    counts = define_site_counts(cols.x_service, rules.min_sites, rules.max_sites)
    if counts.n_rows:
        rows.append(counts)
    lo, hi = site_bounds(rules)
    return rows, {"y": lo}, {"y": hi}, ({"pack": n_sets} if n_sets else {})


def row_service(R: sparse.csr_matrix, cols: SiteColumns) -> np.ndarray:
    """Service of each coverage row (the service of the columns that cover it; -1 when none do)."""
    Rc = sparse.csr_matrix(R)
    first = np.where(np.diff(Rc.indptr) > 0, Rc.indices[np.minimum(Rc.indptr[:-1], max(Rc.nnz - 1, 0))], -1)
    return np.where(first >= 0, cols.x_service[np.maximum(first, 0)], -1)


def cover_groups(R: sparse.csr_matrix, cols: SiteColumns, weight: np.ndarray,
                 per_service: int = GROUPS_PER_SERVICE) -> tuple[np.ndarray, int]:
    """Group of every coverage row: by service, then by neighbourhood, groups of about equal weight."""
    if R.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), 0
    pos = neighbourhood_order(R, cols.n_pairs, cols.x_site, cols.n_sites)
    group = chunk(pos, np.maximum(weight, 1e-12), row_service(R, cols), per_service)
    return group, int(group.max()) + 1 if group.size else 0


def site_reach(R: sparse.csr_matrix, cols: SiteColumns) -> sparse.csr_matrix:
    """(rows × sites): the sites whose columns reach each row (for neighbourhoods)."""
    to_site = sparse.csr_matrix((np.ones(cols.n_pairs), (np.arange(cols.n_pairs), cols.x_site)),
                                shape=(cols.n_pairs, cols.n_sites))
    out: sparse.csr_matrix = (sparse.csr_matrix(R, dtype=np.float64) @ to_site).tocsr()
    return out


def scores_of(cols: SiteColumns, x: np.ndarray | None) -> np.ndarray | None:
    """(sites × services) scores from the master's ``x`` values."""
    if x is None:
        return None
    out = np.zeros((cols.n_sites, cols.n_services))
    out[cols.x_site, cols.x_service] = x
    return out


def knapsack_bound(R: sparse.csr_matrix, weight: np.ndarray, cols: SiteColumns, sites: SiteData,
                   rules: PlanningRules, *, capacity: np.ndarray | None = None,
                   residents: np.ndarray | None = None) -> float:
    """A bound in milliseconds on the weight of coverage rows a plan can serve (before any LP).

    Each column is worth the weight of the rows it reaches — for a capacity-limited service at
    most its places times the largest weight per resident among them —, each site the sum of its
    columns (floor area ignored), and the budget buys sites by value per yuan, the last one in
    part (the knapsack's LP bound); never more than the weight of every row. Every relaxation
    here only loosens it, so it holds for every plan.
    """
    w = np.asarray(weight, dtype=float)
    total = float(np.maximum(w, 0).sum())
    if cols.n_pairs == 0:
        return 0.0
    Rf = sparse.csr_matrix(R, dtype=np.float64)
    value = np.asarray(Rf.T @ np.maximum(w, 0)).ravel()
    if capacity is not None and residents is not None:
        per = np.where(residents > 0, w / np.maximum(residents, 1e-300), 0.0)
        top = np.zeros(cols.n_pairs)
        coo = Rf.tocoo()
        np.maximum.at(top, coo.col, per[coo.row])
        cap = np.asarray(capacity, dtype=float)[cols.x_service]
        value = np.where(np.isfinite(cap), np.minimum(value, top * np.where(np.isfinite(cap), cap, 0.0)), value)
    site_value = np.bincount(cols.x_site, weights=value, minlength=cols.n_sites)
    cost = np.asarray(sites.retrofit_cost, dtype=float)  # fit-outs left out: only loosens
    forced = np.asarray(rules.force_in, dtype=bool)
    budget = float(rules.budget) - float(cost[forced].sum())
    fixed = float(site_value[forced].sum())
    v, c = site_value[~forced], cost[~forced]
    free = float(v[c <= 0].sum())
    v, c = v[c > 0], c[c > 0]
    order = np.argsort(-v / c, kind="stable")
    v, c = v[order], c[order]
    cum = np.cumsum(c)
    k = int(np.searchsorted(cum, budget, side="right"))
    got = float(v[:k].sum())
    if k < v.size:
        got += float(v[k] * max(budget - (cum[k - 1] if k else 0.0), 0.0) / c[k])
    return float(min(total, fixed + free + got)) if np.isfinite(rules.budget) else total


BoundStep = Callable[[PlanSearch, float], np.ndarray | None]


def search_plan(form: SitingFormulation, sense: Sense, deadline: Deadline, options: SolveOptions, *,
                full: Built | None, starts: list[np.ndarray], reach: sparse.csr_matrix | None,
                bound: BoundStep | None = None, say: Progress | None = None,
                direct_max_nonzeros: int | None = None, quick_bound: float | None = None,
                bound_share: float = BOUND_SHARE, kernel_round: float = generic.KERNEL_ROUND) -> PlanSearch:
    """Search one objective's plan (module docstring) and return the search with its best plan and bound.

    Parameters
    ----------
    form
        The objective's formulation.
    sense
        Maximise or minimise.
    deadline
        The optimisation's deadline (it started when the objective's work did).
    options
        Gap, threads, seed.
    full
        The whole model when it was built (small and medium models), else ``None``.
    starts
        Plans to start from (the greedy's, the caller's), evaluated exactly.
    reach
        (rows × sites) for neighbourhoods, or ``None`` (no neighbourhood search).
    bound
        ``bound(search, seconds)`` tightens the search's bound and returns pair scores.
    say
        Progress lines.
    direct_max_nonzeros
        Largest whole model handed to branch and bound (default
        :data:`siting.optimizer.generic.DIRECT_MAX_NONZEROS`).
    quick_bound
        A bound known before any solve (so that every answer has a finite gap).
    bound_share
        Share of the usable time the bound step may take.
    kernel_round
        Share of the kernel search's time left each of its restricted solves but the last may take.
    """
    say = say or (lambda _line: None)
    search = PlanSearch(form, sense, deadline, options, say)
    if quick_bound is not None:
        search.tighten(quick_bound, "knapsack")
    limit = generic.DIRECT_MAX_NONZEROS if direct_max_nonzeros is None else direct_max_nonzeros
    if full is not None and int(full.milp.A.nnz) <= limit:
        if len(starts) == 1:  # warm-started with it as it is (HiGHS completes and checks it): no evaluation
            search.direct(full, start=starts[0])
            if search.best is None and not search.infeasible and not search.error:
                _evaluate_starts(search, starts, say)  # HiGHS found no plan in time: the start's own value
        else:  # several starts: the best of them, each evaluated, warm-starts branch and bound
            _evaluate_starts(search, starts, say)
            search.direct(full)
        return search
    _evaluate_starts(search, starts, say)
    scores = bound(search, deadline.share(bound_share)) if bound is not None else None
    if search.infeasible:  # the bound's master has no solution: no plan meets the rules
        return search
    if not search.proven() and not deadline.expired():
        search.kernel(scores if scores is not None else np.zeros_like(form.allowed, dtype=float),
                      seconds=deadline.share(KERNEL_SHARE), round_share=kernel_round)
        say(f"kernel search: {search.value:,.6g} after {search.report.kernel_rounds} rounds")
    if not search.proven() and not deadline.expired() and reach is not None:
        weights = None if scores is None else scores.sum(axis=1)
        search.neighbourhoods(reach, seconds=deadline.usable(), weights=weights)
        say(f"neighbourhood search: {search.value:,.6g} after {search.report.lns_rounds} subproblems")
    search.stopped = search.stopped or not search.proven()
    return search


def keep_if_better(search: PlanSearch) -> Callable[[np.ndarray], float | None]:
    """A plan's exact value, kept by the search when it is better (``None`` when it breaks a rule)."""

    def keep(hosts: np.ndarray) -> float | None:
        value = search.evaluate(hosts)
        if value is not None:
            search.offer(hosts, value)
        return value

    return keep


def master_mip(search: PlanSearch, planes: CuttingPlanes, cols: SiteColumns, until: float,
               keep: Callable[[np.ndarray], float | None]) -> None:
    """Solve the converged cutting-plane master as a MIP over the plan columns until ``until``.

    With ``x`` and ``y`` integer the master is still a relaxation of the problem (``θ`` over-rates
    what a plan covers), so HiGHS's bound on it holds for every plan: on the shared 20,000 × 1,000
    district far tighter than the LP's (least cost 100.7 against 89.8 million yuan, the standards
    basic stage 2.638 against 2.703). Each plan it proposes goes through ``keep`` (its exact value,
    kept when better); a plan the master over-rated is cut there and the MIP solved again.
    No warm start: given the best plan, HiGHS tended to return it at the limit (least cost, district).
    """
    if until - time.perf_counter() < MASTER_MIP_MIN_S:
        return
    worst = -np.inf if search.sense is Sense.MAXIMIZE else np.inf

    def value_of(x: np.ndarray) -> float:
        value = keep(cols.hosts(x))
        return worst if value is None else value

    _x, bound = planes.mip(start=None, deadline=until, gap=search.options.mip_gap, value_of=value_of)
    search.tighten(bound, "master MIP")
    search.say(f"master MIP: bound {bound:,.8g} after {planes.report.mip_rounds} rounds, best plan {search.value:,.8g}")


def bound_step(search: PlanSearch, planes: CuttingPlanes, cols: SiteColumns, seconds: float, *,
               start: np.ndarray | None, keep: Callable[[np.ndarray], float | None] | None = None,
               first: Callable[[CuttingReport], None] | None = None) -> np.ndarray | None:
    """The bound of the shared search: the cutting planes' LP bound, then the master MIP.

    Parameters
    ----------
    search
        Its bound is tightened; plans found on the way are offered to it.
    planes
        The objective's master and cuts.
    cols
        The plan columns.
    seconds
        Time for the whole step.
    start
        The first stability centre of the cutting planes (``None``: the origin).
    keep
        How a plan of the master MIP is valued and kept (default :func:`keep_if_better`).
    first
        Called with the converged LP's report before the master MIP (least cost rounds its solution).

    Returns
    -------
    numpy.ndarray or None
        Pair scores (the LP solution) for the kernel search.
    """
    until = search.deadline.until(seconds)
    report = planes.lp(start=start, deadline=until, tolerance=min(1e-4, search.options.mip_gap / 4))
    if report.iterations:
        search.tighten(report.bound, "cutting planes")
    search.infeasible = search.infeasible or (report.infeasible and search.best is None)
    if report.log:
        search.say(report.log[-1])
    if report.converged and not search.proven() and time.perf_counter() < until:
        if first is not None:
            first(report)
        master_mip(search, planes, cols, until, keep or keep_if_better(search))
    return scores_of(cols, report.x)


def _evaluate_starts(search: PlanSearch, starts: list[np.ndarray], say: Progress) -> None:
    """Each start plan's exact value; the best is kept (the first is evaluated even past the deadline)."""
    t = time.perf_counter()
    for i, hosts in enumerate(starts):
        value = search.evaluate(hosts, always=i == 0)
        if value is not None:
            search.offer(hosts, value)
    say(f"start plan {search.value + 0.0:,.6g} ({time.perf_counter() - t:.1f} s)")  # + 0.0: never "-0"


def master_for(cols: SiteColumns, sites: SiteData, rules: PlanningRules, sense: Sense, theta: int, *,
               budget: bool = True, extra: dict[str, int] | None = None,
               objective: dict[str, np.ndarray] | None = None, rows: list[RuleRows] | None = None,
               offset: float = 0.0, evaluable: bool = True) -> Master:
    """A master over ``x, y`` (the plan rules), ``theta`` groups, and the objective's own columns and rows."""
    plan_rows, lo, hi, blocks = plan_master(cols, sites, rules, budget=budget)
    sizes = {"x": cols.n_pairs, "y": cols.n_sites, "theta": int(theta), **(extra or {}), **blocks}
    return Master(sizes, plan_rows + (rows or []), objective or {"theta": np.ones(theta)}, sense, lo, hi,
                  offset=offset, evaluable=evaluable)


__all__ = ["BOUND_SHARE", "BoundStep", "SitingFormulation", "bound_step", "cover_groups", "keep_if_better",
           "master_for", "master_mip", "plan_master", "row_service", "scores_of", "search_plan", "site_reach"]
