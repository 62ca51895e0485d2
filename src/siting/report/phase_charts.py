"""Charts of a plan in phases, as inline SVG: the timeline and coverage phase by phase.

* :func:`timeline_svg` — which building opens which service when: one row per conversion
  (grouped by circle in a city), a bar from the phase it opens to the end of the plan, a
  diamond where the site is converted;
* :func:`coverage_by_phase_svg` — the share of residents × services within reach before the
  plan and at the end of each phase, per age band: the joint plan in full lines, the myopic
  plan dashed.

Every label comes from planners' data and is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

import numpy as np
import pandas as pd

from siting.report.charts import PALETTE

#: Colours of basic (基础保障型) and quality (品质提升型) services in the timeline.
CLASS_COLOURS = {"basic": "#1f4e9c", "quality": "#d9822b", "": "#9aa0a6"}


def timeline_svg(schedule: pd.DataFrame, phases: Sequence[str], categories: Mapping[str, str], *,
                 chart_id: str = "timeline-chart", width: int = 900) -> str:
    """Which building opens which service when (module docstring).

    Parameters
    ----------
    schedule
        ``schedule.csv``'s rows (``phase_index``, ``circle``, ``site_id``, ``site_name``,
        ``service``, ``service_zh``, ``service_en``, ``site_converted``, ``cost``).
    phases
        Phase names, in order.
    categories
        Service key → ``basic`` or ``quality`` (the bar's colour).
    """
    T = len(phases)
    rows = schedule.sort_values(["circle", "phase_index", "site_id", "service"], kind="stable")
    circles = rows["circle"].astype(str).tolist()
    grouped = len(set(circles)) > 1 or (circles and circles[0] != "")
    ml, mr, mt, row_h = 330, 16, 34, 17
    lines: list[tuple[str, pd.Series | None]] = []
    last = None
    for (_i, entry), c in zip(rows.iterrows(), circles, strict=True):
        if grouped and c != last:
            lines.append((c, None))
            last = c
        lines.append(("", entry))
    height = mt + row_h * max(len(lines), 1) + 40
    pw = width - ml - mr
    col = pw / max(T, 1)
    out = [f'<svg id="{escape(chart_id)}" class="chart timeline" xmlns="http://www.w3.org/2000/svg" '
           f'viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="timeline: which building opens which service in which phase">']
    for t, name in enumerate(phases):
        x = ml + t * col
        out.append(f'<rect x="{x:.1f}" y="{mt - 4}" width="{col:.1f}" height="{row_h * len(lines) + 8}" '
                   f'fill="{"#f7f8fa" if t % 2 == 0 else "#ffffff"}" stroke="#e3e6ea"/>'
                   f'<text x="{x + col / 2:.1f}" y="{mt - 12}" text-anchor="middle" font-size="12" '
                   f'font-weight="bold">{escape(str(name))}</text>')
    for i, (circle, r) in enumerate(lines):
        y = mt + i * row_h
        if r is None:
            out.append(f'<text class="circle-label" x="6" y="{y + 12}" font-size="12" font-weight="bold">'
                       f'{escape(circle)}</text>')
            continue
        t0 = int(r["phase_index"]) - 1
        service = str(r["service"])
        label = f'{r["site_id"]} {r["site_name"]}'
        what = f'{r["service_zh"]} {r["service_en"]}' if service else "改造 site converted (services later)"
        short = _short(str(r["site_id"]) + " " + _chinese(str(r["site_name"])), 16)
        out.append(f'<text x="{ml - 8}" y="{y + 12}" text-anchor="end" font-size="11">'
                   f'{escape(short)} · {escape(_short(str(r["service_zh"]) or "改造", 9))}</text>')
        x0 = ml + t0 * col + 4
        colour = CLASS_COLOURS.get(categories.get(service, ""), "#5c5f66")
        title = f'{label}: {what}, from {phases[t0]}, {float(r["cost"]):,.0f} 元'
        if service:
            out.append(f'<g class="tl-bar" data-site="{escape(str(r["site_id"]))}" data-service="{escape(service)}" '
                       f'data-phase="{t0 + 1}"><rect x="{x0:.1f}" y="{y + 3}" width="{ml + pw - x0 - 4:.1f}" '
                       f'height="{row_h - 6}" rx="3" fill="{colour}" opacity="0.85"/>'
                       f'<title>{escape(title)}</title></g>')
        if bool(r["site_converted"]):
            cx, cy = ml + t0 * col + 4, y + row_h / 2
            out.append(f'<path d="M{cx - 5:.1f},{cy:.1f} L{cx:.1f},{cy - 5:.1f} L{cx + 5:.1f},{cy:.1f} '
                       f'L{cx:.1f},{cy + 5:.1f} Z" fill="#b02a37"><title>{escape(label)}: converted in '
                       f'{escape(str(phases[t0]))}</title></path>')
    ly = mt + row_h * len(lines) + 22
    legend = [("#1f4e9c", "基础保障型 basic service"), ("#d9822b", "品质提升型 quality service")]
    for k, (colour, text) in enumerate(legend):
        out.append(f'<rect x="{ml + 200 * k}" y="{ly - 9}" width="14" height="10" fill="{colour}"/>'
                   f'<text x="{ml + 200 * k + 20}" y="{ly}" font-size="11">{escape(text)}</text>')
    out.append(f'<path d="M{ml + 405},{ly - 4} l5,-5 l5,5 l-5,5 Z" fill="#b02a37"/>'
               f'<text x="{ml + 420}" y="{ly}" font-size="11">site converted 场所改造</text>')
    if not lines:
        out.append(f'<text x="{ml}" y="{mt + 12}" font-size="12">no conversion</text>')
    out.append("</svg>")
    return "".join(out)


def _chinese(name: str) -> str:
    """The Chinese part of a bilingual name (``闲置商铺 vacant shop 2`` → ``闲置商铺``), else the name."""
    first = name.split(" ", 1)[0]
    return first if any(ord(ch) > 0x2E80 for ch in first) else name


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def coverage_by_phase_svg(labels: Sequence[str], joint: Mapping[str, Sequence[float]],
                          myopic: Mapping[str, Sequence[float]] | None = None, *,
                          chart_id: str = "coverage-by-phase-chart", width: int = 900, height: int = 360) -> str:
    """Shares within reach before the plan and after each phase, per age band (module docstring).

    Parameters
    ----------
    labels
        The x positions: ``before`` and the phase names.
    joint, myopic
        Age band label → shares (0–1), one per label; the myopic plan's dashed.
    """
    ml, mr, mt, mb = 64, 300, 16, 48
    pw, ph = width - ml - mr, height - mt - mb
    values = np.array([v for s in (joint, myopic or {}) for vals in s.values() for v in vals], dtype=float)
    finite = values[np.isfinite(values)]
    y_lo = max(0.0, float(finite.min()) - 0.05) if finite.size else 0.0
    y_hi = min(1.0, float(finite.max()) + 0.05) if finite.size else 1.0
    n = len(labels)

    def px(i: int) -> float:
        return ml + (i + 0.5) * pw / max(n, 1)

    def py(v: float) -> float:
        return mt + ph - (v - y_lo) / max(y_hi - y_lo, 1e-9) * ph

    out = [f'<svg id="{escape(chart_id)}" class="chart" xmlns="http://www.w3.org/2000/svg" '
           f'viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="share of residents × services within reach, phase by phase">',
           f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fafbfc" stroke="#ccc"/>']
    for tick in np.linspace(y_lo, y_hi, 5):
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" stroke="#e3e6ea"/>'
                   f'<text x="{ml - 6}" y="{py(tick) + 4:.1f}" text-anchor="end" font-size="11">'
                   f'{100 * tick:.0f} %</text>')
    for i, label in enumerate(labels):
        out.append(f'<text x="{px(i):.1f}" y="{mt + ph + 17}" text-anchor="middle" font-size="11">'
                   f'{escape(str(label))}</text>')
    out.append(f'<text transform="translate(14 {mt + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">'
               f'residents × services within reach 覆盖率</text>')
    k = 0
    for series, dash, suffix in ((joint, "", ""), (myopic or {}, ' stroke-dasharray="5 4"', " — myopic 逐期")):
        for i, (label, vals) in enumerate(series.items()):
            colour = PALETTE[i % len(PALETTE)]
            y = np.asarray(vals, dtype=float)
            pts = " ".join(f"{px(j):.1f},{py(float(v)):.1f}" for j, v in enumerate(y) if np.isfinite(v))
            out.append(f'<g class="series" data-label="{escape(label + suffix)}"><polyline fill="none" '
                       f'stroke="{colour}" stroke-width="2"{dash} points="{pts}"/>')
            for j, v in enumerate(y):
                if np.isfinite(v):
                    out.append(f'<circle cx="{px(j):.1f}" cy="{py(float(v)):.1f}" r="3" fill="{colour}">'
                               f'<title>{escape(label + suffix)}: {escape(str(labels[j]))} → {100 * v:.1f} %'
                               f'</title></circle>')
            out.append("</g>")
            if not suffix:
                ly = mt + 8 + 18 * k
                out.append(f'<line x1="{ml + pw + 14}" x2="{ml + pw + 34}" y1="{ly}" y2="{ly}" stroke="{colour}" '
                           f'stroke-width="2"/><text x="{ml + pw + 40}" y="{ly + 4}" font-size="11">'
                           f'{escape(label)}</text>')
                k += 1
    if myopic:
        ly = mt + 8 + 18 * k
        out.append(f'<line x1="{ml + pw + 14}" x2="{ml + pw + 34}" y1="{ly}" y2="{ly}" stroke="#555" '
                   f'stroke-width="2" stroke-dasharray="5 4"/><text x="{ml + pw + 40}" y="{ly + 4}" font-size="11">'
                   f'dashed: the myopic plan 逐期优化</text>')
    out.append("</svg>")
    return "".join(out)


def shares_by_phase(phase_coverage: pd.DataFrame, group_labels: Mapping[str, str]) -> tuple[list[str],
                                                                                           dict[str, list[float]]]:
    """From a phase coverage table: x labels (``before`` and the phases) and shares per age band (all ages first)."""
    phases = list(dict.fromkeys(phase_coverage["phase"].astype(str)))
    first = phase_coverage[phase_coverage["phase"].astype(str) == phases[0]]
    labels = ["before 规划前", *phases]
    series: dict[str, list[float]] = {}
    pop_all = float(first["population"].sum())
    series["所有年龄 All ages"] = [float(first["covered_before"].sum()) / pop_all if pop_all else float("nan")]
    for name in phases:
        rows = phase_coverage[phase_coverage["phase"].astype(str) == name]
        series["所有年龄 All ages"].append(float(rows["covered_after"].sum()) / pop_all if pop_all else float("nan"))
    for key, label in group_labels.items():
        g0 = first[first["age_group"] == key]
        pop = float(g0["population"].sum())
        if pop <= 0:
            continue
        vals = [float(g0["covered_before"].sum()) / pop]
        for name in phases:
            rows = phase_coverage[(phase_coverage["phase"].astype(str) == name) & (phase_coverage["age_group"] == key)]
            vals.append(float(rows["covered_after"].sum()) / pop)
        series[label] = vals
    return labels, series


__all__ = ["coverage_by_phase_svg", "shares_by_phase", "timeline_svg"]
