"""Charts of the report: the coverage-vs-budget frontier as inline SVG (HTML) and PNG (print)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

PALETTE = ("#1f4e9c", "#d9822b", "#2f9e44", "#b02a37", "#7048e8", "#0c8599", "#5c5f66")


def _ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.array([lo])
    raw = (hi - lo) / n
    mag = 10 ** np.floor(np.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)


def _fmt_x(v: float) -> str:
    if abs(v) >= 1e6:
        return f"{v / 1e6:g} M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:g} k"
    return f"{v:g}"


def line_chart_svg(x: Sequence[float], series: Mapping[str, Sequence[float]], *, x_label: str, y_label: str,
                   highlight: float | None = None, width: int = 900, height: int = 380,
                   chart_id: str = "frontier-chart") -> str:
    """A line chart of shares (0–1) as self-contained SVG markup; every label escaped.

    Parameters
    ----------
    x
        X values (budgets, weights...).
    series
        Label → y values in [0, 1] (NaN points are skipped).
    x_label, y_label
        Axis titles.
    highlight
        An x value to mark with a vertical line (the plan's own budget).
    """
    ml, mr, mt, mb = 64, 300, 16, 48
    pw, ph = width - ml - mr, height - mt - mb
    xs = np.asarray(x, dtype=float)
    x_lo, x_hi = (float(np.nanmin(xs)), float(np.nanmax(xs))) if xs.size else (0.0, 1.0)
    if x_hi <= x_lo:
        x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
    ys = np.concatenate([np.asarray(v, dtype=float) for v in series.values()]) if series else np.zeros(1)
    y_hi = min(1.0, float(np.nanmax(ys)) + 0.05) if np.isfinite(ys).any() else 1.0
    y_lo = max(0.0, float(np.nanmin(ys)) - 0.05) if np.isfinite(ys).any() else 0.0

    def px(v: float) -> float:
        return ml + (v - x_lo) / (x_hi - x_lo) * pw

    def py(v: float) -> float:
        return mt + ph - (v - y_lo) / max(y_hi - y_lo, 1e-9) * ph

    out = [f'<svg id="{escape(chart_id)}" class="chart" xmlns="http://www.w3.org/2000/svg" '
           f'viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(y_label)}">',
           f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fafbfc" stroke="#ccc"/>']
    for t in _ticks(y_lo, y_hi):
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e3e6ea"/>'
                   f'<text x="{ml - 6}" y="{py(t) + 4:.1f}" text-anchor="end" font-size="11">{100 * t:.0f} %</text>')
    for t in _ticks(x_lo, x_hi):
        out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{mt + ph}" y2="{mt + ph + 4}" stroke="#888"/>'
                   f'<text x="{px(t):.1f}" y="{mt + ph + 17}" text-anchor="middle" font-size="11">'
                   f'{escape(_fmt_x(float(t)))}</text>')
    out.append(f'<text x="{ml + pw / 2}" y="{height - 8}" text-anchor="middle" font-size="12">{escape(x_label)}</text>')
    out.append(f'<text transform="translate(14 {mt + ph / 2}) rotate(-90)" text-anchor="middle" '
               f'font-size="12">{escape(y_label)}</text>')
    if highlight is not None and x_lo <= highlight <= x_hi:
        out.append(f'<line x1="{px(highlight):.1f}" x2="{px(highlight):.1f}" y1="{mt}" y2="{mt + ph}" '
                   f'stroke="#888" stroke-dasharray="4 3"/><text x="{px(highlight) + 4:.1f}" y="{mt + 12}" '
                   f'font-size="11" fill="#555">this plan</text>')
    for i, (label, vals) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        y = np.asarray(vals, dtype=float)
        ok = np.isfinite(xs) & np.isfinite(y)
        pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xs[ok], y[ok], strict=True))
        out.append(f'<g class="series" data-label="{escape(label)}">'
                   f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        for a, b in zip(xs[ok], y[ok], strict=True):
            out.append(f'<circle class="point" cx="{px(a):.1f}" cy="{py(b):.1f}" r="3.5" fill="{color}">'
                       f'<title>{escape(label)}: {escape(_fmt_x(float(a)))} → {100 * b:.1f} %</title></circle>')
        out.append("</g>")
        ly = mt + 8 + 18 * i
        out.append(f'<line x1="{ml + pw + 14}" x2="{ml + pw + 34}" y1="{ly}" y2="{ly}" stroke="{color}" '
                   f'stroke-width="2"/><text x="{ml + pw + 40}" y="{ly + 4}" font-size="11">{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def frontier_series(frontier: pd.DataFrame, group_labels: Mapping[str, str]) -> dict[str, list[float]]:
    """Shares per age group and for all ages from a frontier table (columns ``share_<group>``)."""
    series = {"所有年龄 All ages": frontier["share_all"].astype(float).tolist()}
    for key, label in group_labels.items():
        col = f"share_{key}"
        if col in frontier.columns and frontier[col].notna().any():
            series[label] = frontier[col].astype(float).tolist()
    return series


def frontier_png(x: Sequence[float], series: Mapping[str, Sequence[float]], path: Path, *, x_label: str,
                 title: str, highlight: float | None = None) -> None:
    """The same chart as a PNG for printed documents (drawn with Pillow: :mod:`siting.report.raster`)."""
    from siting.report.raster import Canvas, cjk_font_file

    cjk = cjk_font_file() is not None
    xs = np.asarray(x, dtype=float)
    ys = {label: 100 * np.asarray(vals, dtype=float) for label, vals in series.items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in ys.values()] + [np.zeros(0)])
    y_lo, y_hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 100.0)
    pad_y = 0.06 * max(y_hi - y_lo, 1.0)
    pad_x = 0.04 * max(float(xs.max() - xs.min()) if xs.size else 1.0, 1.0)
    canvas = Canvas(880, 495, (80, 40, 24, 52), cjk=cjk)
    canvas.limits((float(xs.min()) - pad_x, float(xs.max()) + pad_x) if xs.size else (0.0, 1.0),
                  (y_lo - pad_y, y_hi + pad_y))
    canvas.axes(x_label=x_label, y_label="residents × services covered, %", grid=True,
                title=title if cjk else title.encode("ascii", "ignore").decode().strip() or "frontier")
    if highlight is not None:
        canvas.line([highlight, highlight], [canvas.y0, canvas.y1], colour="#888888", width=1.0, dashed=True)
    entries: list[tuple[str, str, str | None, str | None]] = []
    for i, (label, vals) in enumerate(ys.items()):
        colour = PALETTE[i % len(PALETTE)]
        ok = np.isfinite(vals)
        if ok.sum() > 1:
            canvas.line(xs[ok].tolist(), vals[ok].tolist(), colour=colour, width=1.6)
        canvas.markers("circle", xs[ok], vals[ok], 3.0, fill=colour, outline=None)
        entries.append(("circle", label if cjk else label.split(" ", 1)[-1], colour, None))
    canvas.legend(entries, corner="lower right")
    canvas.save(path)


__all__ = ["frontier_png", "frontier_series", "line_chart_svg"]
