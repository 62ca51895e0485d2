"""Objectives over covered shares through the shared optimizer: fairness (max-min), floors, least cost.

Each is a covering model whose rows also count residents towards shares of groups
(:func:`siting.model.structure.share_terms`): the smallest share to raise (``fairness``), floors
to keep (``coverage`` with ``floors``), targets to reach at least cost (``least_cost``). The
pieces of :mod:`siting.optimizer.formulations` apply with:

- greedy oracles (:class:`~siting.optimizer.gains.ShareGains`): the smallest shares first, or the
  targets and floors still short, then the weighted coverage;
- a bound by cutting planes: one block of ``θ`` per share (residents of that share newly
  covered, per neighbourhood group) and, where the objective is the weighted coverage, one for
  it; the shares enter the master as the model writes them::

      fairness     max t     T_g t − Σ_h θ_gh ≤ B_g          every group balanced
      floors       max Σθ    Σ_h θ_fh ≥ φ_f T_f − B_f        every floor
      least cost   min cost  Σ_h θ_th ≥ τ_t T_t − B_t        every target (no budget row)

  ``θ`` over-estimates what a fractional plan covers, so each master is a relaxation and its LP
  optimum a bound. The converged master is then solved as a MIP (:func:`share_bound`); least cost
  completes the master's plans into plans reaching the targets;
- fairness is bounded instead by its Lagrangian (:mod:`siting.optimizer.share_lagrangian`), whose
  averaged relaxed plan guides the kernel search: on the shared 20,000 × 1,000 district, 120 s,
  within 1.3-2.0 % (the 2 % asked) after about 60 s, against 2.69 % at 120 s with the cutting
  planes after it (their master LP stood at 0.678 after 55 s, the Lagrangian at 0.641 after 13 s)
  and 8.5 % with the cutting planes alone; so is the weighted
  coverage kept above floors (the fairness's second stage: 3.8 % against 5.3 %, 60 s). The masters
  stay for floors that no start plan meets (their LP tells when none can).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.fairness import build_fairness_model
from siting.model.least_cost import build_least_cost_model
from siting.model.milp import Sense
from siting.model.rules import PlanningRules, RuleRows, SiteData, column_costs, plan_violation
from siting.model.structure import CoverRows, ShareTarget, SitingModel, share_terms, weighted_row_values
from siting.optimizer.cutting import CoverCuts, CutOracle, CuttingPlanes, CuttingReport, Master
from siting.optimizer.deadline import Deadline
from siting.optimizer.formulations import (
    BOUND_SHARE,
    SitingFormulation,
    bound_step,
    cover_groups,
    keep_if_better,
    knapsack_bound,
    plan_master,
    scores_of,
    search_plan,
    site_reach,
)
from siting.optimizer.gains import RowGains, ShareGains, StackedGains
from siting.optimizer.generic import PlanSearch, Progress
from siting.optimizer.greedy import Gains, greedy_plan
from siting.optimizer.share_lagrangian import floors_bound, max_min_bound
from siting.solvers.base import SolveOptions

#: Least cost: share of the usable time for its bound (LP, then the master MIP, whose plan, repaired,
#: is the search's best start). On the 20,000 × 1,000 district, with the patterns of the sites in the
#: master, the LP converges in about 17 s and the master MIP moves its bound by less than 0.01 % but
#: gives the first good plan (103.4 million yuan) within 30 s; the kernel search then needs about 20 s
#: to prove the best plan of its first restricted model (102.8 million): 0.35 of the time, not 0.6 as
#: before the patterns (side by side: gap 1.11 % against 1.30 %).
LEAST_COST_BOUND_SHARE = 0.35
#: Least cost: pairs at or above this in the LP solution start a plan that is then completed (a
#: start found without the master MIP; on the district 112.0 million yuan against 154.9 million
#: by the greedy alone; 0.2-0.7 gave 113.7-120.7 million).
ROUND_AT = 0.9


@dataclass(frozen=True)
class ShareProblem:
    """What a share objective asks.

    Attributes
    ----------
    kind
        ``fairness`` (maximise the smallest share of ``balance``), ``floors`` (maximise weighted
        coverage keeping ``floors``) or ``least_cost`` (cheapest plan reaching ``targets``).
    balance, floors, targets
        The shares concerned.
    """

    kind: str
    balance: tuple[ShareTarget, ...] = ()
    floors: tuple[ShareTarget, ...] = ()
    targets: tuple[ShareTarget, ...] = ()


def _builder(coverage: Coverage, rules: PlanningRules, problem: ShareProblem) -> Callable[[SiteData], SitingModel]:
    if problem.kind == "least_cost":
        return lambda s: build_least_cost_model(coverage, s, rules, list(problem.targets))
    if problem.kind == "fairness":
        return lambda s: build_fairness_model(coverage, s, rules, mode="max_min", balance=list(problem.balance),
                                              floors=list(problem.floors))
    return lambda s: build_fairness_model(coverage, s, rules, mode="floors", floors=list(problem.floors))


def _need(rows: CoverRows, shares: tuple[ShareTarget, ...]) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray,
                                                                      np.ndarray]:
    """Per share: residents per row (rows × shares), base, total, and the residents it must reach."""
    coef, base, total = share_terms(rows, list(shares))
    need = np.array([s.share for s in shares]) * total
    return sparse.csr_matrix(coef.T), base, total, need


def greedy_gains(coverage: Coverage, rules: PlanningRules, model: SitingModel, problem: ShareProblem) -> Gains:
    """The greedy's oracle for the problem (module docstring)."""
    rows = model.rows
    parts: list[Gains] = []
    if problem.floors and problem.kind != "least_cost":
        P, base, total, need = _need(rows, problem.floors)
        parts.append(ShareGains(rows.R, P, base, total, need=need))
    if problem.kind == "least_cost":
        P, base, total, need = _need(rows, problem.targets)
        return ShareGains(rows.R, P, base, total, need=need)
    weight = weighted_row_values(coverage, rules, rows)
    if problem.kind == "fairness":
        P, base, total, _ = _need(rows, problem.balance)
        parts.append(ShareGains(rows.R, P, base, total, weight=weight))
    else:
        parts.append(RowGains(rows.R, weight[None, :], np.ones(rows.n_rows), np.full(model.cols.n_pairs, np.inf)))
    return parts[0] if len(parts) == 1 else StackedGains(parts)


