"""A plan in phases as tables: the schedule, coverage and compliance phase by phase.

:func:`schedule_table` — one row per conversion, in the phase it is done: the site converted
(its retrofit is paid in the phase it is first converted, shared by floor area among the
services it opens then), the service opened, what the row costs, and the residents of each age
band it brings within reach that nothing open before its phase (existing facilities and
earlier phases) reached. Two services opened in the same phase both count a resident they
both reach; the coverage table per phase gives the exact totals. A site converted in a phase
that opens none of its services (its services follow later: a pilot, or money a phase cannot
carry over) is a row of its own with an empty service. The rows of a phase add up to what the
phase spends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from siting.coverage import Coverage
from siting.data.catalogue import Catalogue
from siting.data.district import District
from siting.model.rules import PlanningRules, SiteData, pair_costs
from siting.pipeline.compliance import compliance_table, district_compliance
from siting.pipeline.phased import PhasedPlan

#: Columns of ``schedule.csv`` before the gains per age band.
SCHEDULE_COLUMNS = ("phase", "phase_index", "circle", "site_id", "site_name", "site_kind", "service", "service_zh",
                    "service_en", "site_converted", "floor_area_m2", "retrofit_cost", "service_cost", "cost")


def _gains(coverage: Coverage, before: list[np.ndarray], sites: np.ndarray, service: int) -> np.ndarray:
    """Residents per age band newly within reach of each of ``sites`` hosting ``service``, ``before``
    being who is within reach of each coverage pair already."""
    G = len(coverage.group_keys)
    out = np.zeros((sites.size, G))
    for p, (s, g) in enumerate(coverage.pairs):
        if s != service:
            continue
        fresh = coverage.population[:, g] * ~before[p]
        out[:, g] += np.asarray(coverage.reach[p][:, sites].T @ fresh).ravel()
    return out


def schedule_table(district: District, coverage: Coverage, catalogue: Catalogue, rules: PlanningRules,
                   plan: PhasedPlan, *, circle: str = "") -> pd.DataFrame:
    """One row per conversion, phase by phase (module docstring).

    Returns
    -------
    pandas.DataFrame
        :data:`SCHEDULE_COLUMNS`, then ``gain_<band>`` per age band and ``gain_residents``
        (their sum); sorted by phase, site and service.
    """
    sites = district.sites
    sched = plan.schedule
    pair_cost = pair_costs(SiteData.of(sites), rules)
    groups = catalogue.group_keys
    rows: list[dict[str, object]] = []
    for t, name in enumerate(plan.phases.names):  # phases, not data
        opened = sched.opened(t)
        converted = sched.site_phase == t
        area_opened = opened.astype(float) @ rules.service_area
        before = list(coverage.baseline) if t == 0 else coverage.covered(sched.hosts(t - 1))
        for s in range(opened.shape[1]):
            at = np.flatnonzero(opened[:, s])
            if at.size == 0:
                continue
            gains = _gains(coverage, before, at, s)
            svc = catalogue.services[s]
            for i, j in enumerate(at):
                share = rules.service_area[s] / area_opened[j] if area_opened[j] > 0 else 1.0
                retrofit = float(sites.retrofit_cost[j]) * share if converted[j] else 0.0
                rows.append({"phase": name, "phase_index": t + 1, "circle": circle, "site_id": str(sites.ids[j]),
                             "site_name": str(sites.names[j]), "site_kind": str(sites.kinds[j]),
                             "service": svc.key, "service_zh": svc.name_zh, "service_en": svc.name_en,
                             "site_converted": bool(converted[j]), "floor_area_m2": float(rules.service_area[s]),
                             "retrofit_cost": round(retrofit, 2), "service_cost": round(float(pair_cost[j, s]), 2),
                             "cost": round(retrofit + float(pair_cost[j, s]), 2),
                             **{f"gain_{g}": round(float(gains[i, k]), 1) for k, g in enumerate(groups)},
                             "gain_residents": round(float(gains[i].sum()), 1)})
        for j in np.flatnonzero(converted & ~opened.any(axis=1)):
            rows.append({"phase": name, "phase_index": t + 1, "circle": circle, "site_id": str(sites.ids[j]),
                         "site_name": str(sites.names[j]), "site_kind": str(sites.kinds[j]), "service": "",
                         "service_zh": "", "service_en": "", "site_converted": True, "floor_area_m2": 0.0,
                         "retrofit_cost": round(float(sites.retrofit_cost[j]), 2), "service_cost": 0.0,
                         "cost": round(float(sites.retrofit_cost[j]), 2),
                         **{f"gain_{g}": 0.0 for g in groups}, "gain_residents": 0.0})
    columns = [*SCHEDULE_COLUMNS, *(f"gain_{g}" for g in groups), "gain_residents"]
    df = pd.DataFrame(rows, columns=columns)
    return df.sort_values(["phase_index", "site_id", "service"], kind="stable").reset_index(drop=True)


def phase_coverage_table(plan: PhasedPlan, *, circle: str | None = None) -> pd.DataFrame:
    """Residents within reach (and served, where places count) per phase × service × age band.

    ``years`` is the phase's coverage-years weight; ``covered_years`` = ``covered_after`` × it.
    """
    frames = []
    for t, (name, p) in enumerate(zip(plan.phases.names, plan.plans, strict=True)):
        df = p.coverage.copy()
        df.insert(0, "phase_index", t + 1)
        df.insert(0, "phase", name)
        if circle is not None:
            df.insert(0, "circle", circle)
        df["years"] = round(float(plan.phases.weight[t]), 6)
        df["covered_years"] = (df["covered_after"] * plan.phases.weight[t]).round(1)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def phase_compliance_table(district: District, coverage: Coverage, catalogue: Catalogue, plan: PhasedPlan,
                           *, circle: str | None = None) -> pd.DataFrame:
    """Compliance per phase × community × service (:func:`siting.pipeline.compliance.compliance_table`)."""
    frames = []
    for t, (name, p) in enumerate(zip(plan.phases.names, plan.plans, strict=True)):
        df = compliance_table(district, coverage, catalogue, p)
        df.insert(0, "phase_index", t + 1)
        df.insert(0, "phase", name)
        if circle is not None:
            df.insert(0, "circle", circle)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def phase_compliance_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per phase × service: share of the target population within reach and the communities complying."""
    frames = []
    for index in pd.unique(table["phase_index"]):
        rows = table[table["phase_index"] == index]
        df = district_compliance(rows.drop(columns=["phase", "phase_index"]))
        df.insert(0, "phase_index", int(index))
        df.insert(0, "phase", str(rows["phase"].iloc[0]))
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def coverage_years_by_group(plan: PhasedPlan) -> pd.Series:
    """Residents × services within reach, summed over the phases weighted by their years, per age band."""
    table = phase_coverage_table(plan)
    out: pd.Series = table.groupby("age_group", sort=False)["covered_years"].sum()
    return out


__all__ = ["SCHEDULE_COLUMNS", "coverage_years_by_group", "phase_compliance_summary", "phase_compliance_table",
           "phase_coverage_table", "schedule_table"]
