"""Outputs of a city-wide batch: combined plan, tables per circle, price search, map and report.

Written atomically, like a single run's outputs (:func:`siting.report.atomic_output_dir`).
"""

from __future__ import annotations

import base64
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from siting._version import __version__
from siting.city.batch import BatchResult
from siting.files import sha256_file
from siting.report.atomic import atomic_output_dir
from siting.report.city_map import city_map_payload, site_layer
from siting.report.csv_out import write_csv
from siting.report.html import assets
from siting.report.mapdata import map_json
from siting.report.numbers import json_number


def _env() -> Environment:
    env = Environment(loader=PackageLoader("siting.report", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["yuan"] = lambda v: f"{v:,.0f}"
    env.filters["num"] = lambda v: f"{v:,.0f}"
    env.filters["pct"] = lambda v: f"{100 * v:.1f} %"
    return env


def combined_assignments(result: BatchResult) -> pd.DataFrame:
    """Every circle's (site, service) rows, circle by circle."""
    frames = [p.assignments for p in result.plans if len(p.assignments)]
    if not frames:
        cols = ["circle", "site_id", "site_name", "site_kind", "service", "service_zh", "service_en",
                "floor_area_m2", "site_floor_area_m2", "retrofit_cost", "fitout_cost", "cost", "x", "y"]
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)


def circle_coverage(result: BatchResult) -> pd.DataFrame:
    """Residents covered before / after per circle × service × age group."""
    frames = [p.coverage for p in result.plans]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def city_coverage(result: BatchResult) -> pd.DataFrame:
    """Residents covered before / after per service × age group, over every circle with a plan."""
    per = circle_coverage(result)
    if per.empty:
        return per
    keys = ["service", "service_zh", "age_group"]
    out = per.groupby(keys, sort=False)[["population", "covered_before", "covered_after"]].sum().reset_index()
    pop = out["population"].to_numpy()
    for when in ("before", "after"):
        share = np.divide(out[f"covered_{when}"].to_numpy(), pop, out=np.zeros(len(out)), where=pop > 0)
        out[f"share_{when}"] = share.round(6)
    return out


def circle_table(result: BatchResult) -> pd.DataFrame:
    """One row per life circle: size, coverage before, what its plan adds and costs."""
    plans = {p.circle: p for p in result.plans}
    rows = []
    for info in result.infos:
        p = plans.get(info.circle)
        how = ("no candidate sites" if info.n_sites == 0 else "" if p is None
               else "top-up" if not np.isfinite(p.price) else f"price {p.price:.6g}")
        rows.append({"circle": info.circle, "buildings": info.n_demand, "residents": round(info.population),
                     "sites": info.n_sites, "covered_before": round(info.covered_before, 1),
                     "new_coverage": round(p.objective, 1) if p else 0.0,
                     "sites_converted": int(p.hosts.any(axis=1).sum()) if p else 0,
                     "services_placed": len(p.assignments) if p else 0,
                     "cost": round(p.cost, 2) if p else 0.0, "found_at": how})
    return pd.DataFrame(rows)


def pricing_table(result: BatchResult) -> pd.DataFrame:
    """The price search, round by round."""
    return pd.DataFrame([{"round": r.round, "kind": r.kind, "price_per_yuan": r.price, "cost": round(r.cost, 2),
                          "coverage": round(r.coverage, 1), "lagrangian_bound": r.bound, "fits_budget": r.fits,
                          "seconds": round(r.seconds, 3)} for r in result.rounds])


def batch_summary(result: BatchResult) -> dict[str, Any]:
    """The content of ``summary.json``."""
    sc = result.city.scenario
    inputs = {}
    for p in (*sc.data.paths().values(), result.city.circles.boundaries, result.city.source):
        if p is not None and Path(p).is_file():
            inputs[Path(p).name] = sha256_file(Path(p))
    assignments = combined_assignments(result)
    return {
        "city": sc.name,
        "title": sc.title,
        "status": result.status.value,
        "objective": json_number(result.objective),
        "bound": json_number(result.bound),
        "gap": json_number(result.gap),
        "objective_meaning": "weighted residents newly covered by facilities of their own life circle "
                             "(baseline: existing facilities anywhere)",
        "bound_meaning": "best Lagrangian bound over the prices tried: no plan within the budget covers more",
        "budget": round(result.budget, 2),
        "cost": round(result.cost, 2),
        "budget_used_share": round(result.cost / result.budget, 6) if result.budget else None,
        "circles": len(result.circles),
        "circles_method": result.circles.method,
        "sites_used": int(sum(int(p.hosts.any(axis=1).sum()) for p in result.plans)),
        "assignments": len(assignments),
        "rounds": len(result.rounds),
        "executor": result.executor,
        "solver": sc.solver.backend,
        "notes": list(result.notes),
        "timings_s": {k: round(v, 4) for k, v in result.timings.items()},
        "versions": {"siting": __version__, "python": platform.python_version()},
        "inputs_sha256": inputs,
    }


def demand_share(result: BatchResult) -> np.ndarray:
    """Per residential building, the share of its service needs covered after the plan (nan outside every plan)."""
    share = np.full(len(result.district.demand), np.nan)
    rows = result.circles.members("demand")
    index = {cid: c for c, cid in enumerate(result.circles.ids)}
    for p in result.plans:
        share[rows[index[p.circle]]] = p.demand_share
    return share


def draw_city_map(result: BatchResult, path: Path) -> None:
    """Two panels: residential buildings by life circle; by share of needs covered after the plan."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    district, circles = result.district, result.circles
    xy0 = district.demand.xy.min(axis=0)
    d = district.demand.xy - xy0
    share = demand_share(result)
    fig, axes = plt.subplots(1, 2, figsize=(13, 6.5), dpi=100, sharex=True, sharey=True)
    ax = axes[0]
    ax.scatter(d[:, 0], d[:, 1], c=circles.demand % 10, cmap="tab10", vmin=0, vmax=9, s=6, linewidths=0)
    for cid, (cx, cy) in zip(circles.ids, circles.centres - xy0, strict=True):
        ax.annotate(cid, (cx, cy), fontsize=9, weight="bold", ha="center",
                    bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8})
    ax.set_title("Life circles (residential buildings)")
    ax = axes[1]
    sc = ax.scatter(d[:, 0], d[:, 1], c=share, cmap="RdYlGn", vmin=0, vmax=1, s=6, linewidths=0)
    fig.colorbar(sc, ax=ax, shrink=0.7, label="share of service needs covered after the plan")
    assignments = combined_assignments(result)
    if len(assignments):
        used = assignments.drop_duplicates("site_id")
        ax.scatter(used["x"] - xy0[0], used["y"] - xy0[1], marker="*", s=140, c="#1f4e9c", edgecolors="white",
                   label="sites converted")
        ax.legend(loc="lower left", fontsize=7)
    ax.set_title("Coverage after the plan")
    for ax in axes:
        ax.set_aspect("equal")
        ax.set_xlabel(f"metres east ({district.crs})")
    axes[0].set_ylabel("metres north")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def demand_share_before(result: BatchResult) -> np.ndarray:
    """Per residential building, the share of its service needs within reach of existing facilities."""
    share = np.full(len(result.district.demand), np.nan)
    rows = result.circles.members("demand")
    index = {cid: c for c, cid in enumerate(result.circles.ids)}
    for p in result.plans:
        if p.demand_share_before is not None:
            share[rows[index[p.circle]]] = p.demand_share_before
    return share


def batch_map(result: BatchResult) -> dict[str, Any]:
    """The report's interactive map: circles, the plan's sites, buildings by the share of needs within reach."""
    info: list[dict[str, Any]] = [{} for _ in result.circles.ids]
    return city_map_payload(result.district, result.catalogue, result.circles,
                            shares={"所有年龄 All ages": demand_share(result)}, before=demand_share_before(result),
                            layers=[site_layer("plan", combined_assignments(result), result.district,
                                               result.catalogue)],
                            info=info, synthetic=result.city.scenario.data.synthetic)


def render_city_report(result: BatchResult, summary: dict[str, Any], map_png: Path | None) -> str:
    """Render ``report.html`` of a batch."""
    catalogue = result.catalogue
    coverage = city_coverage(result)
    groups: list[dict[str, Any]] = []
    if not coverage.empty:
        by = coverage.groupby("age_group", sort=False)[["population", "covered_before", "covered_after"]].sum()
        for key, row in by.iterrows():
            group = catalogue.group(str(key))
            groups.append({"label": f"{group.name_zh} {group.name_en}", "population": float(row["population"]),
                           "covered_before": float(row["covered_before"]),
                           "covered_after": float(row["covered_after"])})
    map_data = base64.b64encode(map_png.read_bytes()).decode("ascii") if map_png and map_png.exists() else None
    return _env().get_template("city.html.j2").render(
        scenario=result.city.scenario, summary=summary, circles=circle_table(result).to_dict(orient="records"),
        rounds=pricing_table(result).to_dict(orient="records"), groups=groups,
        assignments=combined_assignments(result).to_dict(orient="records"), map_png=map_data,
        assets=assets(), version=__version__, map_json=map_json(batch_map(result)))


def write_batch_outputs(result: BatchResult, out: Path) -> Path:
    """Write plan.csv, plan.gpkg, circles.csv, coverage.csv, coverage_by_circle.csv, pricing.csv,
    summary.json, map.png and report.html into ``out``, atomically.

    Returns
    -------
    pathlib.Path
        The output folder.
    """
    out = Path(out)
    with atomic_output_dir(out) as tmp:
        assignments = combined_assignments(result)
        write_csv(assignments, tmp / "plan.csv", float_format="%.2f")
        write_csv(circle_table(result), tmp / "circles.csv")
        write_csv(city_coverage(result), tmp / "coverage.csv")
        write_csv(circle_coverage(result), tmp / "coverage_by_circle.csv")
        write_csv(pricing_table(result), tmp / "pricing.csv")
        _write_gpkg(result, assignments, tmp / "plan.gpkg")
        draw_city_map(result, tmp / "map.png")
        summary = batch_summary(result)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "report.html").write_text(render_city_report(result, summary, tmp / "map.png"), encoding="utf-8")
    return out.resolve()


def _write_gpkg(result: BatchResult, assignments: pd.DataFrame, path: Path) -> None:
    import geopandas as gpd

    crs = result.district.crs
    plan = gpd.GeoDataFrame(assignments.drop(columns=["x", "y"]),
                            geometry=gpd.points_from_xy(assignments["x"], assignments["y"]), crs=crs)
    plan.to_file(path, layer="plan", driver="GPKG")
    d = result.district.demand
    share = demand_share(result)
    demand = gpd.GeoDataFrame({"id": d.ids.astype(str), "circle": np.asarray(result.circles.ids)[result.circles.demand],
                               "residents": d.population.sum(axis=1), "share_covered_after": share},
                              geometry=gpd.points_from_xy(d.xy[:, 0], d.xy[:, 1]), crs=crs)
    demand.to_file(path, layer="demand", driver="GPKG")


__all__ = ["batch_summary", "circle_coverage", "circle_table", "city_coverage", "combined_assignments",
           "pricing_table", "write_batch_outputs"]
