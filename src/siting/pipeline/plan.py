"""The plan: which site hosts which service, what it costs, whom it reaches, how sure we are."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from siting.coverage import Coverage
from siting.data.catalogue import Catalogue
from siting.data.district import Sites
from siting.model.covering import weighted_new_coverage
from siting.model.rules import PlanningRules, SiteData, plan_cost
from siting.solvers.base import SolveResult, StageFigures, Status, relative_gap

if TYPE_CHECKING:
    from siting.optimizer.walking import WalkingTimes

#: Objective kinds where a lower value is better.
MINIMISED_KINDS = ("least_cost", "median")
#: Objectives whose value is a share or a sum of shares.
SHARE_KINDS = ("standards", "fairness")

#: What a plan's objective value means, per objective kind.
OBJECTIVE_MEANING = {
    "standards": "basic services first: the sum over the basic services (基础保障型) of the share of each one's own "
                 "target population newly served (within capacity where places are limited), weighted; the quality "
                 "services (品质提升型) are optimised second without lowering it (see stages)",
    "coverage": "weighted residents newly covered by the plan (baseline excluded)",
    "fairness": "the smallest covered share over the age groups (or service x age group pairs)",
    "least_cost": "the plan's cost in yuan (the budget needed to reach the targets)",
    "capacitated": "weighted residents served within each facility's capacity",
    "median": "total weighted walking minutes of every age group to its nearest open facility of each service "
              "(walks beyond the cutoff counted as the cutoff; see walking_time)",
    "standards_phased": "standards first over the phases: the basic stage's value (the sum over the basic services "
                        "of the share of each one's own target population newly served) in each phase, times the "
                        "phase's years (discounted), summed; gaps before it and quality after it likewise (see stages "
                        "and phases)",
    "coverage_phased": "coverage-years: weighted residents newly covered in each phase, times the phase's years "
                       "(discounted), summed over the phases (see phases)",
}

#: A short name of a plan's objective value, per objective kind (table rows).
OBJECTIVE_LABEL = {"standards": "basic services: shares of their target populations newly served",
                   "coverage": "weighted residents newly covered", "fairness": "smallest covered share",
                   "least_cost": "cost of reaching the targets",
                   "capacitated": "weighted residents served within capacity",
                   "median": "weighted walking minutes",
                   "standards_phased": "basic services: share-years of their target populations newly served",
                   "coverage_phased": "weighted coverage-years"}

#: The unit of a plan's objective value, per objective kind.
OBJECTIVE_UNIT = {"standards": "sum of shares", "coverage": "residents", "fairness": "share", "least_cost": "yuan",
                  "capacitated": "residents", "median": "person-minutes", "standards_phased": "sum of share-years",
                  "coverage_phased": "resident-years"}


@dataclass(frozen=True)
class Plan:
    """A retrofit plan and the honest numbers about it.

    Attributes
    ----------
    scenario
        Scenario name.
    hosts
        Boolean (sites × services): site ``j`` hosts service ``s``.
    status
        How the solve ended.
    objective
        What the solver optimised: weighted residents newly covered (``objective_kind``
        ``coverage``), the smallest covered share (``fairness``), the plan's cost in yuan
        (``least_cost``), weighted residents served within capacity (``capacitated``) or
        weighted walking minutes (``median``).
    bound
        Proven bound on that objective: upper, or lower for the minimised kinds (``least_cost``,
        ``median``).
    gap
        Relative gap between objective and bound.
    solver
        Backend and version.
    budget, cost
        Budget and total cost of the plan, yuan.
    assignments
        One row per (site, service) in the plan.
    coverage
        Residents covered before and after, per service × age group.
    timings
        Seconds per stage.
    objective_kind
        Which objective was optimised (the scenario's ``objective.kind``).
    walking_time
        Walking times per service × age group and the figures of each solve stage, for the
        walking-time objectives (``median``, or ``tie_break: walking_time``); else ``None``.
    stages
        The stages of a lexicographic objective (``standards``: basic, then quality), each
        with its status, objective, bound and gap; empty for a single solve.
    """

    scenario: str
    hosts: np.ndarray
    status: Status
    objective: float
    bound: float
    gap: float
    solver: str
    budget: float
    cost: float
    assignments: pd.DataFrame
    coverage: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    message: str = ""
    objective_kind: str = "coverage"
    walking_time: WalkingTimes | None = None
    stages: tuple[StageFigures, ...] = ()

    def stage_value(self, name: str) -> float:
        """The objective of a named stage (``quality``...), ``nan`` when the plan has no such stage."""
        for s in self.stages:
            if s.name == name:
                return s.objective
        return float("nan")

    @property
    def in_shares(self) -> bool:
        """True when the objective is a share or a sum of shares (standards first, fairness), not residents,
        minutes or yuan: shown in percentage points or to four decimals."""
        return self.objective_kind in SHARE_KINDS

    @property
    def minimises(self) -> bool:
        """True when a lower objective is better (``least_cost``, ``median``)."""
        return self.objective_kind in MINIMISED_KINDS

    @property
    def sites_used(self) -> int:
        """Number of sites converted."""
        return int(self.hosts.any(axis=1).sum())


def coverage_table(hosts: np.ndarray, coverage: Coverage, catalogue: Catalogue, *,
                   served: np.ndarray | None = None) -> pd.DataFrame:
    """Residents covered before / after per service × age group.

    ``covered_*`` count residents within the service's reach; with ``served`` (residents newly
    served per pair, within capacity) the table adds ``served_after`` and ``served_share_after``:
    residents covered before plus those the plan's places serve.
    """
    total = coverage.total_population()
    before = coverage.baseline_population()
    after = coverage.covered_population(hosts)
    rows = []
    for p, (s, g) in enumerate(coverage.pairs):
        svc = catalogue.services[s]
        row = {
            "service": svc.key,
            "service_zh": svc.name_zh,
            "category": svc.category,
            "age_group": catalogue.age_groups[g].key,
            "population": round(float(total[p]), 1),
            "covered_before": round(float(before[p]), 1),
            "covered_after": round(float(after[p]), 1),
            "share_before": round(float(before[p] / total[p]) if total[p] > 0 else 0.0, 6),
            "share_after": round(float(after[p] / total[p]) if total[p] > 0 else 0.0, 6),
        }
        if served is not None:
            got = float(before[p] + min(served[p], after[p] - before[p]))
            row["served_after"] = round(got, 1)
            row["served_share_after"] = round(got / total[p] if total[p] > 0 else 0.0, 6)
        rows.append(row)
    return pd.DataFrame(rows)


def assignment_table(hosts: np.ndarray, sites: Sites, catalogue: Catalogue,
                     rules: PlanningRules) -> pd.DataFrame:
    """One row per (site, service): the site's conversion cost (its fixed part shared by floor area used,
    plus the area the service converts at the site's price per m²), the fit-out and their sum."""
    j, s = np.nonzero(hosts)
    area = rules.service_area[s]
    used_at_site = np.bincount(j, weights=area, minlength=len(sites.ids))
    n_at_site = np.bincount(j, minlength=len(sites.ids))
    share = np.where(used_at_site[j] > 0, area / np.maximum(used_at_site[j], 1e-12), 1.0 / n_at_site[j])
    retrofit = sites.retrofit_cost[j] * share + sites.area_cost[j] * area
    fitout = rules.service_fitout[s]
    df = pd.DataFrame({
        "site_id": sites.ids[j].astype(str),
        "site_name": sites.names[j].astype(str),
        "site_kind": sites.kinds[j].astype(str),
        "service": [catalogue.services[k].key for k in s],
        "service_zh": [catalogue.services[k].name_zh for k in s],
        "service_en": [catalogue.services[k].name_en for k in s],
        "floor_area_m2": area.round(1),
        "site_floor_area_m2": sites.floor_area[j].round(1),
        "retrofit_cost": retrofit.round(2),
        "fitout_cost": fitout.round(2),
        "cost": (retrofit + fitout).round(2),
        "x": sites.xy[j, 0].round(2),
        "y": sites.xy[j, 1].round(2),
    })
    return df.sort_values(["site_id", "service"], kind="stable").reset_index(drop=True)


