"""The outputs of one run: ``summary.json``, the plan and coverage tables, the map and the report.

They are written through :func:`~siting.report.atomic.atomic_output_dir`: all at once, or
not at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from siting.files import sha256_file
from siting.pipeline import RunResult
from siting.pipeline.compliance import (
    COMPLIANCE_SHARE,
    COMPLIANCE_SOURCE,
    compliance_table,
    district_compliance,
    shortfalls,
)
from siting.pipeline.plan import OBJECTIVE_MEANING, Plan
from siting.pipeline.provenance import input_files, versions
from siting.report.atomic import atomic_output_dir
from siting.report.csv_out import write_csv
from siting.report.html import render_report
from siting.report.maps import draw_plan_map
from siting.report.numbers import json_number

if TYPE_CHECKING:
    from siting.studies.analysis import RunAnalysis
    from siting.studies.phases import PhasedRun


def walking_time_summary(plan: Plan) -> dict[str, Any] | None:
    """The ``walking_time`` section of ``summary.json`` (walking-time objectives only)."""
    w = plan.walking_time
    if w is None:
        return None
    return {
        "meaning": "minutes of each age group to its nearest open facility (new or existing) of each service, "
                   "at the group's walking speed on flat-equivalent metres",
        "beyond_cutoff": w.treatment,
        "cutoff_m": round(w.cutoff_m, 1),
        "total_weighted_person_minutes": round(w.total_minutes, 3),
        "stages": [{"stage": st.name, "status": st.status.value, "objective": json_number(st.objective),
                    "bound": json_number(st.bound), "gap": json_number(st.gap)} for st in w.stages],
        "by_service_age_group": [{k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
                                 for row in w.table.to_dict(orient="records")],
    }


def compliance_of(run: RunResult) -> pd.DataFrame:
    """``compliance.csv``: per community × service, the share within reach before and after."""
    p = run.prepared
    return compliance_table(p.district, p.coverage, p.catalogue, run.plan)


def compliance_summary(run: RunResult) -> dict[str, Any]:
    """The ``compliance`` section of ``summary.json``: per service across the district, and the shortfalls."""
    p = run.prepared
    table = district_compliance(compliance_of(run))
    short = shortfalls(p.district, p.coverage, p.catalogue, run.plan)
    return {
        "threshold": COMPLIANCE_SHARE, "threshold_source": COMPLIANCE_SOURCE,
        "meaning": "a community complies with a service when this share of the service's target population lives "
                   "within its reach; compliance_rate is the share of communities that comply (达标率)",
        "by_service": [{k: (v if isinstance(v, str) else round(float(v), 6)) for k, v in row.items()}
                       for row in table.to_dict(orient="records")],
        "basic_services_short": [{"service": s.service, "label": s.label, "share_after": round(s.share_after, 6),
                                  "target_population": round(s.target, 1), "out_of_reach": round(s.out_of_reach, 1),
                                  "left_out": round(s.left_out, 1), "beyond_capacity": round(s.beyond_capacity, 1),
                                  "why": s.reason} for s in short],
    }


def summary_dict(run: RunResult) -> dict[str, Any]:
    """The content of ``summary.json``."""
    scenario = run.scenario
    plan: Plan = run.plan
    inputs = input_files(scenario)
    cov = plan.coverage
    walking_time = walking_time_summary(plan)
    return {
        "scenario": scenario.name,
        "title": scenario.title,
        "synthetic_data": scenario.data.synthetic,
        "status": plan.status.value,
        "objective": json_number(plan.objective),
        "bound": json_number(plan.bound),
        "gap": json_number(plan.gap),
        "objective_kind": plan.objective_kind,
        "objective_meaning": OBJECTIVE_MEANING.get(plan.objective_kind, plan.objective_kind),
        "stages": [{"stage": s.name, "status": s.status.value, "objective": json_number(s.objective),
                    "bound": json_number(s.bound), "gap": json_number(s.gap)} for s in plan.stages],
        "message": plan.message,
        "solver": plan.solver,
        "budget": round(plan.budget, 2),
        "cost": round(plan.cost, 2),
        "budget_used_share": round(plan.cost / plan.budget, 6) if plan.budget else None,
        "sites_used": plan.sites_used,
        "assignments": len(plan.assignments),
        "walking": {"mode": run.prepared.walking.mode, "cutoff_m": round(run.prepared.walking.cutoff_m, 1),
                    "notes": list(run.prepared.walking.notes),
                    "snapping": dict(run.prepared.walking.snapping),
                    "straight_vs_network": {
                        "meaning": "residents x services covered by straight-line distance vs along the walking "
                                   "network, per age group: by existing facilities, and by every site able to host "
                                   "each service (the most any plan can reach)",
                        "by_age_group": [{k: (v if isinstance(v, str) else round(float(v), 2)) for k, v in row.items()}
                                         for row in run.prepared.walking.straight_vs_network]}},
        "compliance": compliance_summary(run),
        "covered": [
            {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
            for row in cov.to_dict(orient="records")
        ],
        **({"walking_time": walking_time} if walking_time is not None else {}),
        "timings_s": {k: round(v, 4) for k, v in plan.timings.items()},
        "versions": versions(plan.solver),
        "solver_options": {k: v for k, v in scenario.solver.model_dump().items()},
        "inputs": {role: {"path": str(p), "sha256": sha256_file(p)} for role, p in inputs.items()},
        "inputs_sha256": {p.name: sha256_file(p) for p in inputs.values()},
    }


def write_run_outputs(run: RunResult, out: Path, analysis: RunAnalysis | None = None, *,
                      phased: PhasedRun | None = None) -> Path:
    """Write summary.json, plan.csv, plan.gpkg, coverage.csv, compliance.csv, map.png and report.html.

    A district without coordinates (a scenario with a cost matrix and no lon/lat or x/y) gets no
    map.png, a plan.gpkg without geometry, and a note instead of the report's map.

    With an ``analysis``, also ranking.csv and alternatives.csv (ranked retrofit options),
    frontier.csv and frontier.png (coverage against budget), and their sections in the report.
    With ``phased`` (a plan in phases; ``run`` is then its final plan), also schedule.csv and the
    tables per phase (:mod:`siting.report.schedule`), the summary's ``phases`` section and the
    report's phase section.

    Returns
    -------
    pathlib.Path
        The output folder.
    """
    out = Path(out)
    with atomic_output_dir(out) as tmp:
        plan = run.plan
        write_csv(plan.assignments, tmp / "plan.csv", float_format="%.2f")
        write_csv(plan.coverage, tmp / "coverage.csv")
        write_csv(compliance_of(run), tmp / "compliance.csv")
        _write_plan_gpkg(run, tmp / "plan.gpkg")
        if run.prepared.district.located:  # a district given only a cost matrix has no map
            draw_plan_map(run, tmp / "map.png")
        summary = summary_dict(run)
        phase_section = None
        if phased is not None:
            from siting.report.schedule import map_plans, phased_context, write_phase_files

            section, tables = write_phase_files(phased, tmp)
            summary["phases"] = section
            phase_section = (phased_context(section, tables["schedule"], tables["phase_coverage"],
                                            tables.get("phase_coverage_myopic"), run.prepared.catalogue),
                             map_plans(phased))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        if analysis is not None:
            from siting.report.analysis_outputs import write_analysis_files

            write_analysis_files(run, analysis, tmp)
        (tmp / "report.html").write_text(
            render_report(run, summary, tmp / "map.png", analysis,
                          phased=phase_section[0] if phase_section else None,
                          map_plans=phase_section[1] if phase_section else None), encoding="utf-8")
    return out.resolve()


def _write_plan_gpkg(run: RunResult, path: Path) -> None:
    import geopandas as gpd

    df = run.plan.assignments
    if not run.prepared.district.located:  # the plan as a table without geometry: no coordinates to place it
        import pyogrio

        pyogrio.write_dataframe(df.drop(columns=["x", "y"]), path, layer="plan", driver="GPKG")
        return
    gdf = gpd.GeoDataFrame(df.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(df["x"], df["y"]),
                           crs=run.prepared.district.crs)
    gdf.to_file(path, layer="plan", driver="GPKG")
