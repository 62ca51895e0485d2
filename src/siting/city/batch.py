"""City-wide batch: one plan for many life circles sharing one budget, solved as independent tasks.

:func:`run_batch` loads a city file (:mod:`siting.city.files`), splits the city into life circles,
prepares each circle on a worker (walking distances and coverage of its own residents and
sites; existing facilities anywhere count), and shares the city budget by pricing it:

1. every circle solves ``max coverage − λ·cost`` (:mod:`siting.model.priced`) — independent
   tasks, so rounds scale out over a cluster;
2. ``λ`` is searched by bisection between a price at which the circles together spend more
   than the budget and one at which they fit it (the first such price, ``F / (B − forced)``
   with ``F`` the most coverage money can buy, always fits);
3. every round gives the Lagrangian bound ``Σ_c bound_c(λ) + λ·B`` on the city optimum; the
   lowest is reported;
4. the plan is the best combination of the circles' solutions that fits the budget (each
   circle takes one of the solutions it found, a greedy choice by coverage gained per yuan),
   and its gap to the bound is reported;
5. while budget is left over, *top-up* rounds let every circle solve its own budgeted
   problem with its plan's cost plus the leftover, and the combination is made again (as
   long as that improves the plan).

The search stops when the gap is within ``pricing.gap``, after ``pricing.max_rounds``
rounds, or when the price interval is narrower than a thousandth of the price.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from siting.city.circle import (
    CircleInfo,
    CirclePlan,
    CircleTask,
    PricedSolve,
    circle_info,
    circle_task,
    describe_circle,
    prepare_circle,
    solve_circle,
    top_up_circle,
)
from siting.city.files import Circles, City, split_city
from siting.data.catalogue import Catalogue
from siting.data.district import District, load_district
from siting.errors import InfeasibleError, SitingError, ValidationErrors
from siting.execution import Executor, ProgressCallback, Shared, Task, TaskResult, executor_for
from siting.model.priced import lagrangian_bound
from siting.pipeline import catalogue_for, planning_rules
from siting.solvers import Status, get_backend
from siting.solvers.base import relative_gap


@dataclass(frozen=True)
class PriceRound:
    """One round of circle solves at one price.

    Attributes
    ----------
    round
        Round number (0 is the unpriced round).
    kind
        ``priced`` (a round of the price search) or ``top-up`` (circles spend the leftover).
    price
        ``λ``, weighted residents per yuan (``nan`` for the top-up round).
    cost, coverage
        Total cost and weighted new coverage of the circles' plans of this round.
    bound
        The Lagrangian bound this price gives (``nan`` for the top-up round).
    fits
        True when the total cost is within the budget.
    seconds
        Wall-clock time of the round.
    """

    round: int
    kind: str
    price: float
    cost: float
    coverage: float
    bound: float
    fits: bool
    seconds: float


@dataclass(frozen=True)
class BatchResult:
    """A city plan and the honest numbers about it.

    Attributes
    ----------
    city
        The city file.
    district
        The whole city's data.
    catalogue
        Services and age groups in play.
    circles
        The split into life circles.
    infos
        Per circle: residents, sites, coverage before the plan.
    plans
        Per circle with residents: its part of the plan (empty where it has no candidate sites).
    rounds
        The price search, round by round.
    objective
        Weighted residents newly covered by the city plan.
    bound
        Best Lagrangian bound on that objective.
    gap
        Relative gap between objective and bound.
    status
        ``optimal`` when the gap is within the solver's gap, else ``feasible``.
    budget, cost
        City budget and cost of the plan, yuan.
    executor
        Where the tasks ran, in words.
    timings
        Seconds per step.
    notes
        What a planner should know.
    """

    city: City
    district: District
    catalogue: Catalogue
    circles: Circles
    infos: tuple[CircleInfo, ...]
    plans: tuple[CirclePlan, ...]
    rounds: tuple[PriceRound, ...]
    objective: float
    bound: float
    gap: float
    status: Status
    budget: float
    cost: float
    executor: str
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The city scenario's name."""
        return self.city.scenario.name


