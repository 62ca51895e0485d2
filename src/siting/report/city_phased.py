"""Outputs of a "1+6+N" city in phases: the schedule of every circle, coverage and compliance per phase, the report.

Written atomically into one folder (:func:`write_phased_city_outputs`):

``schedule.csv``, ``schedule_myopic.csv``
    every circle's conversions, phase by phase (:func:`siting.pipeline.schedule.schedule_table`,
    with a ``circle`` column), for the joint and the myopic plans;
``plan.csv``
    the plan at the end of the last phase, one row per circle, site and service;
``circles.csv``
    per circle: theme, pilot, first phase, money and spending per phase, status, objective,
    bound and gap over time, what the joint plan gains over the myopic one;
``phase_coverage.csv``, ``phase_compliance.csv``
    per circle, phase, service and age band (community), as for a scenario in phases;
``summary.json``, ``report.html``
    the city's figures (sums over its circles), the same phase section as ``siting run``'s and the
    interactive map with circles, phases and themes as layers.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from siting._version import __version__
from siting.city.phased import PhasedCityResult
from siting.files import sha256_file
from siting.model.phases import PhaseRules
from siting.optimizer.phases import worse
from siting.pipeline.plan import OBJECTIVE_MEANING
from siting.pipeline.schedule import phase_compliance_summary
from siting.report.atomic import atomic_output_dir
from siting.report.city_map import city_map_payload, site_layer
from siting.report.csv_out import write_csv
from siting.report.html import assets
from siting.report.mapdata import map_json
from siting.report.numbers import json_number
from siting.report.schedule import phase_table, phased_context, stage_rows
from siting.solvers import Status
from siting.solvers.base import StageFigures, relative_gap
from siting.studies.phases import phase_gains


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def city_tables(result: PhasedCityResult) -> dict[str, pd.DataFrame]:
    """Every circle's tables together (schedule, coverage and compliance per phase), circle by circle."""
    names = ("schedule", "schedule_myopic", "phase_coverage", "phase_coverage_myopic", "phase_compliance")
    out = {n: _concat([p.tables[n] for p in result.plans if n in p.tables]) for n in names}
    plans = []
    for p in result.plans:
        a = p.joint.final.assignments.copy()
        a.insert(0, "circle", p.circle)
        plans.append(a)
    out["plan"] = _concat(plans)
    if any(p.myopic is None for p in result.plans):  # a myopic line over some circles only would mislead
        out.pop("phase_coverage_myopic")
    return out


def circles_table(result: PhasedCityResult) -> pd.DataFrame:
    """One row per circle (module docstring)."""
    rows = []
    names = result.phase_names
    for p in result.plans:
        s, j = p.setup, p.joint
        gain = phase_gains(j, p.myopic)
        row: dict[str, Any] = {"circle": p.circle, "theme": s.theme_label, "theme_key": s.theme, "pilot": s.pilot,
                               "first_phase": names[s.first_phase],
                               "residents": round(s.residents),
                               **{f"money_{n}": round(float(j.money[t]), 2) for t, n in enumerate(names)},
                               **{f"spend_{n}": round(float(j.spend[t]), 2) for t, n in enumerate(names)},
                               "status": j.status.value, "objective": j.objective, "bound": j.bound, "gap": j.gap,
                               **{f"stage_{k}": v for k, v in j.totals().items()},
                               "myopic_status": p.myopic.status.value if p.myopic is not None else "none",
                               "coverage_years": round(float(j.coverage_years.sum()), 1),
                               "coverage_years_gain": round(gain["coverage_years"]["gain"], 1) if gain else None}
        if gain:
            row.update({f"gain_{g['stage']}": g["gain"] for g in gain["stages"]})
        rows.append(row)
    return pd.DataFrame(rows)


def _city_phases(result: PhasedCityResult) -> tuple[PhaseRules, np.ndarray, np.ndarray]:
    spend = np.sum([p.joint.spend for p in result.plans], axis=0) if result.plans else np.zeros(len(
        result.phase_names))
    money = np.sum([p.joint.money for p in result.plans], axis=0) if result.plans else np.zeros_like(spend)
    carry = np.array([ph.carry_over for ph in (result.city.scenario.phases or [])] or [True])
    rules = PhaseRules(result.phase_names, result.phase_budgets, carry, result.phase_weights,
                       np.zeros(len(carry), dtype=np.int64), np.full(len(carry), -1, dtype=np.int64),
                       np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))
    return rules, spend, money


