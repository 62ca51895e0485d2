"""The HTML report: self-contained, readable by a decision maker, every data string escaped."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

if TYPE_CHECKING:
    from siting.runner import RunResult


def _env() -> Environment:
    env = Environment(loader=PackageLoader("siting.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["yuan"] = lambda v: f"{v:,.0f}"
    env.filters["pct"] = lambda v: f"{100 * v:.1f} %"
    env.filters["num"] = lambda v: f"{v:,.0f}"
    return env


def render_report(run: RunResult, summary: dict[str, Any], map_png: Path | None) -> str:
    """Render ``report.html`` for a finished run."""
    catalogue = run.prepared.catalogue
    map_data = base64.b64encode(map_png.read_bytes()).decode("ascii") if map_png and map_png.exists() else None
    coverage = run.plan.coverage.copy()
    coverage["service_label"] = [catalogue.service(k).label for k in coverage["service"]]
    coverage["group_label"] = [catalogue.group(k).name_en for k in coverage["age_group"]]
    groups = (coverage.groupby("age_group", sort=False)[["population", "covered_before", "covered_after"]]
              .sum().reset_index())
    groups["label"] = [catalogue.group(k).name_zh + " " + catalogue.group(k).name_en for k in groups["age_group"]]
    return _env().get_template("report.html.j2").render(
        scenario=run.scenario,
        summary=summary,
        plan=run.plan,
        assignments=run.plan.assignments.to_dict(orient="records"),
        coverage=coverage.to_dict(orient="records"),
        groups=groups.to_dict(orient="records"),
        map_png=map_data,
        walking=run.prepared.walking,
    )