def raise_failures(results: Sequence[TaskResult], what: str) -> None:
    """Raise for the circles whose tasks failed: their user mistakes listed, or a bug with its tracebacks."""
    failed = [r for r in results if not r.ok]
    if not failed:
        return
    problems = [f"life circle {r.key}: {r.error}" for r in failed]
    if all(r.user_error for r in failed):
        raise ValidationErrors(problems) if len(problems) > 1 else SitingError(f"{what}: {problems[0]}")
    detail = "\n".join(f"{p}\n{r.traceback}" for p, r in zip(problems, failed, strict=True))
    raise RuntimeError(f"{what} failed for {len(failed)} circle(s):\n{detail}")


def best_combination(found: Sequence[Sequence[PricedSolve]], budget: float) -> list[PricedSolve]:
    """Per circle, one of the solutions found in some round, together within the budget.

    Starts from each circle's cheapest solution (together they fit when any round fitted),
    then repeatedly takes the upgrade of one circle with the most coverage gained per extra
    yuan that still fits. The result is never worse than the best round that fitted.

    Parameters
    ----------
    found
        Per circle, its solutions from every round.
    budget
        The shared budget.
    """
    frontiers = []
    for sols in found:
        ordered = sorted(sols, key=lambda s: (s.cost, -s.coverage, s.round))
        front: list[PricedSolve] = []
        for s in ordered:  # keep solutions that buy more coverage for more money
            if not front or s.coverage > front[-1].coverage + 1e-9:
                front.append(s)
        frontiers.append(front)
    pick = [0] * len(frontiers)
    spent = sum(f[0].cost for f in frontiers)

    def best_upgrade(c: int) -> tuple[float, int] | None:
        """The upgrade of circle ``c`` with the most coverage per extra yuan that still fits."""
        front, cur = frontiers[c], frontiers[c][pick[c]]
        best: tuple[float, int] | None = None
        for k in range(pick[c] + 1, len(front)):  # cheapest first: stop at the first that does not fit
            extra = front[k].cost - cur.cost
            if spent + extra > budget + 1e-6:
                break
            ratio = (front[k].coverage - cur.coverage) / max(extra, 1e-9)
            if best is None or ratio > best[0] + 1e-12:
                best = (ratio, k)
        return best

    # a lazy heap over circles: what is left only shrinks, so a circle's best upgrade only gets worse
    heap = [(-b[0], c, b[1]) for c in range(len(frontiers)) if (b := best_upgrade(c)) is not None]
    heapq.heapify(heap)
    while heap:
        neg, c, k = heapq.heappop(heap)
        now = best_upgrade(c)
        if now is None:
            continue
        if (now[0], now[1]) != (-neg, k):
            heapq.heappush(heap, (-now[0], c, now[1]))
            continue
        spent += frontiers[c][k].cost - frontiers[c][pick[c]].cost
        pick[c] = k
        nxt = best_upgrade(c)
        if nxt is not None:
            heapq.heappush(heap, (-nxt[0], c, nxt[1]))
    chosen = [front[p] for front, p in zip(frontiers, pick, strict=True)]
    by_round: dict[int, list[PricedSolve]] = {}
    for sols in found:
        for s in sols:
            by_round.setdefault(s.round, []).append(s)
    for r in sorted(by_round):
        sols = by_round[r]
        if len(sols) == len(found) and sum(s.cost for s in sols) <= budget + 1e-6 and \
                sum(s.coverage for s in sols) > sum(s.coverage for s in chosen) + 1e-9:
            chosen = list(sols)
    return chosen


