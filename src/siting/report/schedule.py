"""Outputs of a plan in phases: ``schedule.csv``, coverage and compliance per phase, the report's phase section.

Written beside a run's usual outputs (:func:`siting.report.outputs.write_run_outputs` with a
:class:`~siting.studies.phases.PhasedRun`), where ``plan.csv``, ``coverage.csv`` and
``compliance.csv`` describe the plan at the end of the last phase:

``schedule.csv``
    one row per conversion in the phase it is done (:func:`siting.pipeline.schedule.schedule_table`);
``schedule_myopic.csv``
    the same for the myopic plan, each phase optimised on its own;
``phase_coverage.csv``
    residents within reach (and served, where places count) per phase × service × age band;
``phase_compliance.csv``
    compliance per phase × community × service.

The city report (:mod:`siting.report.city`) uses the same pieces over its circles.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siting.data.catalogue import Catalogue
from siting.model.phases import PhaseRules
from siting.pipeline.phased import PhasedPlan
from siting.pipeline.schedule import (
    phase_compliance_summary,
    phase_compliance_table,
    phase_coverage_table,
    schedule_table,
)
from siting.report.csv_out import write_csv
from siting.report.numbers import json_number
from siting.report.phase_charts import coverage_by_phase_svg, shares_by_phase, timeline_svg
from siting.solvers.base import StageFigures
from siting.studies.phases import PhasedRun, phase_gains

MEANING = ("a plan in phases: each phase has its money (its budget and, where carry_over holds, what the phase "
           "before left unspent); a conversion, once done, stays and serves from its phase on. The joint plan "
           "maximises each stage's value summed over the phases, each phase weighted by its years (discounted); "
           "the myopic plan optimises each phase on its own, in order. coverage_years: residents x services within "
           "reach (existing facilities included), times the phase's years, summed")


def phase_table(phases: PhaseRules, spend: np.ndarray, money: np.ndarray, schedule: pd.DataFrame) -> list[dict[str,
                                                                                                              Any]]:
    """Per phase: its budget, the money carried in, what it spends and leaves, what it opens."""
    rows = []
    for t, name in enumerate(phases.names):  # phases, not data
        mine = schedule[schedule["phase_index"] == t + 1]
        rows.append({"phase": name, "budget": round(float(phases.budget[t]), 2),
                     "carried_in": round(float(money[t] - phases.budget[t]), 2), "money": round(float(money[t]), 2),
                     "spend": round(float(spend[t]), 2), "left_over": round(float(money[t] - spend[t]), 2),
                     "carry_over": bool(phases.carry[t]), "years_weight": round(float(phases.weight[t]), 6),
                     "conversions_opened": int((mine["service"] != "").sum()),
                     "sites_converted": int(mine.loc[mine["site_converted"].astype(bool), "site_id"].nunique())})
    return rows


def stage_rows(stages: Sequence[StageFigures]) -> list[dict[str, Any]]:
    """Stage figures for JSON."""
    return [{"stage": s.name, "status": s.status.value, "objective": json_number(s.objective),
             "bound": json_number(s.bound), "gap": json_number(s.gap)} for s in stages]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return json_number(float(value))
    return value


def group_labels(catalogue: Catalogue) -> dict[str, str]:
    """Age band key → bilingual label."""
    return {g.key: f"{g.name_zh} {g.name_en}" for g in catalogue.age_groups}


def phased_tables(run: PhasedRun) -> dict[str, pd.DataFrame]:
    """The tables of a phased run: schedules, coverage and compliance per phase."""
    p = run.prepared
    out = {"schedule": schedule_table(p.district, p.coverage, p.catalogue, p.rules, run.joint),
           "phase_coverage": phase_coverage_table(run.joint),
           "phase_compliance": phase_compliance_table(p.district, p.coverage, p.catalogue, run.joint)}
    if run.myopic is not None:
        out["schedule_myopic"] = schedule_table(p.district, p.coverage, p.catalogue, p.rules, run.myopic)
        out["phase_coverage_myopic"] = phase_coverage_table(run.myopic)
    return out


def phases_summary(joint: PhasedPlan, myopic: PhasedPlan | None, tables: dict[str, pd.DataFrame],
                   notes: Sequence[str] = ()) -> dict[str, Any]:
    """The ``phases`` section of ``summary.json``."""
    comp = phase_compliance_summary(tables["phase_compliance"])
    cov = tables["phase_coverage"]
    by_group = (cov.groupby(["phase", "phase_index", "age_group"], sort=False)[["population", "covered_after"]]
                .sum().reset_index())
    by_group["share_after"] = (by_group["covered_after"] / by_group["population"].where(by_group["population"] > 0)
                               ).fillna(0.0).round(6)
    section: dict[str, Any] = _jsonable({
        "meaning": MEANING,
        "phases": phase_table(joint.phases, joint.spend, joint.money, tables["schedule"]),
        "objective_over_time": stage_rows(joint.stages),
        "coverage_years": {"by_phase": [round(float(v), 1) for v in joint.coverage_years],
                           "total": round(float(joint.coverage_years.sum()), 1),
                           "new_total": round(float(joint.new_coverage_years.sum()), 1)},
        "myopic": None if myopic is None else {
            "status": myopic.status.value, "stages": stage_rows(myopic.stages),
            "phases": phase_table(myopic.phases, myopic.spend, myopic.money, tables["schedule_myopic"]),
            "coverage_years": round(float(myopic.coverage_years.sum()), 1)},
        "gain_over_myopic": phase_gains(joint, myopic),
        "coverage_by_phase": by_group.to_dict(orient="records"),
        "compliance_by_phase": comp[["phase", "phase_index", "service", "category", "share_after",
                                     "compliance_rate_after"]].to_dict(orient="records"),
        "notes": [*joint.notes, *notes],
    })
    return section


def write_phase_files(run: PhasedRun, folder: Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Write ``schedule.csv`` and the other tables of the module docstring; return the summary section and
    the tables."""
    tables = phased_tables(run)
    write_csv(tables["schedule"], folder / "schedule.csv", float_format="%.2f")
    if "schedule_myopic" in tables:
        write_csv(tables["schedule_myopic"], folder / "schedule_myopic.csv", float_format="%.2f")
    write_csv(tables["phase_coverage"], folder / "phase_coverage.csv")
    write_csv(tables["phase_compliance"], folder / "phase_compliance.csv")
    return phases_summary(run.joint, run.myopic, tables, run.notes), tables


