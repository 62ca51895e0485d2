"""Write a run's outputs into a folder atomically.

Everything is written into a temporary folder beside the target and moved into place at the
end, so an interrupted run leaves the previous outputs untouched and never half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import siting
from siting.plan import Plan
from siting.report.html import render_report
from siting.report.maps import draw_plan_map
from siting.runner import RunResult

if TYPE_CHECKING:
    from siting.analysis import RunAnalysis


@contextlib.contextmanager
def atomic_output_dir(target: Path) -> Iterator[Path]:
    """A temporary folder that replaces ``target`` when the block ends without error.

    Parameters
    ----------
    target
        The output folder. Its parent is created if needed; the temporary folder lives in
        the same parent so that the final move is a rename.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        if old.exists():
            shutil.rmtree(old)
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json_number(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 6)


def summary_dict(run: RunResult) -> dict[str, Any]:
    """The content of ``summary.json``."""
    scenario = run.scenario
    plan: Plan = run.plan
    inputs = {}
    data = scenario.data
    paths = [data.demand, data.sites, data.existing]
    if data.network is not None:
        paths += [data.network.nodes, data.network.edges]
    for p in paths:
        if p is not None and Path(p).is_file():
            inputs[Path(p).name] = _sha256(Path(p))
    if scenario.source is not None:
        inputs[Path(scenario.source).name] = _sha256(Path(scenario.source))
    cov = plan.coverage
    return {
        "scenario": scenario.name,
        "title": scenario.title,
        "status": plan.status.value,
        "objective": _json_number(plan.objective),
        "bound": _json_number(plan.bound),
        "gap": _json_number(plan.gap),
        "objective_meaning": "weighted residents newly covered by the plan (baseline excluded)",
        "solver": plan.solver,
        "budget": round(plan.budget, 2),
        "cost": round(plan.cost, 2),
        "budget_used_share": round(plan.cost / plan.budget, 6) if plan.budget else None,
        "sites_used": plan.sites_used,
        "assignments": len(plan.assignments),
        "walking": {"mode": run.prepared.walking.mode, "cutoff_m": round(run.prepared.walking.cutoff_m, 1),
                    "notes": list(run.prepared.walking.notes)},
        "covered": [
            {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
            for row in cov.to_dict(orient="records")
        ],
        "timings_s": {k: round(v, 4) for k, v in plan.timings.items()},
        "versions": {"siting": siting.__version__, "python": platform.python_version(), "solver": plan.solver},
        "inputs_sha256": inputs,
    }


def write_run_outputs(run: RunResult, out: Path, analysis: RunAnalysis | None = None) -> Path:
    """Write summary.json, plan.csv, plan.gpkg, coverage.csv, map.png and report.html.

    With an ``analysis``, also ranking.csv and alternatives.csv (ranked retrofit options),
    frontier.csv and frontier.png (coverage against budget), and their sections in the report.

    Returns
    -------
    pathlib.Path
        The output folder.
    """
    out = Path(out)
    with atomic_output_dir(out) as tmp:
        plan = run.plan
        plan.assignments.to_csv(tmp / "plan.csv", index=False, float_format="%.2f")
        plan.coverage.to_csv(tmp / "coverage.csv", index=False)
        _write_plan_gpkg(run, tmp / "plan.gpkg")
        draw_plan_map(run, tmp / "map.png")
        summary = summary_dict(run)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        if analysis is not None:
            from siting.report.analysis_outputs import write_analysis_files

            write_analysis_files(run, analysis, tmp)
        (tmp / "report.html").write_text(render_report(run, summary, tmp / "map.png", analysis), encoding="utf-8")
    return out.resolve()


def _write_plan_gpkg(run: RunResult, path: Path) -> None:
    import geopandas as gpd

    df = run.plan.assignments
    gdf = gpd.GeoDataFrame(df.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(df["x"], df["y"]),
                           crs=run.prepared.district.crs)
    gdf.to_file(path, layer="plan", driver="GPKG")
