"""A "1+6+N" city in phases: themed circles, each with its own money, planned side by side.

:func:`run_phased_city` loads what a city file says (:mod:`siting.city.files`), splits the city
into life circles, decides each circle's theme, money per phase, first phase and pilots
(:mod:`siting.city.themes`), writes each circle's scenario through the one override mechanism
(:func:`siting.data.overrides.apply_overrides`), and hands the circles to the execution layer
(:mod:`siting.city.phased_circle`): one round to prepare them, one round per phase for the
myopic plan, one round for the joint plans. Circles plan with their own money, so the city's
plan is the circles' plans together: its objective and bound are their sums (the stages
decompose: each circle's lexicographic optimum is the city's), its status the worst of theirs.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from siting.city.batch import raise_failures
from siting.city.circle import circle_task
from siting.city.files import Circles, City, split_city
from siting.city.phased_circle import (
    CirclePhased,
    CircleSetup,
    finish_phased_circle,
    myopic_circle_phase,
    prepare_phased_circle,
)
from siting.city.themes import Theme, circle_money, money_problems, resolve_theme
from siting.coverage import able_hosts
from siting.data.catalogue import Catalogue
from siting.data.district import District, load_district
from siting.data.overrides import apply_overrides
from siting.data.phases import Phase, phase_budgets, phase_weights
from siting.errors import ScenarioError, SitingError, ValidationErrors
from siting.execution import Executor, ProgressCallback, Shared, Task, executor_for
from siting.model.rules import PlanningRules, SiteData, pair_costs
from siting.optimizer.phases import worse
from siting.pipeline import catalogue_for, planning_rules
from siting.solvers import Status, get_backend
from siting.solvers.base import relative_gap


@dataclass(frozen=True)
class PhasedCityResult:
    """A city planned in phases, circle by circle.

    Attributes
    ----------
    city, district, catalogue, circles
        The city file, its data, services and age groups, its split into life circles.
    phase_names, phase_budgets, phase_weights
        The city's phases, their money and coverage-years weights.
    plans
        Per circle with residents and money: its plans and tables.
    objective, bound, gap, status
        The main stage over time summed over the circles, the sum of their bounds, the gap
        between them and the worst status.
    executor
        Where the tasks ran.
    timings, notes
        Seconds per step; what a planner should know.
    """

    city: City
    district: District
    catalogue: Catalogue
    circles: Circles
    phase_names: tuple[str, ...]
    phase_budgets: np.ndarray
    phase_weights: np.ndarray
    plans: tuple[CirclePhased, ...]
    objective: float
    bound: float
    gap: float
    status: Status
    executor: str
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The city's name."""
        return self.city.scenario.name


def city_phases(city: City) -> list[Phase]:
    """The city's phases (one phase ``all`` with the whole budget when the file gives none).

    Raises
    ------
    ScenarioError
        For conversions per phase, which apply to a scenario, not to a city's circles together.
    """
    phases = list(city.scenario.phases or [Phase(name="all", share=1.0)])
    limited = [p.name for p in phases if p.min_conversions or p.max_conversions is not None]
    if limited:
        raise ScenarioError(f"{city.source}, field 'phases': min_conversions / max_conversions of phase(s) {limited} "
                            f"apply to one scenario, not to a city's circles together; remove them (pilots and "
                            f"circles.settings.<circle>.phase order the circles)")
    return phases