def phased_context(section: dict[str, Any], schedule: pd.DataFrame, joint_coverage: pd.DataFrame,
                   myopic_coverage: pd.DataFrame | None, catalogue: Catalogue) -> dict[str, Any]:
    """What the report's phase section shows: the summary section, the charts, the schedule's rows."""
    labels = group_labels(catalogue)
    names = [p["phase"] for p in section["phases"]]
    x, joint = shares_by_phase(joint_coverage, labels)
    myopic = shares_by_phase(myopic_coverage, labels)[1] if myopic_coverage is not None else None
    categories = {s.key: s.category for s in catalogue.services}
    comp = pd.DataFrame(section["compliance_by_phase"])
    matrix = []
    if not comp.empty:
        for key, rows in comp.groupby("service", sort=False):
            svc = catalogue.service(str(key))
            matrix.append({"service": f"{svc.name_zh} {svc.key}", "category": svc.category,
                           "rates": [float(v) for v in rows.sort_values("phase_index")["compliance_rate_after"]],
                           "shares": [float(v) for v in rows.sort_values("phase_index")["share_after"]]})
    records = [{str(k): v for k, v in r.items()} for r in schedule.to_dict(orient="records")]
    return {**section, "names": names, "timeline_svg": timeline_svg(schedule, names, categories),
            "coverage_svg": coverage_by_phase_svg(x, joint, myopic), "coverage_x": x, "coverage_series": joint,
            "compliance_matrix": matrix, "schedule_rows": records,
            "gain_groups": [{**g, "label": labels.get(g["age_group"], g["age_group"])}
                            for g in section.get("gain_over_myopic", {}).get("coverage_years", {})
                            .get("by_age_group", [])]}


def map_plans(run: PhasedRun) -> list[tuple[str, Any]]:
    """The map's plan layers: the plan at the end, then as it stands after each earlier phase."""
    names = run.joint.phases.names
    layers: list[tuple[str, Any]] = [(f"{names[-1]} (end 最终)", run.joint.final)]
    layers += [(f"by {name} 截至", plan) for name, plan in zip(names[:-1], run.joint.plans[:-1], strict=True)]
    return layers


__all__ = ["map_plans", "phase_table", "phased_context", "phased_tables", "phases_summary",
           "write_phase_files"]
