"""Variants of one scenario (budgets, weights, walking limits...) solved as independent tasks.

A :class:`Variant` is a name and a few overrides of scenario fields, written as dotted paths
(``budget``, ``weights.age_groups.elderly``, ``walking.detour``) or as nested mappings, applied
by :func:`siting.data.overrides.apply_overrides` (the one way to change a scenario).
:func:`solve_variants` runs them through the execution layer (:mod:`siting.execution`): in
this process, in local worker processes, or on a Dask cluster, with identical plans.

Variants that only change what the solver is asked (``budget``, ``weights``,
``requirements``, ``solver``, names) share one preparation: the walking distances and
coverage are computed once, here, and sent to the workers once. Any other override
(``walking``, ``data``, ``services``, ``catalogue``) makes the variant prepare its own data
on its worker, reading the data files by path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from siting.data.overrides import apply_overrides, nested_overrides
from siting.data.scenario import Scenario
from siting.errors import ScenarioError
from siting.execution import (
    Executor,
    ProgressCallback,
    ResultCallback,
    Shared,
    Task,
    TaskResult,
    executor_for,
)
from siting.pipeline import Prepared, check_requirements, planning_rules, prepare, run_scenario, solve_prepared
from siting.pipeline.plan import Plan

RULES_FIELDS = frozenset({"name", "title", "description", "budget", "weights", "requirements", "solver"})
"""Top-level scenario fields a variant may change and still share the base scenario's preparation."""


@dataclass(frozen=True)
class Variant:
    """One variant of a scenario.

    Attributes
    ----------
    name
        Unique, readable name (``budget=20000000``).
    overrides
        Scenario fields to change: dotted paths or nested mappings to new values.
    """

    name: str
    overrides: Mapping[str, Any] = field(default_factory=dict)


def shares_preparation(overrides: Mapping[str, Any]) -> bool:
    """True when the overrides leave walking distances and coverage unchanged."""
    return set(nested_overrides(overrides)) <= RULES_FIELDS


def solve_with_rules(prepared: Prepared, scenario: Scenario, backend: str | None = None) -> Plan:
    """Solve a variant that shares the base scenario's preparation (a task function).

    Parameters
    ----------
    prepared
        The base scenario's walking distances and coverage.
    scenario
        The variant's scenario (its budget, weights, requirements and solver options are used).
    backend
        Solver backend overriding the scenario's.
    """
    rules = planning_rules(scenario, prepared.catalogue, prepared.district)
    check_requirements(scenario, prepared.catalogue, prepared.district, rules)
    return solve_prepared(dataclasses.replace(prepared, scenario=scenario, rules=rules), backend=backend)


def solve_scenario(scenario: Scenario, backend: str | None = None) -> Plan:
    """Prepare and solve a scenario from its files (a task function for variants that change the data)."""
    return run_scenario(scenario, backend=backend).plan


def variant_tasks(scenario: Scenario, variants: Sequence[Variant], shared: Shared | None,
                  backend: str | None = None) -> list[Task]:
    """The tasks of a list of variants (``shared``: the base preparation, for variants that share it)."""
    tasks = []
    for v in variants:
        sc = apply_overrides(scenario, v.overrides, label=f"variant '{v.name}'")
        if shares_preparation(v.overrides) and shared is not None:
            tasks.append(Task(v.name, solve_with_rules, (shared, sc, backend)))
        else:
            tasks.append(Task(v.name, solve_scenario, (sc, backend)))
    return tasks


def solve_variants(scenario: Scenario, variants: Sequence[Variant], *, scheduler: str | None = None,
                   executor: Executor | None = None, backend: str | None = None,
                   progress: ProgressCallback | None = None, on_result: ResultCallback | None = None,
                   timeout_s: float | None = None) -> list[TaskResult]:
    """Solve variants of one scenario as independent tasks; plans come back in variant order.

    Parameters
    ----------
    scenario
        The base scenario.
    variants
        Names and overrides (see :class:`Variant`); names must be unique.
    scheduler
        Where to run (see :mod:`siting.execution`); ignored when ``executor`` is given.
    executor
        An open executor to reuse (its cluster stays open after the call).
    backend
        Solver backend overriding the scenarios'.
    progress, on_result, timeout_s
        See :meth:`siting.execution.Executor.run`.

    Returns
    -------
    list of TaskResult
        One per variant, in order: ``value`` is the variant's :class:`~siting.pipeline.plan.Plan`, or
        ``error`` says why it has none (an infeasible budget, for instance).

    Raises
    ------
    ScenarioError
        When a variant's overrides are not valid scenario fields, or two variants share a name
        (before anything is solved).
    SitingError
        When the base scenario cannot be prepared.
    """
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ScenarioError(f"{scenario.source or scenario.name}: two variants are named '{dup}'; "
                            f"give each variant its own name")
    for v in variants:  # every override checked before any work starts
        apply_overrides(scenario, v.overrides, label=f"variant '{v.name}'")
    need_base = any(shares_preparation(v.overrides) for v in variants)
    prepared = prepare(scenario) if need_base else None
    own = executor is None
    ex = executor if executor is not None else executor_for(scheduler, len(variants))
    try:
        shared = ex.share(prepared) if prepared is not None else None
        tasks = variant_tasks(scenario, variants, shared, backend)
        return ex.run(tasks, label=f"{scenario.name}: {len(tasks)} variants", progress=progress,
                      on_result=on_result, timeout_s=timeout_s)
    finally:
        if own:
            ex.close()


__all__ = ["RULES_FIELDS", "Variant", "shares_preparation",
           "solve_scenario", "solve_variants", "solve_with_rules", "variant_tasks"]