def _setups(city: City, district: District, catalogue: Catalogue, circles: Circles, phases: list[Phase],
            active_ids: list[str], notes: list[str]) -> tuple[dict[str, CircleSetup], list[str],
                                                              dict[str, Theme | None]]:
    """Each circle's theme, money per phase, first phase and pilot; site pilots; problems raised at once."""
    sc, origin = city.scenario, str(city.source)
    names = [p.name for p in phases]
    settings = city.circles.settings
    problems: list[SitingError] = []
    unknown = sorted(set(settings) - set(circles.ids))
    if unknown:
        problems.append(ScenarioError(f"{origin}, field 'circles.settings': no life circle named {unknown}; the "
                                      f"circles are {list(circles.ids)}"))
    circle_pilots = {str(p) for p in sc.pilots if str(p) in circles.ids}
    site_pilots = [str(p) for p in sc.pilots if str(p) not in circles.ids]
    known_sites = {str(s) for s in district.sites.ids}
    for p in site_pilots:
        if p not in known_sites:
            problems.append(ScenarioError(f"{origin}, field 'pilots': '{p}' is neither a life circle "
                                          f"({', '.join(circles.ids)}) nor a site id of the ledger"))
    C, T = len(active_ids), len(phases)
    active = np.zeros((C, T), dtype=bool)
    own, share = np.full(C, np.nan), np.full(C, np.nan)
    themes: dict[str, Theme | None] = {}
    first = np.zeros(C, dtype=np.int64)
    pilots = np.zeros(C, dtype=bool)
    for c, cid in enumerate(active_ids):
        s = settings.get(cid)
        pilot = pilots[c] = cid in circle_pilots or (s is not None and s.pilot)
        if s is not None and s.phase is not None:
            if s.phase not in names:
                problems.append(ScenarioError(f"{origin}, field 'circles.settings.{cid}.phase': '{s.phase}' is not "
                                              f"among the phases {names}"))
            else:
                first[c] = names.index(s.phase)
        if pilot and first[c] > 0:
            problems.append(ScenarioError(f"{origin}: life circle {cid} is a pilot (first phase) but its phase is "
                                          f"'{names[first[c]]}'; keep one"))
        active[c, first[c]:] = True
        if pilot:
            active[c, 1:] = False
        if s is not None:
            own[c] = s.budget if s.budget is not None else np.nan
            share[c] = s.budget_share if s.budget_share is not None else np.nan
        try:
            themes[cid] = resolve_theme(s.theme, city.themes, origin, cid) if s is not None and s.theme else None
        except SitingError as e:
            problems.append(e)
    if problems:
        raise ValidationErrors(problems) if len(problems) > 1 else problems[0]
    budgets = np.array(phase_budgets(phases, sc.budget))
    demand_rows = circles.members("demand")
    index = {cid: i for i, cid in enumerate(circles.ids)}
    residents = np.array([float(district.demand.population[demand_rows[index[cid]]].sum()) for cid in active_ids])
    money, unallocated = circle_money(budgets, active, own, share, residents,
                                      np.array([p.carry_over for p in phases], dtype=bool))
    fixed = np.isfinite(own) | np.isfinite(share)
    over = money_problems(names, budgets, money, fixed, origin)
    if over:
        raise ScenarioError("\n".join(over)) if len(over) == 1 else ValidationErrors(over)
    if unallocated > 0.5:
        notes.append(f"{unallocated:,.0f} yuan of the city's money go to no circle: no circle without a budget of its "
                     f"own is active when it comes (and it cannot carry over); give more circles a share of it")
    setups = {}
    for c, cid in enumerate(active_ids):
        th = themes[cid]
        setups[cid] = CircleSetup(cid, th.key if th else "", th.label if th else "", bool(pilots[c]), int(first[c]),
                                  money[c], float(residents[c]))
    return setups, site_pilots, themes


