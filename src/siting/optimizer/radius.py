"""The walking-time objective (p-median, radius formulation) through the shared optimizer.

:func:`optimize_walking` finds the plan with the least total weighted walking time:

1. **a plan** — the greedy by minutes saved per yuan (:class:`~siting.optimizer.gains.WalkGains`),
   then swaps of one open column for a closed one of the same service, evaluated exactly
   (:func:`swap_search`);
2. **a bound** — the radius formulation's LP bound by cutting planes over the plan columns
   (:class:`~siting.optimizer.cutting.RadiusCuts`, one ``θ`` per customer when there are few,
   per service and neighbourhood otherwise);
3. **reduced-cost fixing** — a pair whose reduced cost lifts the LP bound above the best plan's
   walking time cannot be in a better plan (:func:`fixable`); it is dropped;
4. **branch and bound** — with one ``θ`` per customer the master LP is the radius
   formulation's own LP, so the tree branches on it (:func:`~siting.optimizer.branching.branch_and_cut`,
   the cuts leaving out the walks to pairs closed for good); with customers grouped, branch and
   bound on the radius formulation over the pairs left, warm-started with the best plan, and
   when the pairs left are too many, kernel and neighbourhood search over restricted models
   (:mod:`siting.optimizer.generic`), where the columns held fixed outside a neighbourhood act
   as existing facilities (:func:`with_existing`: a walk's fallback becomes the nearest of
   them, so the levels beyond it vanish).

Every step works to one deadline; the bound is the cutting planes' LP bound or branch and
bound's, whichever is tighter. (HiGHS's own branch and bound on the radius formulation of
OR-Library pmed36 had not finished its root LP after 45 s; the cutting planes reach the same
LP bound in about 1.5 s.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.median import MedianModel, WalkEntries, build_median_model, walk_entries
from siting.model.milp import Sense
from siting.model.rules import PlanningRules, SiteData, plan_cost, usable_pairs, usable_start
from siting.model.structure import SiteColumns, site_columns
from siting.optimizer.branching import branch_and_cut
from siting.optimizer.cutting import (
    CuttingPlanes,
    CuttingReport,
    Master,
    RadiusCuts,
    chunk,
    neighbourhood_order,
    reduced_cost_fixing,
)
from siting.optimizer.deadline import Deadline
from siting.optimizer.formulations import master_for, scores_of
from siting.optimizer.gains import WalkGains
from siting.optimizer.generic import PlanSearch, Progress
from siting.optimizer.greedy import greedy_plan
from siting.solvers.base import SolveOptions
from siting.walking import Reach
from siting.walking.distances import WalkDistances

#: With at most this many customers each has its own ``θ`` (the exact LP bound, quickly).
EXACT_CUSTOMERS = 20_000
#: Customers of one service are cut into this many neighbourhood groups above that.
GROUPS_PER_SERVICE = 96
#: Largest radius model (nonzeros) handed whole to branch and bound.
DIRECT_MAX_NONZEROS = 400_000
#: Relative gap at which the grouped cutting planes count as converged.
GROUPED_TOLERANCE = 1e-3
#: Share of the kernel search's time its first restricted solve (the LP's best-rated pairs and the best plan)
#: may take: on the 20,000 × 1,000 district it is where the plan within 1 % is found.
KERNEL_FIRST_ROUND = 0.8
#: Seconds per recorded walk that building a model or a round of cuts takes, roughly (to skip what cannot finish).
SECONDS_PER_ENTRY = 2e-6


def with_existing(distances: WalkDistances, fixed: np.ndarray) -> WalkDistances:
    """The distances with every pair of ``fixed`` (sites × services) as an existing facility of its service."""
    j, s = np.nonzero(fixed)
    if j.size == 0:
        return distances
    reach = distances.sites
    order = np.argsort(reach.destination, kind="stable")
    ptr = np.searchsorted(reach.destination[order], np.arange(reach.shape[1] + 1))
    lens = ptr[j + 1] - ptr[j]
    take = order[np.repeat(ptr[j], lens) + (np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens))]
    E = distances.existing.shape[1]
    new_id = E + np.repeat(np.arange(j.size), lens)
    ex = distances.existing
    existing = Reach(np.concatenate([ex.origin, reach.origin[take]]), np.concatenate([ex.destination, new_id]),
                     np.concatenate([ex.metres, reach.metres[take]]), (ex.shape[0], E + j.size), ex.cutoff_m)
    service = np.concatenate([np.asarray(distances.existing_service, dtype=np.int64), s.astype(np.int64)])
    return WalkDistances(distances.sites, existing, service)


@dataclass
class WalkingFormulation:
    """The radius formulation, buildable over any pairs, columns held fixed acting as existing facilities."""

    coverage: Coverage
    distances: WalkDistances
    weights: np.ndarray
    sites: SiteData
    rules: PlanningRules
    entries: WalkEntries | None = None
    cols: SiteColumns | None = None
    _allowed: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self._allowed = usable_pairs(self.sites, self.rules)

    @property
    def allowed(self) -> np.ndarray:
        """Every pair a plan may choose."""
        return self._allowed

    def exact_value(self, hosts: np.ndarray) -> float | None:
        """Weighted walking minutes of a plan, in closed form."""
        if self.entries is None or self.cols is None:
            return None
        return self.entries.walking(hosts[self.cols.x_site, self.cols.x_service].astype(float))

    def build(self, allowed: np.ndarray, fixed: np.ndarray | None = None) -> MedianModel:
        """The radius model over ``allowed`` pairs, the ``fixed`` ones (at other sites) as existing facilities."""
        sites, rules, distances = self.sites, self.rules, self.distances
        if fixed is not None and fixed.any():
            fixed_sites = np.asarray(fixed.any(axis=1), dtype=bool)
            spent = plan_cost(fixed, sites, replace(rules, force_in=rules.force_in & fixed_sites))
            count = fixed.sum(axis=0)
            rules = replace(rules, budget=rules.budget - spent, min_sites=np.maximum(rules.min_sites - count, 0),
                            max_sites=np.where(rules.max_sites >= 0, rules.max_sites - count, -1),
                            force_in=rules.force_in & ~fixed_sites)
            allowed = allowed & ~fixed_sites[:, None]
            distances = with_existing(distances, fixed)
        return build_median_model(self.coverage, distances, self.weights,
                                  replace(sites, allowed=sites.allowed & allowed), rules)


def fixable(report: CuttingReport, cols: SiteColumns, incumbent: float, lower: np.ndarray,
            upper: np.ndarray) -> np.ndarray:
    """(sites × services): pairs that cannot be in a plan walking less than ``incumbent`` (reduced-cost fixing).

    At the master LP's optimum ``L`` with reduced costs ``d``, every plan with column ``k`` open
    walks at least ``L + d_k`` (:func:`~siting.optimizer.cutting.reduced_cost_fixing`, the rule the
    branch and bound applies at every node); a site whose ``y`` column is held at zero that way
    closes all its pairs. A site forced in (``y`` fixed at 1) is never closed, whatever its reduced
    cost: it pays its retrofit in every plan, so its pairs stay open to the plan.

    Parameters
    ----------
    report
        The converged cutting planes (plan values and reduced costs of the last master LP).
    cols
        The plan columns.
    incumbent
        The best plan's walking time.
    lower, upper
        Bounds of the plan columns in that master LP (:meth:`CuttingPlanes.plan_bounds`).
    """
    out = np.zeros((cols.n_sites, cols.n_services), dtype=bool)
    if report.reduced_costs is None or report.plan is None or not np.isfinite(report.bound):
        return out
    slack = incumbent - report.bound - 1e-9 * max(abs(incumbent), 1.0)
    _lo, up = reduced_cost_fixing(report.plan, report.reduced_costs, lower, upper, slack)
    closed = (up <= 0.0) & (upper > 0.0)  # held at zero by the fixing, not by the rules
    K = cols.n_pairs
    drop = closed[:K] | closed[K:K + cols.n_sites][cols.x_site]
    out[cols.x_site[drop], cols.x_service[drop]] = True
    return out


def swap_search(entries: WalkEntries, cols: SiteColumns, hosts: np.ndarray, sites: SiteData, rules: PlanningRules,
                *, deadline: float) -> np.ndarray:
    """Improve a plan by swapping an open column for a closed one of the same service (fast interchange).

    The change of walking time of every swap (column ``i`` in, ``o`` out) is exact, from one
    pass over the recorded walks (Whitaker's fast interchange): ``−gain(i) + loss(o) − M[i, o]``
    where ``gain(i)`` is what ``i`` saves against the nearest open columns, ``loss(o)`` what the
    customers of ``o`` lose walking to their second-nearest, and ``M[i, o]`` what ``i`` gives
    back to those customers. The best swaps that keep the plan rules are taken in turn, until
    none shortens the walks or the deadline.
    """
    from siting.model.rules import plan_violation

    x = hosts[cols.x_site, cols.x_service].astype(float)
    value = entries.walking(x)
    K = cols.n_pairs
    c, w = entries.customer, entries.weight
    while time.perf_counter() < deadline:
        on = x > 0.5
        opened = np.flatnonzero(on)
        if opened.size == 0:
            break
        near, second, who = _two_nearest(entries, on)
        gain = np.bincount(entries.column, weights=w[c] * np.maximum(near[c] - entries.metres, 0.0), minlength=K)
        mine = who >= 0
        loss = np.bincount(who[mine], weights=(w * (second - near))[mine], minlength=K)
        e = np.flatnonzero(who[c] >= 0)
        back = w[c[e]] * np.maximum(second[c[e]] - np.maximum(entries.metres[e], near[c[e]]), 0.0)
        M = sparse.csr_matrix((back, (entries.column[e], who[c[e]])), shape=(K, K))[:, opened].toarray()
        delta = -gain[:, None] + loss[opened][None, :] - M
        same = cols.x_service[:, None] == cols.x_service[opened][None, :]
        delta = np.where(same & ~on[:, None], delta, np.inf)
        order = np.argsort(delta, axis=None, kind="stable")
        improved = False
        for flat in order[:200].tolist():
            i, o = divmod(flat, opened.size)
            if delta[i, o] >= -1e-9 * max(abs(value), 1.0):
                break
            trial = x.copy()
            trial[opened[o]], trial[i] = 0.0, 1.0
            if plan_violation(cols.hosts(trial), sites, rules):
                continue
            x, value, improved = trial, entries.walking(trial), True
            break
        if not improved:
            break
    return cols.hosts(x)


def _two_nearest(entries: WalkEntries, on: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer: metres to the nearest and second-nearest open column (or the fallback), the nearest's column."""
    C = entries.n_customers
    near = entries.fallback.copy()
    second = entries.fallback.copy()
    who = np.full(C, -1, dtype=np.int64)
    sel = np.flatnonzero(on[entries.column])  # entries are sorted by customer then metres
    if sel.size:
        cust = entries.customer[sel]
        first = np.r_[True, cust[1:] != cust[:-1]]
        f_idx = sel[first]
        near[entries.customer[f_idx]] = np.minimum(entries.metres[f_idx], entries.fallback[entries.customer[f_idx]])
        who[entries.customer[f_idx]] = np.where(entries.metres[f_idx] < entries.fallback[entries.customer[f_idx]],
                                                entries.column[f_idx], -1)
        rank = np.arange(sel.size) - np.repeat(np.flatnonzero(first), np.diff(np.r_[np.flatnonzero(first), sel.size]))
        s_idx = sel[rank == 1]
        second[entries.customer[s_idx]] = np.minimum(entries.metres[s_idx], entries.fallback[entries.customer[s_idx]])
    return near, second, who


def counts_only(allowed: np.ndarray, sites: SiteData, rules: PlanningRules) -> bool:
    """True when the plan rules come down to numbers of sites per service (and forced sites).

    So when every allowed pair opened together stays within the budget, and every site has the
    floor area for all the services it may host: then the master LP has only counts besides the
    cuts, and branching on it (:func:`~siting.optimizer.branching.branch_and_cut`) is what closes
    the gap. Otherwise HiGHS's own branch and cut on the master is used: its cuts on the budget
    and floor-area rows (knapsack covers) do what branching alone does slowly (on
    ``scenarios/median.yaml`` the tree left a 6 % gap after 60 s).
    """
    everything = allowed & ~rules.force_out[:, None]
    if np.isfinite(rules.budget) and plan_cost(everything, sites, rules) > rules.budget + 1e-9:
        return False
    need = everything.astype(float) @ rules.service_area
    return bool(np.all(need <= sites.floor_area + 1e-9))


def _without_pairs(entries: WalkEntries, held: np.ndarray, cols: SiteColumns, sites: SiteData,
                   rules: PlanningRules, options: SolveOptions) -> CuttingPlanes:
    """A fresh master whose cuts leave out the walks to the ``held`` columns (closed for good; held at zero)."""
    keep = ~held[entries.column]
    oracle, master = radius_bound(replace(entries, customer=entries.customer[keep], column=entries.column[keep],
                                          metres=entries.metres[keep]), cols, sites, rules)
    planes = CuttingPlanes(master, [(oracle, 0)], threads=options.threads, seed=options.seed)
    idx = (planes.cs["x"].start + np.flatnonzero(held)).astype(np.int32)
    planes.h.changeColsBounds(idx.size, idx, np.zeros(idx.size), np.zeros(idx.size))
    return planes


def radius_bound(entries: WalkEntries, cols: SiteColumns, sites: SiteData, rules: PlanningRules
                 ) -> tuple[RadiusCuts, Master]:
    """The cut oracle (customers grouped when many) and the master over ``x, y, θ``."""
    C = entries.n_customers
    if C <= EXACT_CUSTOMERS:
        group, H = np.arange(C), C
    else:
        R = sparse.csr_matrix((np.ones(entries.column.size), (entries.customer, entries.column)),
                              shape=(C, cols.n_pairs))
        pos = neighbourhood_order(R, cols.n_pairs, cols.x_site, cols.n_sites)
        group = chunk(pos, entries.weight * entries.fallback, entries.service, GROUPS_PER_SERVICE)
        H = int(group.max()) + 1 if group.size else 0
    oracle = RadiusCuts(entries.customer, entries.column, entries.metres, entries.weight, entries.fallback,
                        group, H, cols.n_pairs)
    master = master_for(cols, sites, rules, Sense.MINIMIZE, H, offset=entries.constant)
    return oracle, master


@dataclass
class WalkingRun:
    """The outcome of :func:`optimize_walking`: the search (best plan, value, bound) and its figures."""

    search: PlanSearch
    stats: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def optimize_walking(coverage: Coverage, distances: WalkDistances, weights: np.ndarray, sites: SiteData,
                     rules: PlanningRules, options: SolveOptions, *, deadline: Deadline | None = None,
                     start: np.ndarray | None = None, say: Progress | None = None) -> WalkingRun:
    """The least total weighted walking time (module docstring); HiGHS only.

    Parameters
    ----------
    coverage, distances, weights, sites, rules
        As for :func:`siting.model.median.build_median_model`.
    options
        Time limit, gap, threads, seed.
    deadline
        The deadline (default: from ``options.time_limit_s``, starting now).
    start
        A plan to start from (dropped when it breaks the rules: the budget, the numbers of sites...).
    say
        Progress lines.
    """
    say = say or (lambda _line: None)
    deadline = deadline or Deadline(options.time_limit_s)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    cols = site_columns(sites, rules)
    entries = walk_entries(cols, distances, weights)
    form = WalkingFormulation(coverage, distances, weights, sites, rules, entries, cols)
    search = PlanSearch(form, Sense.MINIMIZE, deadline, options, say)
    timings["entries"] = time.perf_counter() - t
    stats = {"assignments": cols.n_pairs, "sites": cols.n_sites, "walk_pairs": int(entries.column.size),
             "customers": entries.n_customers}
    t = time.perf_counter()
    gains = WalkGains(entries.customer, entries.column, entries.metres, entries.weight[entries.customer],
                      entries.fallback, cols.n_pairs)
    if start is not None:  # offered below with its walking time, unchecked: the rules are checked here
        start = usable_start(np.asarray(start, dtype=bool) & form.allowed, sites, rules)
    plans = [h for h in (greedy_plan(cols, sites, rules, gains, time_limit_s=deadline.share(0.1)), start)
             if h is not None]
    for hosts in plans:
        hosts = swap_search(entries, cols, hosts & form.allowed, sites, rules, deadline=deadline.until(
            deadline.share(0.1)))
        search.offer(hosts, float(form.exact_value(hosts) or np.inf))
    timings["heuristic"] = time.perf_counter() - t
    say(f"greedy and swaps: {search.value:,.1f} person-minutes, {timings['heuristic']:.1f} s")
    nothing = search.best is None or cols.n_pairs == 0 or entries.n_customers == 0
    if nothing and entries.column.size <= DIRECT_MAX_NONZEROS:
        # no plan from the heuristics, or nothing to shorten: the rules alone decide; branch and bound says
        search.direct(form.build(form.allowed))
        return WalkingRun(search, stats, timings)
    search.tighten(entries.walking(np.ones(cols.n_pairs)), "every allowed site open")
    if deadline.usable() < 0.5 + SECONDS_PER_ENTRY * entries.column.size:
        search.stopped = not search.proven()  # no time for a bound: the plan of the heuristics
        return WalkingRun(search, stats, timings)
    t = time.perf_counter()
    oracle, master = radius_bound(entries, cols, sites, rules)
    x0 = None if search.best is None else search.best[cols.x_site, cols.x_service].astype(float)
    planes = CuttingPlanes(master, [(oracle, 0)], threads=options.threads, seed=options.seed)
    # one θ per customer: the exact LP, which the tree branches on; grouped: within 0.1 % is enough for the
    # kernel search, which gets the time back (the 20,000 × 1,000 district: converged at 57 s, not 64 s)
    tolerance = min(1e-6 if oracle.n_groups == entries.n_customers else GROUPED_TOLERANCE, options.mip_gap / 10)
    report = planes.lp(start=x0, deadline=deadline.until(deadline.share(0.5)), tolerance=tolerance)
    search.tighten(report.bound, "cutting planes")
    timings["bound"] = time.perf_counter() - t
    stats.update(cut_iterations=report.iterations, cuts=report.cuts)
    if report.log:
        say(report.log[-1])
    if report.infeasible:
        search.infeasible = search.best is None
        return WalkingRun(search, stats, timings)
    if search.proven():
        return WalkingRun(search, stats, timings)
    drop = fixable(report, cols, search.value, *planes.plan_bounds()) if search.best is not None else \
        np.zeros_like(form.allowed)
    allowed = form.allowed & ~drop
    stats["pairs_fixed_closed"] = int(drop.sum())
    say(f"reduced-cost fixing: {int(drop.sum())} of {cols.n_pairs} pairs closed for good")
    left = int(allowed[cols.x_site[entries.column], cols.x_service[entries.column]].sum())
    stats["walk_pairs_left"] = left
    whole = 3 * left <= DIRECT_MAX_NONZEROS and deadline.usable() > SECONDS_PER_ENTRY * left
    per_customer = oracle.n_groups == entries.n_customers  # one θ per customer: the master is the problem itself
    if per_customer and (counts_only(form.allowed, sites, rules) or not whole):
        t = time.perf_counter()

        def value_of(x: np.ndarray) -> float:
            v = entries.walking(x)
            search.offer(cols.hosts(x), v)
            return v

        x_best = None if search.best is None else search.best[cols.x_site, cols.x_service].astype(float)
        held = drop[cols.x_site, cols.x_service]
        if counts_only(form.allowed, sites, rules):  # only the numbers of sites bind: this project's own tree
            if held.any() and x_best is not None:  # the walks to pairs closed for good no longer count
                planes = _without_pairs(entries, held, cols, sites, rules, options)
                planes.lp(start=x_best, deadline=deadline.end - deadline.margin,
                          tolerance=min(1e-6, options.mip_gap / 10))
            tree = branch_and_cut(planes, incumbent=search.value, deadline=deadline.end - deadline.margin,
                                  gap=options.mip_gap, value_of=value_of, fix_zero=held, say=say)
            if search.best is not None or tree.closed:
                search.tighten(tree.bound, "branch and Benders cut")
            if search.best is None and tree.closed:  # every node infeasible: no plan meets the rules
                search.infeasible = True
            stats.update(branch_nodes=tree.nodes, branch_open_nodes=tree.open_nodes)
            say(f"branch and bound: {tree.nodes} nodes, {'closed' if tree.closed else f'{tree.open_nodes} open'}, "
                f"{tree.seconds:.1f} s")
        else:  # budget or floor areas bind on a large model: HiGHS's branch and cut on the master, whose cuts act
            # on those rows
            _x, bound = planes.mip(start=x_best, deadline=deadline.end - deadline.margin, gap=options.mip_gap,
                                   value_of=value_of, fix_zero=held)
            search.tighten(bound, "branch and Benders cut")
            stats["master_mip_rounds"] = planes.report.mip_rounds
            search.infeasible = search.best is None and planes.report.infeasible
        timings["branch_and_bound"] = time.perf_counter() - t
        search.stopped = search.stopped or not search.proven()
        return WalkingRun(search, stats, timings)
    # no plan from the heuristics (e.g. minimum numbers of sites the greedy could not meet): the restricted
    # model or the kernel search below starts from nothing and may still find one. With the budget or floor
    # areas binding, HiGHS's branch and bound on the radius model of the pairs left proves small and middling
    # models several times faster than its branch and cut on the cutting-plane master (the default district's
    # walking time: 1.6 s against 7.2 s; the shared 2,000 × 200 district: proven in 28 s, where the master's
    # branch and cut stopped at 60 s 0.36 % from its bound)
    if whole:
        t = time.perf_counter()
        restricted = form.build(allowed)
        timings["restricted_model"] = time.perf_counter() - t
        stats["restricted_nonzeros"] = int(restricted.milp.A.nnz)
        # the restricted model's bound holds for plans of the pairs left; the others walk more than the best plan
        search.direct(restricted)
        return WalkingRun(search, stats, timings)
    search.form = replace(form, sites=replace(sites, allowed=sites.allowed & allowed))
    scores = scores_of(cols, report.x)
    search.kernel(scores if scores is not None else np.zeros(allowed.shape), seconds=deadline.share(0.4),
                  round_share=KERNEL_FIRST_ROUND)
    pick = np.flatnonzero(entries.customer % max(1, entries.column.size // 400_000) == 0)  # a sample is enough
    reach = sparse.csr_matrix((np.ones(pick.size), (entries.customer[pick], cols.x_site[entries.column[pick]])),
                              shape=(entries.n_customers, cols.n_sites))
    search.neighbourhoods(reach, seconds=deadline.usable(), sub_time_s=15.0)
    search.stopped = search.stopped or not search.proven()
    return WalkingRun(search, stats, timings)


__all__ = ["WalkingFormulation", "WalkingRun", "fixable", "optimize_walking", "radius_bound", "swap_search",
           "with_existing"]
