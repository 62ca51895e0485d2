"""The HTML reports: self-contained, readable by a decision maker, every data string escaped.

Jinja autoescaping is on for every template; the map's data goes into the page as JSON
escaped by :func:`siting.report.mapdata.map_json` and is put on screen with ``textContent``
only. Leaflet (vendored in ``static/leaflet``), the map and table scripts and the styles are
inlined, so the report opens offline from a single file.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
import pandas as pd
from jinja2 import BytecodeCache, Environment, FileSystemBytecodeCache, PackageLoader, select_autoescape
from jinja2.bccache import Bucket

from siting._version import __version__
from siting.data.catalogue import Catalogue
from siting.pipeline.compliance import compliance_table
from siting.report.mapdata import NO_MAP_NOTE, map_data, map_json

if TYPE_CHECKING:
    from siting.pipeline import Prepared, RunResult
    from siting.studies.analysis import RunAnalysis
    from siting.studies.compare import Comparison


def _fmt(spec: str) -> Any:
    def f(v: Any) -> str:
        try:
            return spec.format(float(v))
        except (TypeError, ValueError):
            return "–"
    return f


#: How the templates are read: autoescaped file extensions, escaping of strings and of other names, blocks.
_AUTOESCAPE = ("html", "j2")
_SETTINGS = {"trim_blocks": True, "lstrip_blocks": True}


class _QuietCache(FileSystemBytecodeCache):
    """jinja2's cache of compiled templates, whose failures (a full disk, a folder removed) cost a recompile only."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # an unreadable entry: compile the template again
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def template_cache() -> BytecodeCache | None:
    """Where the report's compiled templates are kept between runs, or ``None`` (compile every time).

    jinja2's per-user folder in the temporary directory, checked to be private; an entry is
    used only while its template's source and Python are those it was compiled from, and the
    file names carry jinja2's version and the settings of :func:`_env`, which the compiled code
    depends on. ``SITING_TEMPLATE_CACHE=off`` compiles the templates in every process instead.
    """
    if os.environ.get("SITING_TEMPLATE_CACHE", "").strip().lower() in ("0", "off", "no", "false"):
        return None
    key = hashlib.sha1(repr((jinja2.__version__, _AUTOESCAPE, sorted(_SETTINGS.items()))).encode()).hexdigest()[:12]
    try:
        return _QuietCache(pattern=f"__siting_report_{key}_%s.cache")
    except (OSError, RuntimeError):  # no private temporary folder
        return None


@cache
def _env() -> Environment:
    """The report's template environment: one per process, so that each template is compiled once."""
    env = Environment(loader=PackageLoader("siting.report", "templates"),
                      autoescape=select_autoescape(list(_AUTOESCAPE), default_for_string=True, default=True),
                      bytecode_cache=template_cache(), trim_blocks=_SETTINGS["trim_blocks"],
                      lstrip_blocks=_SETTINGS["lstrip_blocks"])
    env.filters["yuan"] = _fmt("{:,.0f}")
    env.filters["num"] = _fmt("{:,.0f}")
    env.filters["pct"] = lambda v: _fmt("{:.1f} %")(100 * float(v)) if v is not None else "–"
    return env


@cache
def assets() -> dict[str, str]:
    """Leaflet, the report's scripts and styles, ready to inline (images as data URIs)."""
    static = resources.files("siting.report").joinpath("static")
    leaflet = static.joinpath("leaflet")
    css = leaflet.joinpath("leaflet.css").read_text(encoding="utf-8")
    for name in ("layers-2x.png", "layers.png"):
        data = base64.b64encode(leaflet.joinpath("images", name).read_bytes()).decode("ascii")
        css = css.replace(f"url(images/{name})", f"url(data:image/png;base64,{data})")
    js = leaflet.joinpath("leaflet.js").read_text(encoding="utf-8")
    js = "\n".join(line for line in js.splitlines() if not line.startswith("//# sourceMappingURL"))
    out = {"leaflet_css": css, "leaflet_js": js,
           "map_js": static.joinpath("map.js").read_text(encoding="utf-8"),
           "tables_js": static.joinpath("tables.js").read_text(encoding="utf-8"),
           "report_css": static.joinpath("report.css").read_text(encoding="utf-8")}
    for k, v in out.items():
        if "</script" in v.lower() or "</style" in v.lower():
            raise RuntimeError(f"asset {k} would close its element early")
    return out