class _Search:
    """The state of the price search: every solution found, the best bound."""

    def __init__(self, budget: float, handles: Sequence[Shared], keys: Sequence[str], executor: Executor,
                 progress: ProgressCallback | None) -> None:
        self.budget, self.handles, self.keys = budget, handles, keys
        self.executor, self.progress = executor, progress
        self.rounds: list[PriceRound] = []
        self.found: list[list[PricedSolve]] = [[] for _ in keys]
        self.bound = np.inf

    def _record(self, sols: list[PricedSolve], kind: str, price: float, bound: float, t0: float) -> PriceRound:
        for c, s in enumerate(sols):
            self.found[c].append(s)
        cost = float(sum(s.cost for s in sols))
        rnd = PriceRound(len(self.rounds), kind, price, cost, float(sum(s.coverage for s in sols)), bound,
                         cost <= self.budget + 1e-6, time.perf_counter() - t0)
        self.rounds.append(rnd)
        return rnd

    def _run(self, tasks: list[Task], label: str) -> list[PricedSolve]:
        results = self.executor.run(tasks, label=label, progress=self.progress)
        raise_failures(results, label)
        return [r.value for r in results]

    def solve(self, price: float) -> PriceRound:
        """One round: every circle at this price."""
        t0, n = time.perf_counter(), len(self.rounds)
        sols = self._run([Task(k, solve_circle, (h, price, n)) for k, h in zip(self.keys, self.handles, strict=True)],
                         f"round {n}: price {price:.4g} per yuan")
        bound = lagrangian_bound(np.array([s.bound for s in sols]), price, self.budget)
        self.bound = min(self.bound, bound)
        return self._record(sols, "priced", price, bound, t0)

    def top_up(self) -> PriceRound | None:
        """One round: every circle spends its plan's cost plus what the current plan leaves over."""
        chosen, _ = self.plan()
        leftover = self.budget - sum(s.cost for s in chosen)
        if not chosen or leftover <= 1e-6 * self.budget:
            return None
        t0, n = time.perf_counter(), len(self.rounds)
        sols = self._run([Task(k, top_up_circle, (h, s.cost + leftover, n))
                          for k, h, s in zip(self.keys, self.handles, chosen, strict=True)],
                         f"round {n}: spending the {leftover:,.0f} yuan left over")
        return self._record(sols, "top-up", float("nan"), float("nan"), t0)

    def plan(self) -> tuple[list[PricedSolve], float]:
        """The best combination found so far, and its coverage."""
        if not any(r.fits for r in self.rounds):
            return [], -np.inf
        chosen = best_combination(self.found, self.budget)
        return chosen, float(sum(s.coverage for s in chosen))

    def gap(self) -> float:
        """Relative gap of the best combination to the best bound."""
        return relative_gap(self.plan()[1], self.bound)


def search_price(search: _Search, *, forced_cost: float, gap: float, max_rounds: int) -> None:
    """Bisection on the price until the plan's gap to the bound is within ``gap``, then a top-up round."""
    budget = search.budget
    first = search.solve(0.0)
    if first.fits:
        return
    top = first.bound  # nobody can cover more than this, at any cost
    lo, hi = 0.0, top / max(budget - forced_cost, 1e-9 * budget)
    while not search.solve(hi).fits:  # the first guess fits unless circles' requirements cost too much
        if len(search.rounds) >= min(max_rounds, 8):
            cheapest = min(r.cost for r in search.rounds)
            raise InfeasibleError(
                f"the circles' requirements (min_sites, force_in) cost at least {cheapest:,.0f} yuan at any "
                f"price, more than the city budget of {budget:,.0f} yuan; raise the budget or relax them")
        lo, hi = hi, hi * 4.0
    while len(search.rounds) < max_rounds - 1 and search.gap() > gap and hi - lo > 1e-3 * hi:
        mid = 0.5 * (lo + hi)
        if search.solve(mid).fits:
            hi = mid
        else:
            lo = mid
    while search.gap() > gap and len(search.rounds) < max_rounds:  # top-ups, while they improve the plan
        before = search.plan()[1]
        if search.top_up() is None or search.plan()[1] <= before + 1e-9:
            break


