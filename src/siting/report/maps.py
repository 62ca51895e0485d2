"""Static PNG map of a plan, for printed documents (drawn with Pillow: :mod:`siting.report.raster`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from siting.report.mapdata import coverage_shares
from siting.report.raster import SCALE, Canvas, cjk_font_file, red_yellow_green

if TYPE_CHECKING:
    from siting.pipeline import RunResult

#: Marker sizes: a residential building's radius from 2 to 5 px by population; sites.
DOT_MIN_PX, DOT_MAX_PX = 1.6, 4.2
LABEL_PX = 8.5


def draw_plan_map(run: RunResult, path: Path) -> None:
    """Draw demand coloured by coverage, candidate and chosen sites, existing facilities."""
    cjk = cjk_font_file() is not None
    district = run.prepared.district
    plan = run.plan
    share = coverage_shares(run.prepared.coverage, plan.hosts)["all"]
    pop = run.prepared.coverage.population.sum(axis=1)
    canvas = Canvas(900, 880, (78, 46, 96, 56), cjk=cjk)
    xy0 = district.demand.xy.min(axis=0) if len(district.demand) else np.zeros(2)
    d = district.demand.xy - xy0
    s = district.sites.xy - xy0
    e = district.existing.xy - xy0 if len(district.existing) else np.zeros((0, 2))
    every = np.vstack([d, s, e]) if len(d) + len(s) + len(e) else np.zeros((1, 2))
    lo, hi = every.min(axis=0), every.max(axis=0)
    pad = 0.04 * max(float((hi - lo).max()), 1.0)
    canvas.limits((lo[0] - pad, hi[0] + pad), (lo[1] - pad, hi[1] + pad), equal=True)
    radius = DOT_MIN_PX + (DOT_MAX_PX - DOT_MIN_PX) * pop / max(float(pop.max()) if pop.size else 1.0, 1.0)
    if len(d):
        canvas.dots(d[:, 0], d[:, 1], radius, red_yellow_green(share), alpha=0.8)
    used = plan.hosts.any(axis=1)
    canvas.markers("square", s[~used, 0], s[~used, 1], 3.5, fill=None, outline="#808080", width=1.2)
    if len(e):
        canvas.markers("triangle", e[:, 0], e[:, 1], 6.0, fill="#7a3b9c", outline="white")
    canvas.markers("star", s[used, 0], s[used, 1], 9.0, fill="#1f4e9c", outline="white", width=0.8)
    keys = district.service_keys
    for j in np.flatnonzero(used):
        names = [run.prepared.catalogue.service(keys[k]).name_zh if cjk else keys[k]
                 for k in np.flatnonzero(plan.hosts[j])]
        label = f"{district.sites.ids[j]}: " + ", ".join(names)
        u, v = (c / SCALE for c in canvas.point(s[j, 0], s[j, 1]))
        fits = u + 7 + canvas.text_width(label, LABEL_PX) <= canvas.area[2] - 2
        canvas.text((u + 7, v - 5) if fits else (u - 7, v - 5), label, size=LABEL_PX, anchor="ld" if fits else "rd",
                    halo=True)
    name = (run.scenario.title if cjk else "") or run.scenario.name
    synthetic = ""
    if run.scenario.data.synthetic and "示例数据" not in name and "synthetic" not in name:
        synthetic = " — 示例数据 synthetic data" if cjk else " — synthetic data"
    canvas.axes(x_label=f"metres east ({district.crs})", y_label="metres north",
                title=f"{name}: plan and coverage{synthetic}")
    entries: list[tuple[str, str, str | None, str | None]] = [
        ("circle", "residential buildings (colour: coverage)", "#a6d96a", None),
        ("square", "idle sites not chosen", None, "#808080"),
        ("star", "sites converted", "#1f4e9c", "white"),
    ]
    if len(e):
        entries.append(("triangle", "existing facilities", "#7a3b9c", "white"))
    canvas.legend(entries, corner="lower left")
    canvas.colour_bar("share of service needs covered after the plan")
    canvas.save(path)