def _records(df: pd.DataFrame | None) -> list[dict[str, Any]]:
    if df is None or df.empty:
        return []
    return [{str(k): (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in df.to_dict(orient="records")]


def _group_labels(catalogue: Catalogue) -> list[dict[str, str]]:
    return [{"key": g.key, "label": f"{g.name_zh} {g.name_en}", "short": g.name_en.split(" ")[0].lower()}
            for g in catalogue.age_groups]


def frontier_context(frontier: pd.DataFrame, catalogue: Catalogue, *, axis_columns: Sequence[str],
                     x_column: str, x_label: str, highlight: float | None = None) -> dict[str, Any]:
    """The frontier's table rows and SVG chart for a template."""
    from siting.report.charts import frontier_series, line_chart_svg  # a run with a frontier only

    labels = {g.key: f"{g.name_zh} {g.name_en}" for g in catalogue.age_groups}
    ordered = frontier.sort_values(x_column, kind="stable")
    svg = line_chart_svg(ordered[x_column].astype(float).tolist(), frontier_series(ordered, labels),
                         x_label=x_label, y_label="residents × services covered", highlight=highlight)
    return {"rows": _records(frontier), "axis_columns": list(axis_columns), "svg": svg}


def _base_context(map_payload: dict[str, Any] | None) -> dict[str, Any]:
    return {"assets": assets(), "version": __version__,
            "map_json": map_json(map_payload) if map_payload is not None else None}


def render_report(run: RunResult, summary: dict[str, Any], map_png: Path | None,
                  analysis: RunAnalysis | None = None, *, phased: dict[str, Any] | None = None,
                  map_plans: Sequence[tuple[str, Any]] | None = None) -> str:
    """Render ``report.html`` for a finished run (with its ranking and frontier when given).

    ``phased`` is the context of a plan in phases (:func:`siting.report.schedule.phased_context`);
    ``map_plans`` the plans the map shows as layers (default: the run's plan).
    """
    catalogue = run.prepared.catalogue
    map_b64 = base64.b64encode(map_png.read_bytes()).decode("ascii") if map_png and map_png.exists() else None
    coverage = run.plan.coverage.copy()
    coverage["service_label"] = [catalogue.service(k).label for k in coverage["service"]]
    coverage["group_label"] = [catalogue.group(k).name_zh + " " + catalogue.group(k).name_en
                               for k in coverage["age_group"]]
    groups = (coverage.groupby("age_group", sort=False)[["population", "covered_before", "covered_after"]]
              .sum().reset_index())
    groups["label"] = [catalogue.group(k).name_zh + " " + catalogue.group(k).name_en for k in groups["age_group"]]
    ranking = analysis.ranking if analysis is not None else None
    frontier = analysis.frontier if analysis is not None else None
    group_labels = _group_labels(catalogue)
    ranking_groups = ([g for g in group_labels if f"sole_{g['key']}" in ranking.options.columns]
                      if ranking is not None else [])
    fctx = (frontier_context(frontier, catalogue, axis_columns=[], x_column="budget", x_label="budget (yuan)",
                             highlight=run.plan.budget) if frontier is not None else None)
    payload = (map_data(run.prepared.district, run.prepared.coverage, catalogue,
                        list(map_plans) if map_plans else [(run.scenario.name, run.plan)],
                        streets=analysis.streets if analysis is not None else None,
                        synthetic=run.scenario.data.synthetic)
               if run.prepared.district.located else None)
    return _env().get_template("report.html.j2").render(
        **_base_context(payload),
        scenario=run.scenario,
        summary=summary,
        plan=run.plan,
        assignments=_records(run.plan.assignments),
        coverage=_records(coverage),
        groups=_records(groups),
        map_png=map_b64,
        walking=run.prepared.walking,
        ranking=ranking,
        ranking_rows=_records(ranking.options) if ranking is not None else [],
        in_shares=run.plan.in_shares,
        ranking_groups=ranking_groups,
        ranking_has_frontier=ranking is not None and "chosen_share_frontier" in ranking.options.columns,
        alternatives=_records(ranking.alternatives) if ranking is not None else [],
        frontier=fctx,
        frontier_svg=fctx["svg"] if fctx else "",
        frontier_groups=group_labels,
        notes=list(analysis.notes) if analysis is not None else [],
        compliance=_compliance_context(run, summary),
        map_note=NO_MAP_NOTE,
        phased=phased,
    )


def _compliance_context(run: RunResult, summary: dict[str, Any]) -> dict[str, Any] | None:
    """The report's compliance section: the summary's figures and the community × basic service matrix."""
    comp = summary.get("compliance")
    if not comp:
        return None
    p = run.prepared
    table = compliance_table(p.district, p.coverage, p.catalogue, run.plan)
    basic = [s for s in p.catalogue.services if s.category == "basic"]
    matrix = []
    if table["community"].nunique() > 1 or (table["community"] != "").all():
        for name, rows in table.groupby("community", sort=True):
            by = {str(r["service"]): r for r in rows.to_dict(orient="records")}
            matrix.append({"community": str(name) or "—", "cells": [
                {"before": float(by[s.key]["share_before"]), "after": float(by[s.key]["share_after"]),
                 "complies": bool(by[s.key]["complies_after"])} for s in basic]})
    return {**comp, "matrix": matrix, "matrix_services": [{"key": s.key, "zh": s.name_zh} for s in basic]}


def render_sweep_report(base: Prepared, frontier: pd.DataFrame, robustness: pd.DataFrame,
                        axes: Sequence[str], *, streets: np.ndarray | None = None) -> str:
    """Render the ``report.html`` of a sweep: frontier chart and table, how often each option is chosen."""
    catalogue = base.catalogue
    x = axes[0]
    fctx = frontier_context(frontier, catalogue, axis_columns=[a for a in axes if a != "budget"], x_column=x,
                            x_label="budget (yuan)" if x == "budget" else x,
                            highlight=base.scenario.budget if x == "budget" else None)
    return _env().get_template("sweep.html.j2").render(
        **_base_context(None), scenario=base.scenario, axes=list(axes), frontier=fctx, frontier_svg=fctx["svg"],
        groups=_group_labels(catalogue), robustness=_records(robustness),
        n_variants=len(frontier), n_feasible=int(frontier["objective"].notna().sum()),
    )


def render_compare_report(comparison: Comparison, prepared: Sequence[Prepared], *,
                          streets: np.ndarray | None = None) -> str:
    """Render the ``report.html`` of a comparison: the table, the differences, the plans on one map."""
    first = prepared[0]
    same_district = all(p.district.sites.ids.tolist() == first.district.sites.ids.tolist()
                        and len(p.district.demand) == len(first.district.demand) for p in prepared)
    shown = [(name, cp.result.plan, p.coverage)
             for name, cp, p in zip(comparison.names, comparison.plans, prepared, strict=True)
             if cp.result.plan is not None]
    payload = (map_data(first.district, first.coverage, first.catalogue, [(n, pl) for n, pl, _c in shown],
                        streets=streets, plan_coverages=[c for _n, _pl, c in shown])
               if shown and same_district and first.district.located else None)
    return _env().get_template("compare.html.j2").render(
        **_base_context(payload), names=list(comparison.names), plans=comparison.plans,
        table=_records(comparison.table), differences=_records(comparison.differences),
        map_note=(NO_MAP_NOTE if not first.district.located else "" if same_district
                  else "The scenarios use different districts: no common map."),
    )


__all__ = ["assets", "frontier_context", "render_compare_report", "render_report", "render_sweep_report"]
