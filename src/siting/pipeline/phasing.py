"""The phases of a scenario as the model's arrays, every reference checked against the data.

:func:`phase_rules` turns ``phases:``, ``pilots:`` and ``requirements.not_before`` into a
:class:`~siting.model.phases.PhaseRules`; :func:`phase_problems` lists every mistake at once
(a site id not in the ledger, a pilot that is forced out or cannot be afforded in the first
phase, a pilot not allowed in the first phase), naming the file, the field and the fix. The
preparation of a scenario runs these checks (:func:`siting.pipeline.prepare`), so that
``siting validate`` finds them before any solve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from siting.data.district import District
from siting.data.phases import phase_budgets, phase_weights
from siting.data.scenario import Scenario
from siting.errors import InfeasibleError, ScenarioError, SitingError, raise_problems
from siting.model.rules import PlanningRules

if TYPE_CHECKING:  # the phased model is imported by the scenarios that have phases
    from siting.model.phases import PhaseRules


def _site_index(scenario: Scenario, district: District, field: str, ids: list[str],
                problems: list[SitingError]) -> np.ndarray:
    """Positions of site ids in the ledger; unknown ids become problems."""
    index = {str(sid): j for j, sid in enumerate(district.sites.ids)}
    origin = str(scenario.source or scenario.name)
    out = []
    for sid in ids:
        if sid not in index:
            problems.append(ScenarioError(f"{origin}, field '{field}': site id '{sid}' is not in "
                                          f"{scenario.data.path('sites')}; use an id of the idle-asset ledger"))
        else:
            out.append(index[sid])
    return np.array(out, dtype=np.int64)


def phase_problems(scenario: Scenario, district: District, rules: PlanningRules | None) -> tuple[
        PhaseRules | None, list[SitingError]]:
    """The scenario's phases as arrays, and every problem with them (see the module docstring)."""
    phases = scenario.phases
    if not phases:
        return None, []
    from siting.model.phases import PhaseRules

    origin = str(scenario.source or scenario.name)
    problems: list[SitingError] = []
    m = len(district.sites)
    names = tuple(p.name for p in phases)
    first = np.zeros(m, dtype=np.int64)
    later = list(scenario.requirements.not_before.items())
    at = _site_index(scenario, district, "requirements.not_before", [s for s, _p in later], problems)
    known = [(s, p) for s, p in later if str(s) in {str(v) for v in district.sites.ids}]
    first[at] = [names.index(p) for _s, p in known]
    pilot = np.zeros(m, dtype=bool)
    pilot[_site_index(scenario, district, "pilots", list(scenario.pilots), problems)] = True
    budgets = np.array(phase_budgets(phases, scenario.budget))
    for j in np.flatnonzero(pilot & (first > 0)):
        problems.append(InfeasibleError(f"{origin}: site '{district.sites.ids[j]}' is a pilot (first phase) but "
                                        f"requirements.not_before puts it in phase '{names[first[j]]}'; keep one"))
    if rules is not None:
        for j in np.flatnonzero(pilot & rules.force_out):
            problems.append(InfeasibleError(f"{origin}: site '{district.sites.ids[j]}' is both a pilot and in "
                                            f"requirements.force_out; keep it in one of them"))
        cost = float(district.sites.retrofit_cost[pilot].sum())
        if cost > budgets[0] * (1 + 1e-9) + 1e-6:
            problems.append(InfeasibleError(
                f"{origin}, field 'pilots': converting the pilot sites costs {cost:,.0f} yuan, more than the first "
                f"phase's {budgets[0]:,.0f} yuan ('{names[0]}'); give the first phase more money or fewer pilots"))
    rules_of = PhaseRules(names, budgets, np.array([p.carry_over for p in phases], dtype=bool),
                          np.array(phase_weights(phases, scenario.objective.discount_rate)),
                          np.array([p.min_conversions for p in phases], dtype=np.int64),
                          np.array([-1 if p.max_conversions is None else p.max_conversions for p in phases],
                                   dtype=np.int64), first, pilot)
    return rules_of, problems


def phase_rules(scenario: Scenario, district: District, rules: PlanningRules | None = None) -> PhaseRules:
    """The scenario's phases as arrays (one phase with the whole budget when it gives none).

    Raises
    ------
    SitingError
        Every problem of :func:`phase_problems`, listed at once.
    """
    phases, problems = phase_problems(scenario, district, rules)
    raise_problems(problems)
    if phases is not None:
        return phases
    from siting.model.phases import PhaseRules

    return PhaseRules.single(scenario.budget, len(district.sites))


__all__ = ["phase_problems", "phase_rules"]
