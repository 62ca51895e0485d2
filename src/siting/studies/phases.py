"""A scenario planned in phases, against the short-sighted plan.

:func:`run_phased` prepares the scenario once, solves the myopic plan (each phase optimised on
its own, in order) and the joint plan over every phase (:func:`siting.pipeline.phased.solve_phased`),
and :func:`phase_gains` says how much the joint plan gains over the myopic one: each stage's
value over time, and the coverage-years residents enjoy — residents × services within reach,
each phase counted for its years (discounted) — in all and per age band.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from siting.data.scenario import Scenario
from siting.pipeline import Prepared, RunResult, prepare
from siting.pipeline.phased import PhasedPlan, solve_phased
from siting.pipeline.plan import Plan
from siting.pipeline.schedule import coverage_years_by_group


@dataclass(frozen=True)
class PhasedRun:
    """A scenario solved in phases.

    Attributes
    ----------
    prepared
        The prepared scenario.
    joint
        The plan over every phase at once.
    myopic
        The plan made phase by phase (``None`` when that planner found none).
    notes
        What a planner should know.
    """

    prepared: Prepared
    joint: PhasedPlan
    myopic: PhasedPlan | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def scenario(self) -> Scenario:
        """The scenario that was run."""
        return self.prepared.scenario

    @property
    def plan(self) -> Plan:
        """The joint plan at the end of the last phase (``plan.csv``, ``coverage.csv``...)."""
        return self.joint.final

    def run_result(self) -> RunResult:
        """The final plan as a single run's result, for the outputs every run writes."""
        return RunResult(self.prepared, self.plan)


def _relative(gain: float, base: float) -> float | None:
    return gain / abs(base) if abs(base) > 1e-12 else None


def phase_gains(joint: PhasedPlan, myopic: PhasedPlan | None) -> dict[str, Any]:
    """What the joint plan gains over the myopic one (``{}`` without a myopic plan).

    Returns
    -------
    dict
        ``stages``: per stage, both values over time, the gain and the gain relative to the
        myopic value; ``coverage_years``: residents × services × years within reach, both
        plans, gain and relative gain, and the same per age band (``by_age_group``).
    """
    if myopic is None:
        return {}
    stages = []
    mine = myopic.totals()
    for name, value in joint.totals().items():
        other = mine.get(name, float("nan"))
        stages.append({"stage": name, "joint": value, "myopic": other, "gain": value - other,
                       "relative_gain": _relative(value - other, other)})
    years_j, years_m = float(joint.coverage_years.sum()), float(myopic.coverage_years.sum())
    by_j, by_m = coverage_years_by_group(joint), coverage_years_by_group(myopic)
    by_group = [{"age_group": str(g), "joint": float(by_j[g]), "myopic": float(by_m[g]),
                 "gain": float(by_j[g] - by_m[g]), "relative_gain": _relative(float(by_j[g] - by_m[g]),
                                                                               float(by_m[g]))}
                for g in by_j.index]
    return {"stages": stages,
            "coverage_years": {"joint": years_j, "myopic": years_m, "gain": years_j - years_m,
                               "relative_gain": _relative(years_j - years_m, years_m), "by_age_group": by_group}}


def run_phased(scenario: Scenario, *, backend: str | None = None,
               progress: Callable[[str], None] | None = None) -> PhasedRun:
    """Prepare a scenario and plan it in phases, jointly and myopically (module docstring)."""
    say = progress or (lambda _line: None)
    say("preparing the district")
    prepared = prepare(scenario)
    n = len(scenario.phases or ()) or 1
    say(f"planning {n} phase(s): the myopic plan, then the joint plan")
    outcome = solve_phased(prepared, backend=backend)
    return PhasedRun(prepared, outcome.joint, outcome.myopic, outcome.notes)


__all__ = ["PhasedRun", "phase_gains", "run_phased"]
