"""The tasks of a "1+6+N" city in phases, one life circle each, for :mod:`siting.execution`.

Each circle is a scenario of its own (the city file with the circle's money per phase, theme
weights, required services, first phase and pilots, made through
:func:`siting.data.overrides.apply_overrides`), planned like ``siting run`` plans a scenario in
phases, in tasks that phases × circles go through:

1. :func:`prepare_phased_circle` — walking, coverage and the single-moment model (kept on
   the worker that made it);
2. :func:`myopic_circle_phase` — phase ``t`` of the myopic plan, given the phases before: one
   round of tasks per phase, every circle in parallel;
3. :func:`finish_phased_circle` — the joint plan, warm-started with the myopic one, and both
   read as plans and tables (schedule, coverage and compliance per phase, shares per building).

Every function is module-level with plain, picklable arguments and results.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from siting.city.circle import CircleTask, _network, needs_covered
from siting.model.phases import PhasedProblem, PhaseRules
from siting.optimizer.phases import myopic_solution, myopic_step
from siting.pipeline import Prepared, prepare_district, solver_options
from siting.pipeline.phased import PhasedPlan, conclude_phased, phased_problem
from siting.pipeline.schedule import phase_compliance_table, phase_coverage_table, schedule_table
from siting.solvers import SolveResult


@dataclass(frozen=True)
class CircleSetup:
    """What the driver decided for one circle.

    Attributes
    ----------
    circle
        The circle's name.
    theme, theme_label
        Its theme's key and bilingual label (``""`` without a theme).
    pilot
        Done in the first phase.
    first_phase
        The first phase (index) its sites may be converted in.
    money
        Its money per phase, yuan.
    residents
        Its residents.
    notes
        What a planner should know about it (theme services it cannot have...).
    """

    circle: str
    theme: str
    theme_label: str
    pilot: bool
    first_phase: int
    money: np.ndarray
    residents: float = 0.0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhasedCircle:
    """A prepared circle: its scenario prepared, the model of one moment, its phases."""

    setup: CircleSetup
    prepared: Prepared
    problem: PhasedProblem
    phases: PhaseRules
    backend: str


@dataclass(frozen=True)
class MyopicStep:
    """One phase of a circle's myopic plan: the columns of the phases so far (``None``: no plan), the figures."""

    circle: str
    phase: int
    solution: np.ndarray | None
    result: SolveResult
    notes: list[str]
    seconds: float


@dataclass(frozen=True)
class CirclePhased:
    """One circle's plans in phases and their tables.

    Attributes
    ----------
    setup
        The circle's theme, money and phase.
    joint, myopic
        The joint plan and the myopic one (``None`` when that planner found none).
    tables
        ``schedule``, ``schedule_myopic``, ``phase_coverage``, ``phase_coverage_myopic``,
        ``phase_compliance`` (each with a ``circle`` column).
    site_ids
        The circle's site ids (rows of the schedules' arrays).
    shares
        Per phase (and ``before``), per residential building of the circle, the share of its
        residents' service needs within reach.
    demand_ids
        The circle's buildings (rows of ``shares``).
    notes
        What a planner should know.
    """

    setup: CircleSetup
    joint: PhasedPlan
    myopic: PhasedPlan | None
    tables: dict[str, pd.DataFrame]
    site_ids: np.ndarray
    shares: dict[str, np.ndarray]
    demand_ids: np.ndarray
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def circle(self) -> str:
        """The circle's name."""
        return self.setup.circle


def prepare_phased_circle(task: CircleTask, setup: CircleSetup, backend: str) -> PhasedCircle:
    """Walking distances, coverage and the single-moment model of one circle (a task function)."""
    scenario, catalogue, district = task.scenario, task.catalogue, task.district
    network = None
    files = scenario.data.network
    if scenario.walking.mode == "network" and files is not None:
        network = _network(files, scenario.data.crs, scenario.data.coordinates, district.crs)
    prepared = prepare_district(scenario, catalogue, district, network=network, straight_line_comparison=False)
    phases = prepared.phases
    assert phases is not None, "a circle's scenario always gives phases"
    return PhasedCircle(setup, prepared, phased_problem(prepared, phases), phases, backend)


def myopic_circle_phase(circle: PhasedCircle, t: int, done: np.ndarray | None) -> MyopicStep:
    """Phase ``t`` of the circle's myopic plan (a task function); the circle's time limit is shared by its phases."""
    t0 = time.perf_counter()
    options = dataclasses.replace(solver_options(circle.prepared.scenario), isolate=False)
    sol, result, notes = myopic_step(circle.problem, circle.phases, t, done, backend=circle.backend,
                                     options=options, time_limit_s=options.time_limit_s / circle.phases.n_phases)
    return MyopicStep(circle.setup.circle, t, sol, result, notes, time.perf_counter() - t0)


def finish_phased_circle(circle: PhasedCircle, steps: list[MyopicStep]) -> CirclePhased:
    """The circle's joint plan, warm-started with its myopic plan, and both as tables (a task function).

    Raises
    ------
    SitingError
        When the circle's requirements cannot hold in its phases (the batch names the circle).
    """
    p, phases = circle.prepared, circle.phases
    short = myopic_solution(circle.problem, phases, [(s.solution, s.result, s.notes) for s in steps],
                            sum(s.seconds for s in steps))
    outcome = conclude_phased(p, phases, circle.problem, short, backend=circle.backend)
    name = circle.setup.circle
    joint, myopic = outcome.joint, outcome.myopic
    d, cov, cat, rules = p.district, p.coverage, p.catalogue, p.rules
    tables = {"schedule": schedule_table(d, cov, cat, rules, joint, circle=name),
              "phase_coverage": phase_coverage_table(joint, circle=name),
              "phase_compliance": phase_compliance_table(d, cov, cat, joint, circle=name)}
    if myopic is not None:
        tables["schedule_myopic"] = schedule_table(d, cov, cat, rules, myopic, circle=name)
        tables["phase_coverage_myopic"] = phase_coverage_table(myopic, circle=name)
    shares = {"before": needs_covered(cov, None)}
    for t, phase in enumerate(phases.names):
        shares[phase] = needs_covered(cov, joint.schedule.hosts(t))
    notes = (*circle.setup.notes, *(f"life circle {name}: {n}" for n in (*outcome.notes, *joint.notes)))
    return CirclePhased(circle.setup, joint, myopic, tables, np.asarray(d.sites.ids).astype(str), shares,
                        np.asarray(d.demand.ids).astype(str), notes)


__all__ = ["CirclePhased", "CircleSetup", "MyopicStep", "PhasedCircle", "finish_phased_circle",
           "myopic_circle_phase", "prepare_phased_circle"]
