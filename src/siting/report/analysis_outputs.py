"""Output files of ranked options, frontiers, sweeps and comparisons (written atomically)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from siting.report.atomic import atomic_output_dir
from siting.report.charts import frontier_png, frontier_series
from siting.report.csv_out import write_csv
from siting.report.html import render_compare_report, render_sweep_report

if TYPE_CHECKING:
    import numpy as np

    from siting.pipeline import Prepared, RunResult
    from siting.studies.analysis import RunAnalysis
    from siting.studies.compare import Comparison


def _csv(df: pd.DataFrame, path: Path) -> None:
    write_csv(df, path, float_format="%.12g")


def _frontier_files(frontier: pd.DataFrame, prepared: Prepared, folder: Path, x: str, *,
                    highlight: float | None) -> None:
    _csv(frontier, folder / "frontier.csv")
    labels = {g.key: f"{g.name_zh} {g.name_en}" for g in prepared.catalogue.age_groups}
    ordered = frontier.sort_values(x, kind="stable")
    frontier_png(ordered[x].astype(float).tolist(), frontier_series(ordered, labels), folder / "frontier.png",
                 x_label="budget (yuan)" if x == "budget" else x,
                 title=f"{prepared.scenario.title or prepared.scenario.name}: coverage against {x}",
                 highlight=highlight)


def write_analysis_files(run: RunResult, analysis: RunAnalysis, folder: Path) -> None:
    """ranking.csv, alternatives.csv, frontier.csv and frontier.png of a run, into ``folder``."""
    if analysis.ranking is not None:
        _csv(analysis.ranking.options, folder / "ranking.csv")
        _csv(analysis.ranking.alternatives, folder / "alternatives.csv")
    if analysis.frontier is not None:
        _frontier_files(analysis.frontier, run.prepared, folder, "budget", highlight=run.plan.budget)


def write_sweep_outputs(out: Path, base: Prepared, frontier: pd.DataFrame, robustness: pd.DataFrame,
                        axes: Sequence[str], records: Sequence[dict[str, Any]]) -> Path:
    """frontier.csv, frontier.png, robustness.csv, variants.jsonl and report.html of a sweep."""
    with atomic_output_dir(Path(out)) as tmp:
        multi = len(axes) > 1
        _frontier_files(frontier, base, tmp, axes[0],
                        highlight=base.scenario.budget if axes[0] == "budget" and not multi else None)
        _csv(robustness, tmp / "robustness.csv")
        with open(tmp / "variants.jsonl", "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        (tmp / "report.html").write_text(render_sweep_report(base, frontier, robustness, axes), encoding="utf-8")
    return Path(out).resolve()


def write_compare_outputs(out: Path, comparison: Comparison, prepared: Sequence[Prepared], *,
                          streets: np.ndarray | None = None) -> Path:
    """comparison.csv, differences.csv, plans/<name>.csv and report.html of a comparison."""
    with atomic_output_dir(Path(out)) as tmp:
        _csv(comparison.table, tmp / "comparison.csv")
        _csv(comparison.differences, tmp / "differences.csv")
        (tmp / "plans").mkdir()
        for name, cp in zip(comparison.names, comparison.plans, strict=True):
            if cp.result.plan is not None:
                write_csv(cp.result.plan.assignments, tmp / "plans" / f"{name}.csv", float_format="%.2f")
                write_csv(cp.result.plan.coverage, tmp / "plans" / f"{name}-coverage.csv")
        (tmp / "report.html").write_text(render_compare_report(comparison, prepared, streets=streets),
                                         encoding="utf-8")
    return Path(out).resolve()


__all__ = ["write_analysis_files", "write_compare_outputs", "write_sweep_outputs"]