def city_phase_rows(result: PhasedCityResult, rules: PhaseRules, spend: np.ndarray, money: np.ndarray,
                    schedule: pd.DataFrame) -> list[dict[str, Any]]:
    """Per phase, the city's money: its budget, what the circles were given, carried over, spent and left."""
    rows = phase_table(rules, spend, money, schedule)
    given = np.sum([p.setup.money for p in result.plans], axis=0) if result.plans else np.zeros(len(rows))
    for t, row in enumerate(rows):
        row["allocated"] = round(float(given[t]), 2)
        row["carried_in"] = round(float(money[t] - given[t]), 2)
    return rows


def _summed_stages(plans: list[Any], attr: str) -> list[StageFigures]:
    totals: dict[str, list[float]] = {}
    for p in plans:
        for s in getattr(p, attr).stages:
            totals.setdefault(s.name, [0.0, 0.0])
            totals[s.name][0] += s.objective
            totals[s.name][1] += s.bound
    status = Status.OPTIMAL
    for p in plans:
        status = worse(status, getattr(p, attr).status)
    return [StageFigures(name, status, value, bound, relative_gap(value, bound))
            for name, (value, bound) in totals.items()]


def city_gains(result: PhasedCityResult) -> dict[str, Any]:
    """What the joint plans gain over the myopic ones, summed over the circles that have both."""
    both = [p for p in result.plans if p.myopic is not None]
    if not both:
        return {}
    stages: dict[str, dict[str, float]] = {}
    years = {"joint": 0.0, "myopic": 0.0}
    groups: dict[str, dict[str, float]] = {}
    for p in both:
        gain = phase_gains(p.joint, p.myopic)
        for s in gain["stages"]:
            entry = stages.setdefault(s["stage"], {"joint": 0.0, "myopic": 0.0})
            entry["joint"] += s["joint"]
            entry["myopic"] += s["myopic"]
        years["joint"] += gain["coverage_years"]["joint"]
        years["myopic"] += gain["coverage_years"]["myopic"]
        for g in gain["coverage_years"]["by_age_group"]:
            entry = groups.setdefault(g["age_group"], {"joint": 0.0, "myopic": 0.0})
            entry["joint"] += g["joint"]
            entry["myopic"] += g["myopic"]

    def rel(a: float, b: float) -> float | None:
        return (a - b) / abs(b) if abs(b) > 1e-12 else None

    return {"circles": [p.circle for p in both],
            "stages": [{"stage": k, **v, "gain": v["joint"] - v["myopic"], "relative_gain": rel(v["joint"],
                                                                                               v["myopic"])}
                       for k, v in stages.items()],
            "coverage_years": {**years, "gain": years["joint"] - years["myopic"],
                               "relative_gain": rel(years["joint"], years["myopic"]),
                               "by_age_group": [{"age_group": k, **v, "gain": v["joint"] - v["myopic"],
                                                 "relative_gain": rel(v["joint"], v["myopic"])}
                                                for k, v in groups.items()]}}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float | np.floating):
        return json_number(float(value))
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def city_summary(result: PhasedCityResult, tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """The content of ``summary.json``."""
    sc = result.city.scenario
    rules, spend, money = _city_phases(result)
    comp = phase_compliance_summary(tables["phase_compliance"]) if len(tables["phase_compliance"]) else \
        pd.DataFrame(columns=["phase", "phase_index", "service", "category", "share_after", "compliance_rate_after"])
    inputs = {}
    for p in (*sc.data.paths().values(), result.city.circles.boundaries, result.city.source):
        if p is not None and Path(p).is_file():
            inputs[Path(p).name] = sha256_file(Path(p))
    gains = city_gains(result)
    skipped = [p.circle for p in result.plans if p.myopic is None]
    notes = list(result.notes)
    if skipped:
        notes.append(f"no myopic plan for {', '.join(skipped)}: the gain over the myopic plans sums the other circles")
    kind = f"{sc.objective.kind}_phased"
    summary: dict[str, Any] = _clean({
        "city": sc.name, "title": sc.title, "synthetic_data": sc.data.synthetic, "status": result.status.value,
        "objective": result.objective, "bound": result.bound, "gap": result.gap, "objective_kind": kind,
        "objective_meaning": OBJECTIVE_MEANING.get(kind, kind) + "; summed over the life circles, each planned with "
                                                                 "its own money",
        "budget": float(result.phase_budgets.sum()), "cost": float(spend.sum()), "circles": len(result.circles),
        "circles_planned": len(result.plans), "circles_method": result.circles.method,
        "sites_used": int(sum(p.joint.final.sites_used for p in result.plans)),
        "assignments": len(tables["plan"]), "executor": result.executor, "solver": sc.solver.backend,
        "phases": {"phases": city_phase_rows(result, rules, spend, money, tables["schedule"]),
                   "objective_over_time": stage_rows(_summed_stages(list(result.plans), "joint")),
                   "gain_over_myopic": gains,
                   "compliance_by_phase": comp[["phase", "phase_index", "service", "category", "share_after",
                                                "compliance_rate_after"]].to_dict(orient="records"),
                   "coverage_years": {"total": float(sum(p.joint.coverage_years.sum() for p in result.plans))},
                   "notes": notes},
        "notes": notes, "timings_s": {k: round(v, 4) for k, v in result.timings.items()},
        "versions": {"siting": __version__, "python": platform.python_version()}, "inputs_sha256": inputs,
    })
    return summary


def city_phased_map(result: PhasedCityResult) -> dict[str, Any]:
    """The interactive map: circles and themes as layers, one base layer per phase, one site layer per phase."""
    district, circles = result.district, result.circles
    index = {str(d): i for i, d in enumerate(district.demand.ids)}
    names = result.phase_names
    shares = {f"by {n} 截至": np.full(len(district.demand), np.nan) for n in reversed(names)}
    before = np.full(len(district.demand), np.nan)
    setups = {p.circle: p for p in result.plans}
    for p in result.plans:
        at = np.array([index[d] for d in p.demand_ids], dtype=np.int64)
        before[at] = p.shares["before"]
        for n in names:
            shares[f"by {n} 截至"][at] = p.shares[n]
    schedule = city_tables(result)["schedule"]
    layers = []
    for t, n in enumerate(names):
        rows = schedule[schedule["phase_index"] == t + 1] if len(schedule) else schedule
        layers.append(site_layer(f"opened in {n} 新增", rows, district, result.catalogue, show=True))
    info: list[dict[str, Any]] = []
    for cid in circles.ids:
        mine = setups.get(cid)
        info.append({} if mine is None else {"theme": mine.setup.theme_label.split(" ")[0],
                                             "theme_key": mine.setup.theme,
                                             "phase": names[mine.setup.first_phase], "pilot": mine.setup.pilot})
    return city_map_payload(district, result.catalogue, circles, shares=shares, before=before, layers=layers,
                            info=info, synthetic=result.city.scenario.data.synthetic,
                            base_label="within reach ")


def render_phased_city_report(result: PhasedCityResult, summary: dict[str, Any],
                              tables: dict[str, pd.DataFrame]) -> str:
    """Render the city's ``report.html``."""
    env = Environment(loader=PackageLoader("siting.report", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["yuan"] = lambda v: f"{float(v):,.0f}" if v is not None else "–"
    env.filters["num"] = lambda v: f"{float(v):,.0f}" if v is not None else "–"
    env.filters["pct"] = lambda v: f"{100 * float(v):.1f} %" if v is not None and v == v else "–"
    context = phased_context(summary["phases"], tables["schedule"], tables["phase_coverage"],
                             tables.get("phase_coverage_myopic"), result.catalogue)
    circles = circles_table(result).to_dict(orient="records")
    return env.get_template("city_phased.html.j2").render(
        scenario=result.city.scenario, summary=summary, phased=context, circles=circles,
        phase_names=list(result.phase_names), assignments=tables["plan"].to_dict(orient="records"),
        assets=assets(), version=__version__, map_json=map_json(city_phased_map(result)))


def write_phased_city_outputs(result: PhasedCityResult, out: Path) -> Path:
    """Write the files of the module docstring into ``out``, atomically; return the folder."""
    out = Path(out)
    tables = city_tables(result)
    with atomic_output_dir(out) as tmp:
        write_csv(tables["schedule"], tmp / "schedule.csv", float_format="%.2f")
        if len(tables["schedule_myopic"]):
            write_csv(tables["schedule_myopic"], tmp / "schedule_myopic.csv", float_format="%.2f")
        write_csv(tables["plan"], tmp / "plan.csv", float_format="%.2f")
        write_csv(circles_table(result), tmp / "circles.csv")
        write_csv(tables["phase_coverage"], tmp / "phase_coverage.csv")
        write_csv(tables["phase_compliance"], tmp / "phase_compliance.csv")
        summary = city_summary(result, tables)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "report.html").write_text(render_phased_city_report(result, summary, tables), encoding="utf-8")
    return out.resolve()


__all__ = ["circles_table", "city_gains", "city_phased_map", "city_summary", "city_tables",
           "render_phased_city_report", "write_phased_city_outputs"]