def _circle_overrides(city: City, catalogue: Catalogue, district: District, rules: PlanningRules,
                      setup: CircleSetup, theme: Theme | None, phases: list[Phase],
                      site_pilots: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The circle's scenario as overrides of the city's: its phases and money, theme, first phase, pilots."""
    sc = city.scenario
    notes: list[str] = []
    site_ids = [str(sid) for sid in district.sites.ids]
    rows = [{"name": p.name, "budget": float(setup.money[t]), "years": p.years, "carry_over": p.carry_over,
             "min_conversions": 1 if setup.pilot and t == 0 else 0,
             "max_conversions": 0 if (setup.pilot and t > 0) else None} for t, p in enumerate(phases)]
    weights = dict(sc.weights.services)
    min_sites = dict(sc.requirements.min_sites)
    in_play = set(catalogue.service_keys)
    if theme is not None:
        for s, w in theme.weights.items():
            if s in in_play:
                weights[s] = float(w)
            else:
                notes.append(f"life circle {setup.circle}: theme {theme.label} weighs {s}, which is not in play; "
                             f"ignored")
        able = able_hosts(district, catalogue)
        cost = district.sites.retrofit_cost[:, None] + pair_costs(SiteData.of(district.sites), rules)
        money = float(setup.money.sum())
        for s in theme.required:
            if s not in in_play:
                notes.append(f"life circle {setup.circle}: theme {theme.label} requires {s}, which is not in play; "
                             f"ignored")
                continue
            k = catalogue.service_keys.index(s)
            if not able[:, k].any():
                notes.append(f"life circle {setup.circle}: theme {theme.label} requires {s}, but no site of the "
                             f"circle may host it (ledger column 'allowed', floor area); planned without it")
            elif float(cost[able[:, k], k].min()) > money:
                notes.append(f"life circle {setup.circle}: theme {theme.label} requires {s}, but its cheapest site "
                             f"costs {float(cost[able[:, k], k].min()):,.0f} yuan, more than the circle's "
                             f"{money:,.0f}; planned without it")
            else:
                min_sites[s] = max(1, int(min_sites.get(s, 0)))
    ids = set(site_ids)
    not_before = {k: v for k, v in sc.requirements.not_before.items() if k in ids}
    if setup.first_phase > 0:
        later = phases[setup.first_phase].name
        for sid in site_ids:
            if sid not in not_before or [p.name for p in phases].index(not_before[sid]) < setup.first_phase:
                not_before[sid] = later
    overrides = {"budget": float(setup.money.sum()), "phases": rows,
                 "weights": {"services": weights}, "requirements": {"min_sites": min_sites,
                                                                     "not_before": not_before},
                 "pilots": [p for p in site_pilots if p in ids]}
    return overrides, notes


def run_phased_city(city: City, *, scheduler: str | None = None, executor: Executor | None = None,
                    backend: str | None = None, progress: ProgressCallback | None = None) -> PhasedCityResult:
    """Plan a "1+6+N" city in phases (module docstring).

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
    rules = planning_rules(scenario, catalogue, district)  # every key and site id checked city-wide
    phases = city_phases(city)
    circles = split_city(district, city.circles, city.source)
    notes = list(circles.notes)
    demand_rows, site_rows = circles.members("demand"), circles.members("sites")
    active_ids = [cid for c, cid in enumerate(circles.ids) if demand_rows[c].size]
    notes += [f"life circle {cid} has no residential buildings; its {site_rows[c].size} site(s) are not used"
              for c, cid in enumerate(circles.ids) if demand_rows[c].size == 0]
    setups, site_pilots, themes = _setups(city, district, catalogue, circles, phases, active_ids, notes)
    tasks, keys = [], []
    for c, cid in enumerate(circles.ids):
        if cid not in setups:
            continue
        setup = setups[cid]
        if setup.money.sum() <= 0:
            notes.append(f"life circle {cid} gets no money in any phase; its residents keep what exists")
            continue
        base = circle_task(scenario, catalogue, district, circles, c, demand_rows[c], site_rows[c])
        overrides, extra = _circle_overrides(city, catalogue, base.district, rules, setup, themes[cid], phases,
                                             site_pilots)
        local = apply_overrides(base.scenario, overrides, label=f"life circle {cid}")
        tasks.append((dataclasses.replace(base, scenario=local), dataclasses.replace(setup, notes=tuple(extra))))
        keys.append(cid)
    timings["split"] = time.perf_counter() - t
    own = executor is None
    ex = executor if executor is not None else executor_for(scheduler, len(tasks))
    try:
        t = time.perf_counter()
        prepared = ex.run([Task(k, prepare_phased_circle, (task, setup, backend))
                           for k, (task, setup) in zip(keys, tasks, strict=True)], keep=True,
                          label="preparing the life circles", progress=progress)
        raise_failures(prepared, "preparing the life circles")
        handles: list[Shared] = [r.value for r in prepared]
        timings["prepare"] = time.perf_counter() - t
        t = time.perf_counter()
        steps: list[list[Any]] = [[] for _ in keys]
        for p, phase in enumerate(phases):  # one round per phase, the circles in parallel
            todo = [i for i in range(len(keys)) if p == 0 or steps[i][-1].solution is not None]
            results = ex.run([Task(keys[i], myopic_circle_phase, (handles[i], p,
                                                                  steps[i][-1].solution if p else None))
                              for i in todo], label=f"myopic plan, phase {phase.name}", progress=progress)
            raise_failures(results, f"the myopic plan's phase {phase.name}")
            for i, r in zip(todo, results, strict=True):
                steps[i].append(r.value)
        timings["myopic"] = time.perf_counter() - t
        t = time.perf_counter()
        finished = ex.run([Task(k, finish_phased_circle, (h, s)) for k, h, s in zip(keys, handles, steps,
                                                                                     strict=True)],
                          label="joint plans of the life circles", progress=progress)
        raise_failures(finished, "the joint plans of the life circles")
        plans: tuple[CirclePhased, ...] = tuple(r.value for r in finished)
        timings["joint"] = time.perf_counter() - t
    finally:
        if own:
            ex.close()
    objective = float(sum(p.joint.objective for p in plans))
    bound = float(sum(p.joint.bound for p in plans))
    status = Status.OPTIMAL
    for plan in plans:
        status = worse(status, plan.joint.status)
        notes += list(plan.notes)
    return PhasedCityResult(city, district, catalogue, circles, tuple(ph.name for ph in phases),
                            np.array(phase_budgets(phases, scenario.budget)),
                            np.array(phase_weights(phases, scenario.objective.discount_rate)), plans, objective, bound,
                            relative_gap(objective, bound) if plans else 0.0, status, ex.describe(), timings,
                            tuple(dict.fromkeys(notes)))


__all__ = ["PhasedCityResult", "city_phases", "run_phased_city"]
