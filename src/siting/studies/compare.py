"""Scenarios side by side: what each plan costs and covers, and how the plans differ.

:func:`compare_plans` reads finished plans (it never solves): a table with one column per
scenario (status, objective, bound, gap, budget, cost, budget used, sites used, coverage per
age group and per service) and, for every pair of scenarios, the sites and options in one
plan and not the other with their Jaccard similarity (shared / either; 1 means the same sites).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from siting.data.catalogue import Catalogue
from siting.pipeline.plan import OBJECTIVE_LABEL, OBJECTIVE_UNIT
from siting.studies.resolve import SolveOutcome


@dataclass(frozen=True)
class ComparedPlan:
    """One scenario of a comparison: its name, title, catalogue and solve result."""

    name: str
    title: str
    catalogue: Catalogue
    result: SolveOutcome


@dataclass(frozen=True)
class Comparison:
    """Scenarios side by side.

    Attributes
    ----------
    names
        Scenario names, in the order given (made unique).
    table
        Long table: ``section``, ``metric``, ``unit``, then one column per scenario.
    differences
        One row per pair of scenarios: sites only in each, shared, Jaccard similarity of the
        sites converted and of the (site, service) options.
    plans
        The compared plans.
    """

    names: tuple[str, ...]
    table: pd.DataFrame
    differences: pd.DataFrame
    plans: tuple[ComparedPlan, ...]


def jaccard(a: set[str], b: set[str]) -> float:
    """|a ∩ b| / |a ∪ b|; 1.0 for two empty sets."""
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def unique_names(names: Sequence[str]) -> tuple[str, ...]:
    """Names made unique by suffixing ``-2``, ``-3``... to repeats."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return tuple(out)


def _sites(cp: ComparedPlan) -> set[str]:
    plan = cp.result.plan
    return set() if plan is None else set(plan.assignments["site_id"])


def _options(cp: ComparedPlan) -> set[str]:
    plan = cp.result.plan
    return set() if plan is None else {f"{a.site_id}/{a.service}" for a in plan.assignments.itertuples()}


#: The unit of each stage of a lexicographic objective (standards first).
STAGE_UNIT = {"gaps": "community × service gaps closed (weighted)", "basic": "sum of shares",
              "quality": "sum of shares", "coverage": "residents", "walking_time": "person-minutes"}


def _rows(cp: ComparedPlan) -> list[tuple[str, str, str, Any]]:
    plan = cp.result.plan
    rows: list[tuple[str, str, str, Any]] = [("plan", "status 状态", "", cp.result.status.value)]
    if plan is None:
        return rows
    meaning = OBJECTIVE_LABEL.get(plan.objective_kind, plan.objective_kind)
    unit = OBJECTIVE_UNIT.get(plan.objective_kind, "")
    fine = unit in ("share", "sum of shares")
    rows += [
        ("plan", f"objective ({meaning}) 目标值", unit, round(plan.objective, 6 if fine else 2)),
        ("plan", f"proven bound ({'lower' if plan.minimises else 'upper'}) 界", unit,
         round(plan.bound, 6 if fine else 2) if np.isfinite(plan.bound) else None),
        ("plan", "gap 差距", "share", round(plan.gap, 6) if np.isfinite(plan.gap) else None),
        ("plan", "budget 预算", "yuan", round(plan.budget, 2)),
        ("plan", "cost 费用", "yuan", round(plan.cost, 2)),
        ("plan", "budget used 预算使用", "share", round(plan.cost / plan.budget, 6) if plan.budget else None),
        ("plan", "sites converted 改造场所", "sites", plan.sites_used),
        ("plan", "services placed 新增设施", "services", len(plan.assignments)),
    ]
    rows += [("plan", f"stage {s.name} 分阶段目标", STAGE_UNIT.get(s.name, ""),
              round(s.objective, 6) if np.isfinite(s.objective) else None) for s in plan.stages]
    cov = plan.coverage
    by_group = cov.groupby("age_group", sort=False)[["population", "covered_before", "covered_after"]].sum()
    for g, r in by_group.iterrows():
        grp = cp.catalogue.group(str(g))
        label = f"{grp.name_zh} {grp.name_en}"
        rows.append(("age group", f"{label}: covered after", "residents × services", round(float(r.covered_after), 1)))
        rows.append(("age group", f"{label}: share after", "share",
                     round(float(r.covered_after / r.population), 6) if r.population else None))
    by_service = cov.groupby("service", sort=False)[["population", "covered_after"]].sum()
    for s, r in by_service.iterrows():
        rows.append(("service", f"{cp.catalogue.service(str(s)).label}: share after", "share",
                     round(float(r.covered_after / r.population), 6) if r.population else None))
    return rows


def compare_plans(plans: Sequence[ComparedPlan]) -> Comparison:
    """Put finished plans side by side (no solving).

    Parameters
    ----------
    plans
        Two or more scenarios and their results; a scenario without a plan (infeasible)
        shows its status and nothing else.
    """
    names = unique_names([p.name for p in plans])
    table: dict[tuple[str, str, str], dict[str, Any]] = {}
    for name, cp in zip(names, plans, strict=True):
        for section, metric, unit, value in _rows(cp):
            table.setdefault((section, metric, unit), {})[name] = value
    long = pd.DataFrame([{"section": k[0], "metric": k[1], "unit": k[2], **{n: v.get(n) for n in names}}
                         for k, v in table.items()])
    diffs = []
    for (na, a), (nb, b) in combinations(zip(names, plans, strict=True), 2):
        sa, sb = _sites(a), _sites(b)
        oa, ob = _options(a), _options(b)
        diffs.append({
            "scenario_a": na, "scenario_b": nb,
            "sites_only_in_a": ";".join(sorted(sa - sb)), "sites_only_in_b": ";".join(sorted(sb - sa)),
            "sites_in_both": ";".join(sorted(sa & sb)),
            "jaccard_sites": round(jaccard(sa, sb), 6),
            "options_only_in_a": ";".join(sorted(oa - ob)), "options_only_in_b": ";".join(sorted(ob - oa)),
            "jaccard_options": round(jaccard(oa, ob), 6),
        })
    return Comparison(names, long, pd.DataFrame(diffs), tuple(plans))


__all__ = ["ComparedPlan", "Comparison", "compare_plans", "jaccard", "unique_names"]