def prune(hosts: np.ndarray, satisfied: Callable[[np.ndarray], bool], cost: np.ndarray, *,
          until: float = float("inf")) -> np.ndarray:
    """Drop pairs, dearest first, while the plan still satisfies (a reverse-delete pass for least cost).

    Stops trying at ``until`` (a ``time.perf_counter()`` value): the plan then keeps the pairs not tried.
    """
    out = hosts.copy()
    j, s = np.nonzero(out)
    for k in np.argsort(-cost[j, s], kind="stable").tolist():
        if time.perf_counter() >= until:
            break
        out[j[k], s[k]] = False
        if not satisfied(out):
            out[j[k], s[k]] = True
    return out


def share_bound(model: SitingModel, coverage: Coverage, sites: SiteData, rules: PlanningRules,
                problem: ShareProblem, *, repair: Callable[[np.ndarray], np.ndarray | None] | None = None
                ) -> Callable[[PlanSearch, float], np.ndarray | None]:
    """The cutting-plane bound of the problem (module docstring), as a bound step for the search.

    Fairness and floors take their Lagrangian bound instead (:mod:`siting.optimizer.share_lagrangian`,
    until the bound stalls), and the kernel search starts from its averaged relaxed plan; with floors
    and no start plan they keep the cutting planes, whose master tells when no plan meets the floors.

    The converged master is then solved as a MIP over the plan columns with the rest of the step's
    time (:func:`~siting.optimizer.formulations.master_mip`): its bound holds for the whole problem
    (a relaxation). Least cost, whose LP bound is weak (at 2,000 × 200 on the shared district 59.5
    million yuan against branch and bound's 73.0 million), first tries the LP solution rounded at
    :data:`ROUND_AT`; each of its plans is kept when it reaches the targets or, through ``repair``,
    completed into one that does.
    """
    rows, cols = model.rows, model.cols
    weight = weighted_row_values(coverage, rules, rows)
    group, H = cover_groups(rows.R, cols, np.maximum(weight, np.asarray(rows.residents.sum(axis=1)).ravel()))
    oracles: list[tuple[CutOracle, int]] = []
    rows_extra: list[RuleRows] = []
    n_theta = 0

    def block(w: np.ndarray) -> int:
        nonlocal n_theta
        first = n_theta
        oracles.append((CoverCuts(rows.R, w, group, H), first))
        n_theta += H
        return first

    def share_rows(shares: tuple[ShareTarget, ...]) -> list[tuple[int, ShareTarget, float, float]]:
        P, base, total, _n = _need(rows, shares)
        return [(block(np.asarray(P[:, i].toarray()).ravel()), f, float(base[i]), float(total[i]))
                for i, f in enumerate(shares)]

    main = block(weight) if problem.kind == "floors" else -1
    floor_blocks = share_rows(problem.targets if problem.kind == "least_cost" else problem.floors)
    balance_blocks = share_rows(problem.balance) if problem.kind == "fairness" else []

    def pick(first: int, sign: float) -> sparse.csr_matrix:
        return sparse.csr_matrix((np.full(H, sign), (np.zeros(H, dtype=np.int64), first + np.arange(H))),
                                 shape=(1, n_theta))

    for first, f, base, total in floor_blocks:  # Σ_h θ_fh ≥ share × total − base
        rows_extra.append(RuleRows("share", {"theta": pick(first, 1.0)},
                                   np.array([f.share * total - base - 1e-6 * max(total, 1.0)]), np.array([np.inf])))
    extra: dict[str, int] = {}
    if balance_blocks:
        extra["t"] = 1
        for first, _f, base, total in balance_blocks:  # T t − Σ_h θ_gh ≤ B
            rows_extra.append(RuleRows("fair", {"theta": pick(first, -1.0), "t": sparse.csr_matrix([[total]])},
                                       np.array([-np.inf]), np.array([base])))
    budget = problem.kind != "least_cost"
    # the max-min master without the sets of services per site: with them its LP bound is tighter (the
    # 20,000 × 1,000 district: 0.642 against 0.676), but its master LPs are slower (8 cut rounds in 55 s
    # against 12) and the kernel search from their solution found no plan better than the greedy's
    # (smallest share 0.603-0.604 against 0.623-0.624 without them, runs of 2026-11-30): the plan comes first
    plan_rows, lo, hi, set_cols = plan_master(cols, sites, rules, budget=budget, sets=problem.kind != "fairness")
    sense = Sense.MINIMIZE if problem.kind == "least_cost" else Sense.MAXIMIZE
    if problem.kind == "least_cost":
        objective = {"x": column_costs(cols.x_site, cols.x_service, sites, rules),
                     "y": np.asarray(sites.retrofit_cost, dtype=float)}
    elif problem.kind == "fairness":
        objective = {"t": np.ones(1)}
    else:
        c = np.zeros(n_theta)
        c[main:main + H] = 1.0
        objective = {"theta": c}
    master = Master({"x": cols.n_pairs, "y": cols.n_sites, "theta": n_theta, **extra, **set_cols},
                    plan_rows + rows_extra, objective, sense, lo, {**hi, **({"t": np.ones(1)} if extra else {})},
                    evaluable=False)

    def step(search: PlanSearch, seconds: float) -> np.ndarray | None:
        lagrangian = (problem.kind == "fairness" and (search.best is not None or not problem.floors)) or \
            (problem.kind == "floors" and search.best is not None)
        if lagrangian:
            target = float(search.value) if search.best is not None else 0.0
            until, stop = search.deadline.until(seconds), target * (1 + search.options.mip_gap)
            report = max_min_bound(model, sites, rules, problem.balance, problem.floors, target=target,
                                   deadline=until, stop_bound=stop, progress=search.say) \
                if problem.kind == "fairness" else \
                floors_bound(model, sites, rules, problem.floors, weight, target=target, deadline=until,
                             stop_bound=stop, progress=search.say)
            search.tighten(report.bound, "Lagrangian")
            search.say(report.log[-1])
            return scores_of(cols, report.average)
        start = None if search.best is None else search.best[cols.x_site, cols.x_service].astype(float)
        planes = CuttingPlanes(master, oracles, threads=search.options.threads, seed=search.options.seed)

        def rounded(report: CuttingReport) -> None:  # least cost: the LP solution rounded, then completed
            if problem.kind == "least_cost" and report.x is not None:
                _keep_repaired(search, cols.hosts((report.x >= ROUND_AT).astype(float)), repair)

        return bound_step(search, planes, cols, seconds, start=start, first=rounded,
                          keep=lambda h: _keep_repaired(search, h, repair))

    return step


