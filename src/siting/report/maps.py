"""Static PNG map of a plan (matplotlib), for printed documents."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from siting.pipeline import RunResult

CJK_FONT_NAMES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
                  "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "AR PL UMing CN")


CJK_FONT_FILES = ("NotoSansCJK", "NotoSerifCJK", "SourceHanSans", "wqy-zenhei", "wqy-microhei", "uming")


@cache
def cjk_font() -> str | None:
    """Name of an installed font that renders Chinese, or ``None`` (labels fall back to English).

    Looks in matplotlib's font list first, then among the system's font files (a font
    installed after matplotlib built its cache, e.g. Debian's ``fonts-noto-cjk``).
    """
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONT_NAMES:
        if name in installed:
            return name
    files = sorted(f for f in font_manager.findSystemFonts() if any(k in Path(f).name for k in CJK_FONT_FILES))
    for path in sorted(files, key=lambda f: ("Regular" not in f, "Sans" not in f, f)):
        try:
            font_manager.fontManager.addfont(path)
            name = font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
        if name:
            return str(name)
    return None


def draw_plan_map(run: RunResult, path: Path) -> None:
    """Draw demand coloured by coverage, candidate and chosen sites, existing facilities."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = cjk_font()
    if font:
        plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
    plt.rcParams["text.parse_math"] = False  # names from data are text: a '$' in a site id is not math
    district = run.prepared.district
    coverage = run.prepared.coverage
    plan = run.plan
    covered = coverage.covered(plan.hosts)
    pop = coverage.population
    # share of the (service, group) pairs a resident is covered for, population weighted
    num = np.zeros(len(district.demand))
    den = np.zeros(len(district.demand))
    for (_s, g), cov in zip(coverage.pairs, covered, strict=True):
        num += pop[:, g] * cov
        den += pop[:, g]
    share = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    fig, ax = plt.subplots(figsize=(8, 8), dpi=110)
    xy0 = district.demand.xy.min(axis=0) if len(district.demand) else np.zeros(2)
    d = district.demand.xy - xy0
    sc = ax.scatter(d[:, 0], d[:, 1], c=share, s=6 + 30 * pop.sum(axis=1) / max(pop.sum(axis=1).max(), 1),
                    cmap="RdYlGn", vmin=0, vmax=1, alpha=0.8, linewidths=0, label="residential buildings")
    fig.colorbar(sc, ax=ax, shrink=0.7, label="share of service needs covered after the plan")
    s = district.sites.xy - xy0
    used = plan.hosts.any(axis=1)
    ax.scatter(s[~used, 0], s[~used, 1], marker="s", s=28, facecolors="none", edgecolors="grey",
               label="idle sites not chosen")
    ax.scatter(s[used, 0], s[used, 1], marker="*", s=220, c="#1f4e9c", edgecolors="white",
               label="sites converted")
    keys = district.service_keys
    for j in np.flatnonzero(used):
        names = [run.prepared.catalogue.service(keys[k]).name_zh if font else keys[k]
                 for k in np.flatnonzero(plan.hosts[j])]
        ax.annotate(f"{district.sites.ids[j]}: " + ", ".join(names), s[j], fontsize=6.5,
                    xytext=(4, 4), textcoords="offset points")
    if len(district.existing):
        e = district.existing.xy - xy0
        ax.scatter(e[:, 0], e[:, 1], marker="^", s=40, c="#7a3b9c", label="existing facilities")
    ax.set_aspect("equal")
    ax.set_xlabel(f"metres east ({district.crs})")
    ax.set_ylabel("metres north")
    synthetic = (" — 示例数据 synthetic data" if font else " — synthetic data") if run.scenario.data.synthetic else ""
    ax.set_title(f"{(run.scenario.title if font else '') or run.scenario.name}: plan and coverage{synthetic}")
    ax.legend(loc="lower left", fontsize=7, framealpha=0.85)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