def run_batch(city: City, *, scheduler: str | None = None, executor: Executor | None = None,
              backend: str | None = None, progress: ProgressCallback | None = None) -> BatchResult:
    """Plan a whole city: split it into life circles, share the budget by pricing it, combine.

    Parameters
    ----------
    city
        A loaded city file (:func:`siting.city.files.load_city`).
    scheduler
        Where circle tasks run (see :mod:`siting.execution`); ignored when ``executor`` is given.
    executor
        An open executor to reuse.
    backend
        Solver backend overriding the city file's.
    progress
        Progress of each round of tasks (its ``label`` says which round).

    Returns
    -------
    BatchResult
        The combined plan with its bound and gap, per-circle plans and the price search.

    Raises
    ------
    SitingError
        For a wrong city file or data, naming the circle where one is at fault.
    """
    timings: dict[str, float] = {}
    t = time.perf_counter()
    scenario = city.scenario
    backend = backend or scenario.solver.backend
    get_backend(backend)
    catalogue = catalogue_for(scenario)
    district = load_district(scenario, catalogue)
    rules = planning_rules(scenario, catalogue, district)  # every weight key and site id checked city-wide
    budget = float(scenario.budget)
    forced_cost = float(district.sites.retrofit_cost[rules.force_in].sum())
    if forced_cost > budget:
        raise InfeasibleError(f"{city.source}, field 'requirements.force_in': the forced sites cost "
                              f"{forced_cost:,.0f} yuan, more than the city budget of {budget:,.0f} yuan")
    circles = split_city(district, city.circles, city.source)
    notes = list(circles.notes)
    tasks: list[CircleTask] = []
    demand_rows, site_rows = circles.members("demand"), circles.members("sites")
    for c, cid in enumerate(circles.ids):
        if demand_rows[c].size == 0:
            notes.append(f"life circle {cid} has no residential buildings; its {site_rows[c].size} site(s) are "
                         f"not used")
            continue
        tasks.append(circle_task(scenario, catalogue, district, circles, c, demand_rows[c], site_rows[c]))
    timings["split"] = time.perf_counter() - t
    own = executor is None
    ex = executor if executor is not None else executor_for(scheduler, len(tasks))
    try:
        t = time.perf_counter()
        prepared = ex.run([Task(k.circle, prepare_circle, (k, backend)) for k in tasks], keep=True,
                          label="preparing life circles", progress=progress)
        raise_failures(prepared, "preparing the life circles")
        handles: list[Shared] = [r.value for r in prepared]
        infos_res = ex.run([Task(k.circle, circle_info, (h,)) for k, h in zip(tasks, handles, strict=True)],
                           label="summarising life circles", progress=progress)
        raise_failures(infos_res, "summarising the life circles")
        infos: tuple[CircleInfo, ...] = tuple(r.value for r in infos_res)
        timings["prepare"] = time.perf_counter() - t
        t = time.perf_counter()
        active = [i for i, info in enumerate(infos) if info.n_sites > 0]
        for info in infos:
            if info.n_sites == 0:
                notes.append(f"life circle {info.circle} has no candidate sites; its residents keep the coverage "
                             f"of existing facilities")
        search = _Search(budget, [handles[i] for i in active], [tasks[i].circle for i in active], ex, progress)
        if active:
            search_price(search, forced_cost=forced_cost, gap=city.pricing.gap, max_rounds=city.pricing.max_rounds)
        chosen, value = search.plan() if active else ([], 0.0)
        bound = float(search.bound) if active else 0.0
        timings["price_search"] = time.perf_counter() - t
        t = time.perf_counter()
        n_services = len(catalogue.services)
        pick = {i: s for i, s in zip(active, chosen, strict=True)}
        described = ex.run([Task(k.circle, describe_circle,
                                 (h, pick[i].hosts, pick[i].price) if i in pick
                                 else (h, np.zeros((infos[i].n_sites, n_services), dtype=bool), float("nan")))
                            for i, (k, h) in enumerate(zip(tasks, handles, strict=True))],
                           label="writing up the circles' plans", progress=progress)
        raise_failures(described, "describing the circles' plans")
        plans: tuple[CirclePlan, ...] = tuple(r.value for r in described)
        timings["describe"] = time.perf_counter() - t
    finally:
        if own:
            ex.close()
    cost = float(sum(p.cost for p in plans))
    gap = relative_gap(value, bound) if active else 0.0
    if active and len(search.rounds) >= city.pricing.max_rounds and gap > city.pricing.gap:
        notes.append(f"the price search stopped after {city.pricing.max_rounds} rounds (pricing.max_rounds) at a gap "
                     f"of {100 * gap:.2f} %; raise pricing.max_rounds for a closer plan")
    status = Status.OPTIMAL if gap <= max(scenario.solver.mip_gap, 1e-9) else Status.FEASIBLE
    return BatchResult(city, district, catalogue, circles, infos, plans, tuple(search.rounds), value, bound, gap,
                       status, budget, cost, ex.describe(), timings, tuple(notes))


__all__ = ["BatchResult", "PriceRound", "best_combination", "raise_failures", "run_batch", "search_price"]