def _keep_repaired(search: PlanSearch, hosts: np.ndarray,
                   repair: Callable[[np.ndarray], np.ndarray | None] | None) -> float | None:
    """Keep ``hosts`` when better, or else its repair; returns the value of ``hosts`` itself (or ``None``)."""
    keep = keep_if_better(search)
    value = keep(hosts)
    if value is None and repair is not None and (repaired := repair(hosts)) is not None:
        keep(repaired)
    return value


def optimize_shares(coverage: Coverage, sites: SiteData, rules: PlanningRules, problem: ShareProblem,
                    options: SolveOptions, *, deadline: Deadline | None = None, start: np.ndarray | None = None,
                    say: Progress | None = None) -> PlanSearch:
    """The plan of a share objective through the shared optimizer (module docstring); HiGHS only.

    Returns
    -------
    PlanSearch
        Its best plan (``best``), value and bound; ``infeasible`` when the model has no plan.
    """
    deadline = deadline or Deadline(options.time_limit_s)
    budget = problem.kind != "least_cost"
    form = SitingFormulation(sites, rules, _builder(coverage, rules, problem), budget=budget)
    full: SitingModel = form.build(form.allowed)  # type: ignore[assignment]
    gains = greedy_gains(coverage, rules, full, problem)
    hosts = greedy_plan(full.cols, sites, rules, gains, budget=budget,
                        time_limit_s=deadline.share(0.1 if budget else 0.3))
    starts = [h for h in (hosts, start) if h is not None]
    if problem.kind == "least_cost" and hosts is not None:
        tot = coverage.total_population()
        need = [(np.asarray(t.pairs), t.share * tot[list(t.pairs)].sum()) for t in problem.targets]

        def reaches(h: np.ndarray) -> bool:
            got = coverage.covered_population(h)
            return all(got[p].sum() >= n - 1e-6 * max(n, 1.0) for p, n in need)

        cost = rules.service_fitout[None, :] + sites.area_cost[:, None] * rules.service_area[None, :] \
            + np.asarray(sites.retrofit_cost, dtype=float)[:, None]
        if reaches(hosts) and not plan_violation(hosts, sites, rules, budget=False):
            starts.insert(0, prune(hosts, reaches, cost, until=deadline.until(deadline.usable() / 4)))

        def repair(h: np.ndarray) -> np.ndarray | None:
            """A plan short of the targets, completed greedily and pruned (``None`` if it cannot reach them)."""
            done = greedy_plan(full.cols, sites, rules, greedy_gains(coverage, rules, full, problem), budget=False,
                               time_limit_s=max(deadline.usable() / 10, 0.5), start=h)
            if done is None or not reaches(done):
                return None
            return prune(done, reaches, cost, until=deadline.until(deadline.usable() / 4))
    bound = share_bound(full, coverage, sites, rules, problem,
                        repair=repair if problem.kind == "least_cost" and hosts is not None else None)
    sense = Sense.MINIMIZE if problem.kind == "least_cost" else Sense.MAXIMIZE
    return search_plan(form, sense, deadline, options, full=full, starts=starts,
                       reach=site_reach(full.rows.R, full.cols), bound=bound, say=say,
                       quick_bound=quick_bound(coverage, sites, rules, full, problem),
                       bound_share=LEAST_COST_BOUND_SHARE if problem.kind == "least_cost" else BOUND_SHARE)


def quick_bound(coverage: Coverage, sites: SiteData, rules: PlanningRules, model: SitingModel,
                problem: ShareProblem) -> float:
    """A bound before any LP: no cost below zero (least cost); the shares with every allowed pair
    open (fairness); the knapsack bound of the weighted coverage (floors)."""
    if problem.kind == "least_cost":
        return 0.0
    rows = model.rows
    if problem.kind == "fairness":
        P, base, total, _ = _need(rows, problem.balance)
        reach_all = base + np.asarray(P.sum(axis=0)).ravel()
        return float(np.min(reach_all / np.maximum(total, 1e-300), initial=1.0))
    return knapsack_bound(rows.R, weighted_row_values(coverage, rules, rows), model.cols, sites, rules)


__all__ = ["ShareProblem", "greedy_gains", "optimize_shares", "prune", "quick_bound", "share_bound"]
