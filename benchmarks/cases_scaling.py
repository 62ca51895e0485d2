"""Scaling: time and memory of each stage of ``siting`` as the district grows.

A synthetic district (:mod:`benchmarks.growing_district`) of 1,000, 10,000, 50,000 and 200,000
buildings (one idle site per 20 buildings, all services of the catalogue) is written as a
scenario and run the way a planner runs it: :func:`siting.data.scenario.load_scenario`, then
:func:`siting.pipeline.prepare` (load, walking, coverage), :func:`siting.pipeline.solve_prepared`
(model build, solve) and :func:`siting.report.write_run_outputs` (report). Each size runs in
its own process; a thread samples the process's resident memory every 5 ms, and the peak of
each stage is read in the window the stage's own timing gives. The plain MIP of the same
coverage (no merging, no warm start) is then solved on the same backend with the same limit.
The quick suite runs the two smallest sizes; the figure plots time and memory per stage
against the number of buildings on log-log axes, so the order of growth reads as a slope.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.registry import Context, Row, RssSampler, case, rss_mb, run_worker

STAGES = ("load", "walking", "coverage", "model", "solve", "report")
SIZES = {"quick": (1_000, 10_000), "full": (1_000, 10_000, 50_000, 200_000)}
TIME_LIMIT = {"quick": 10.0, "full": 300.0}


def _district(n_demand: int, scratch: str, time_limit_s: float) -> Path:
    from benchmarks.growing_district import write_district

    folder = Path(scratch) / f"district-{n_demand}"
    if not (folder / "scenario.yaml").is_file():
        write_district(folder, n_demand, time_limit_s=time_limit_s)
    return folder


def worker(n_demand: int, scratch: str, time_limit_s: float) -> Row:
    """Run one district size through every stage (called in its own process)."""
    from siting.data.scenario import load_scenario
    from siting.pipeline import RunResult, prepare, solve_prepared
    from siting.report import write_run_outputs

    folder = _district(n_demand, scratch, time_limit_s)
    row: Row = {"start_mb": rss_mb()}
    with RssSampler() as mem:
        t0 = time.perf_counter()
        scenario = load_scenario(folder / "scenario.yaml")
        ts = time.perf_counter()
        prepared = prepare(scenario)
        t1 = time.perf_counter()
        plan = solve_prepared(prepared)
        t2 = time.perf_counter()
        write_run_outputs(RunResult(prepared, plan), folder / "out")
        t3 = time.perf_counter()
    pt = prepared.timings
    edges = {"load": (t0, ts + pt["load"])}
    edges["walking"] = (edges["load"][1], edges["load"][1] + pt["walking"])
    edges["coverage"] = (edges["walking"][1], t1)
    model_s = plan.timings.get("model", 0.0)
    edges["model"] = (t1, t1 + model_s)
    edges["solve"] = (t1 + model_s, t2)
    edges["report"] = (t2, t3)
    for stage, (a, b) in edges.items():
        row[f"{stage}_s"] = b - a
        row[f"{stage}_mb"] = mem.peak(a, b)
    cov = prepared.coverage
    row.update({
        "buildings": n_demand, "sites": len(prepared.district.sites), "services": len(cov.service_keys),
        "walk_pairs": prepared.walking.pairs_within_cutoff, "coverage_nnz": int(sum(r.nnz for r in cov.reach)),
        "status": plan.status.value, "objective": plan.objective, "bound": plan.bound, "gap": plan.gap,
        "total_s": t3 - t0, "peak_mb": max(row[f"{s}_mb"] for s in STAGES), "time_limit_s": time_limit_s,
    })
    return row


def plain_worker(n_demand: int, scratch: str, time_limit_s: float) -> Row:
    """The plain MIP of the same district's coverage, same backend and limit (own process)."""
    from benchmarks.growing_district import plain_covering_model
    from siting.data.scenario import load_scenario
    from siting.model.rules import SiteData
    from siting.pipeline import prepare
    from siting.solvers import SolveOptions, solve

    scenario = load_scenario(_district(n_demand, scratch, time_limit_s) / "scenario.yaml")
    prepared = prepare(scenario)
    d = prepared.district
    with RssSampler() as mem:
        t0 = time.perf_counter()
        plain = plain_covering_model(prepared.coverage, SiteData(d.sites.floor_area, d.sites.retrofit_cost,
                                                                 d.sites.allowed), prepared.rules)
        t1 = time.perf_counter()
        r = solve(plain, "highs", SolveOptions(time_limit_s=time_limit_s, mip_gap=scenario.solver.mip_gap,
                                               threads=scenario.solver.threads, seed=scenario.solver.seed))
        t2 = time.perf_counter()
    return {"plain_status": r.status.value, "plain_objective": r.objective, "plain_bound": r.bound,
            "plain_gap": r.gap, "plain_model_s": t1 - t0, "plain_solve_s": t2 - t1, "plain_mb": mem.peak(t0, t2),
            "plain_rows": plain.n_rows, "plain_nonzeros": int(plain.A.nnz)}