def make_plan(scenario: str, hosts: np.ndarray, result: SolveResult, coverage: Coverage,
              sites: Sites, catalogue: Catalogue, rules: PlanningRules,
              timings: dict[str, float] | None = None, *, objective: float | None = None,
              objective_kind: str = "coverage", walking_time: WalkingTimes | None = None,
              stages: tuple[StageFigures, ...] = (), served: np.ndarray | None = None) -> Plan:
    """Assemble a :class:`Plan` from a solver result.

    For the coverage objective the value reported is recomputed from the coverage matrices,
    so that a plan never claims more than it delivers; other objectives pass their
    ``objective`` value. The solver's bound and gap are kept as proven.
    """
    if objective is None:
        objective = weighted_new_coverage(hosts, coverage, rules)
    return Plan(
        scenario=scenario,
        hosts=hosts,
        status=result.status,
        objective=objective,
        bound=result.bound,
        gap=relative_gap(objective, result.bound) if result.has_solution else float("inf"),
        solver=result.solver,
        budget=rules.budget,
        cost=plan_cost(hosts, SiteData.of(sites), rules),
        assignments=assignment_table(hosts, sites, catalogue, rules),
        coverage=coverage_table(hosts, coverage, catalogue, served=served),
        timings={**(timings or {}), **{f"solver_{k}": v for k, v in result.timings.items()}},
        message=result.message,
        objective_kind=objective_kind,
        walking_time=walking_time,
        stages=stages,
    )