def plot(rows: list[Row], path: Path) -> None:
    """Time and peak memory per stage against buildings, log-log, with slope guides."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if isinstance(r.get("total_s"), float)]
    for r in ok:
        r.setdefault("plain_solve_s", math.nan)
    if not ok:
        return
    n = np.array([r["buildings"] for r in ok], dtype=float)
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(12, 5))
    for stage in STAGES:
        ax_t.plot(n, [max(r[f"{stage}_s"], 1e-4) for r in ok], marker="o", label=stage)
        ax_m.plot(n, [r[f"{stage}_mb"] for r in ok], marker="o", label=stage)
    ax_t.plot(n, [max(r["plain_solve_s"], 1e-4) for r in ok], marker="x", ls="--", color="k",
              label="plain MIP solve")
    stopped = [(x, r["solve_s"]) for x, r in zip(n, ok, strict=True) if r.get("status") != "optimal"]
    if stopped:
        ax_t.scatter(*zip(*stopped, strict=True), s=160, facecolors="none", edgecolors="red",
                     label="solve stopped by its time limit")
    if len(n) > 1:  # slope guides through the first point of the total
        t0 = ok[0]["total_s"]
        for k, style in ((1, ":"), (2, "-.")):
            ax_t.plot(n, t0 * (n / n[0]) ** k, color="grey", ls=style, lw=0.8, label=f"∝ n^{k}")
    ax_t.set(xscale="log", yscale="log", xlabel="buildings (demand points)", ylabel="seconds",
             title="Time per stage")
    ax_m.set(xscale="log", yscale="log", xlabel="buildings (demand points)", ylabel="peak resident MB",
             title="Peak memory during each stage (whole process)")
    ax_t.legend(fontsize=8, loc="upper left")
    ax_m.legend(fontsize=8, loc="upper left")
    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def growth(rows: list[Row], key: str) -> float:
    """Log-log slope of ``key`` between the two largest sizes that ran (the order of growth)."""
    ok = [r for r in rows if isinstance(r.get(key), float) and r[key] > 0]
    if len(ok) < 2:
        return math.nan
    a, b = ok[-2], ok[-1]
    return math.log(b[key] / a[key]) / math.log(b["buildings"] / a["buildings"])


COLUMNS = ("buildings", "sites", "coverage_nnz", *(f"{s}_s" for s in STAGES), "total_s",
           *(f"{s}_mb" for s in STAGES), "status", "gap", "plain_solve_s", "plain_status", "plain_gap",
           "solve_vs_plain", "agrees", "process_s", "process_peak_mb")


@case("scaling-district", title="Scaling: time (s) and peak memory (MB) per stage as the district grows",
      columns=COLUMNS, only_columns=True)
def scaling(ctx: Context) -> list[Row]:
    """Each size in its own process; the plot and the growth slopes follow the table."""
    limit = TIME_LIMIT[ctx.suite]
    rows: list[Row] = []
    for n in SIZES[ctx.suite]:
        spec = {"n_demand": n, "scratch": str(ctx.scratch), "time_limit_s": limit}
        row = run_worker("benchmarks.cases_scaling:worker", spec, timeout_s=2 * limit + 1800, max_rss_mb=16_000,
                         scratch=ctx.scratch)
        row.setdefault("buildings", n)
        plain = run_worker("benchmarks.cases_scaling:plain_worker", spec, timeout_s=2 * limit + 1800,
                           max_rss_mb=16_000, scratch=ctx.scratch)
        row["plain_process_s"] = plain.pop("process_s")
        row["plain_process_peak_mb"] = plain.pop("process_peak_mb")
        row.update({k if k.startswith("plain") else f"plain_{k}": v for k, v in plain.items()})
        _compare(ctx, row)
        rows.append(row)
        print(f"   {n:,} buildings: {row.get('status')} in {row.get('total_s', math.nan):.3g} s, "
              f"plain {row.get('plain_status')} in {row.get('plain_solve_s', math.nan):.3g} s", flush=True)
    plot(rows, ctx.figure("scaling-district"))
    if len(rows) > 1:
        slope: dict[str, Any] = {"buildings": "growth order (log-log slope, two largest sizes)"}
        for key in (*(f"{s}_s" for s in STAGES), "total_s", *(f"{s}_mb" for s in STAGES), "plain_solve_s"):
            slope[key] = growth(rows, key)
        rows.append(slope)
    return rows


def _compare(ctx: Context, row: Row) -> None:
    """``siting`` and the plain MIP solve the same problem: their optima must agree."""
    if not isinstance(row.get("objective"), float):
        row["agrees"] = f"siting: {row.get('status', 'no result')}"
        return
    if not isinstance(row.get("plain_solve_s"), float):
        row["agrees"] = f"plain: {row.get('plain_status', 'no result')}"
        return
    row["solve_vs_plain"] = row["plain_solve_s"] / max(row["solve_s"], 1e-9)
    a, b = row["objective"], row.get("plain_objective")
    tol = 1e-4 * max(1.0, abs(a), abs(b))  # both stop at the relative gap 1e-4
    if not isinstance(b, float) or math.isnan(b):
        row["agrees"] = "plain: no solution"
    elif a > row["plain_bound"] + tol or b > row["bound"] + tol:
        row["agrees"] = "MISMATCH"
        ctx.fail(f"district {row['buildings']:,}: siting {a} (bound {row['bound']}) and plain MIP {b} "
                 f"(bound {row['plain_bound']}) contradict each other")
    else:
        both_optimal = row.get("status") == row.get("plain_status") == "optimal"
        row["agrees"] = ("same optimum" if both_optimal and abs(a - b) <= tol
                         else f"within gaps ({a:,.0f} vs {b:,.0f})")
