"""Sweeps and rankings on the embedded district: what preparing once saves, what a ranking costs."""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.registry import ROOT, Context, Row, before_tree, case
from siting.data.scenario import load_scenario
from siting.pipeline import prepare, run_scenario, solve_prepared
from siting.studies.ranking import RankingSettings, ranking_tasks
from siting.studies.resolve import solve_many
from siting.studies.sweep import parse_vary, sweep_tasks, sweep_variants

SCENARIO = ROOT / "scenarios" / "baseline.yaml"


@case("report-sweep-prepare-once", title="Budget sweep (5 budgets, default district): prepare once vs every time",
      columns=("mode", "variants", "prepares", "seconds", "ratio_to_prepare_once"))
def sweep_prepare_once(ctx: Context) -> list[Row]:
    sc = load_scenario(SCENARIO)
    variants = sweep_variants(sc, [parse_vary("budget=4e6:20e6:5")])
    t0 = time.perf_counter()
    once = solve_many(sweep_tasks(variants))
    t_once = time.perf_counter() - t0
    t0 = time.perf_counter()
    each = [run_scenario(v.scenario).plan for v in variants]
    t_each = time.perf_counter() - t0
    for a, b in zip(once, each, strict=True):
        assert a.plan is not None and abs(a.plan.objective - b.objective) <= 1e-6 * max(1.0, b.objective)
    return [{"mode": "prepare once (siting sweep)", "variants": len(variants), "prepares": 1,
             "seconds": round(t_once, 2), "ratio_to_prepare_once": 1.0},
            {"mode": "prepare every variant", "variants": len(variants), "prepares": len(variants),
             "seconds": round(t_each, 2), "ratio_to_prepare_once": round(t_each / t_once, 3)}]


@case("report-ranking", title="Ranking the default plan: re-solves against the plan's own solve",
      columns=("what", "solves", "seconds", "seconds_per_solve", "ratio_to_plan_solve"))
def ranking_cost(ctx: Context) -> list[Row]:
    sc = load_scenario(SCENARIO)
    t0 = time.perf_counter()
    prepared = prepare(sc)
    t_prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    plan = solve_prepared(prepared)
    t_plan = time.perf_counter() - t0
    settings = RankingSettings(samples=8)
    tasks = ranking_tasks(prepared, plan, settings)
    t0 = time.perf_counter()
    solve_many(tasks)
    t_rank = time.perf_counter() - t0
    return [{"what": "prepare (walking, coverage)", "solves": 0, "seconds": round(t_prep, 3),
             "seconds_per_solve": None, "ratio_to_plan_solve": round(t_prep / t_plan, 3)},
            {"what": "the plan", "solves": 1, "seconds": round(t_plan, 2), "seconds_per_solve": round(t_plan, 2),
             "ratio_to_plan_solve": 1.0},
            {"what": "ranking: options removed + 8 perturbed samples", "solves": len(tasks),
             "seconds": round(t_rank, 2), "seconds_per_solve": round(t_rank / len(tasks), 2),
             "ratio_to_plan_solve": round(t_rank / t_plan, 2)}]


#: The scenario of ``make demo``.
DEMO = ROOT / "scenarios" / "jiangbei-yubei.yaml"


def _timed_run(src: Path, out: Path, *extra: str, scenario: Path = DEMO) -> tuple[float, dict[str, float]]:
    """Wall seconds of ``siting run`` (``make demo``'s scenario unless ``scenario``) with the package of ``src``
    (a ``src`` folder), and its timings."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "siting.cli", "run", str(scenario), "--out", str(out), *extra], env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    timings = json.loads((out / "summary.json").read_text(encoding="utf-8")).get("timings_s", {})
    return wall, {k: float(v) for k, v in timings.items()}


def _source_trees() -> dict[str, Path]:
    """The ``src`` folders to time: this checkout's, then the one ``SITING_BENCH_BEFORE`` names (if any)."""
    trees = {"this checkout": ROOT / "src"}
    before = before_tree()
    if before:
        trees["before (" + before.name + ")"] = before / "src"
    return trees


@case("overhead-run", title="siting run on the default scenario, end to end (a new process each time; best and "
      "median of 3, alternating with the previous source tree when SITING_BENCH_BEFORE names one)",
      columns=("code", "mode", "best_s", "median_s", "runs_s", "solve_s", "ratio_best_to_before"))
def overhead_run(ctx: Context) -> list[Row]:
    import statistics

    trees = _source_trees()
    modes = {"--no-analysis": ("--no-analysis",), "with the analysis, sync": ("--scheduler", "sync"),
             "with the analysis, processes (2 cores)": ("--scheduler", "processes")}
    runs: dict[tuple[str, str], list[float]] = {}
    solve: dict[tuple[str, str], list[float]] = {}
    for _rep in range(3):
        for mode, extra in modes.items():
            for code, src in trees.items():
                wall, timings = _timed_run(src, ctx.scratch / "overhead", *extra)
                runs.setdefault((code, mode), []).append(wall)
                solve.setdefault((code, mode), []).append(timings.get("solver_total", float("nan")))
    rows: list[Row] = []
    for mode in modes:
        ref = min(runs[(list(trees)[-1], mode)])
        for code in trees:
            r = runs[(code, mode)]
            rows.append({"code": code, "mode": mode, "best_s": round(min(r), 2),
                         "median_s": round(statistics.median(r), 2), "runs_s": [round(x, 2) for x in r],
                         "solve_s": round(min(solve[(code, mode)]), 2),
                         "ratio_best_to_before": round(min(r) / ref, 3) if len(trees) > 1 else None})
    return rows


@case("overhead-phased", title="siting run scenarios/phased.yaml --no-analysis, end to end (a new process each time; "
      "three runs each, alternating with the previous source tree when SITING_BENCH_BEFORE names one)",
      columns=("code", "best_s", "median_s", "runs_s", "stages", "same_schedule", "ratio_best_to_before"))
def overhead_phased(ctx: Context) -> list[Row]:
    """The plan in three phases of the embedded district: the joint model's stages on HiGHS."""
    import json
    import statistics

    trees = _source_trees()
    scenario = ROOT / "scenarios" / "phased.yaml"
    runs: dict[str, list[float]] = {code: [] for code in trees}
    stages: dict[str, str] = {}
    schedules: dict[str, bytes] = {}
    for _rep in range(3):
        for code, src in trees.items():
            out = ctx.scratch / "overhead-phased"
            wall, _timings = _timed_run(src, out, "--no-analysis", scenario=scenario)
            runs[code].append(wall)
            summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
            stages[code] = "; ".join(f"{s['stage']} {s['status']} {s['objective']:.6g}"
                                     for s in summary["phases"]["objective_over_time"])
            schedules[code] = (out / "schedule.csv").read_bytes()
    ref = min(runs[list(trees)[-1]])
    first = schedules[next(iter(trees))]
    return [{"code": code, "best_s": round(min(r), 2), "median_s": round(statistics.median(r), 2),
             "runs_s": [round(x, 2) for x in r], "stages": stages[code], "same_schedule": schedules[code] == first,
             "ratio_best_to_before": round(min(r) / ref, 3) if len(trees) > 1 else None}
            for code, r in runs.items()]


@case("analysis-objectives", title="siting run with the analysis on the walking-time and fairness scenarios, end "
      "to end (a new process each time, 2 worker processes; one run each, alternating with the previous source tree "
      "when SITING_BENCH_BEFORE names one)",
      columns=("scenario", "code", "seconds", "solve_s", "objective", "bound", "ratio_to_before"))
def analysis_objectives(ctx: Context) -> list[Row]:
    """The re-solves of the ranking and frontier for the objectives other than the default."""
    import json

    trees = _source_trees()
    rows: list[Row] = []
    for name in ("median", "fairness"):
        scenario = ROOT / "scenarios" / f"{name}.yaml"
        got: dict[str, Row] = {}
        for code, src in trees.items():
            out = ctx.scratch / f"overhead-{name}"
            wall, timings = _timed_run(src, out, "--scheduler", "processes", scenario=scenario)
            summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
            got[code] = {"scenario": f"scenarios/{name}.yaml", "code": code, "seconds": round(wall, 2),
                         "solve_s": round(timings.get("solver_total", float("nan")), 2),
                         "objective": summary.get("objective"), "bound": summary.get("bound")}
        ref = got[list(trees)[-1]]["seconds"]
        for row in got.values():
            row["ratio_to_before"] = round(float(row["seconds"]) / float(ref), 3) if len(trees) > 1 else None
            rows.append(row)
    return rows


@case("analysis-starts", title="The re-solves of the analysis with and without the plan they vary as a start, in "
      "pairs in one process (the order alternating), on the walking-time, fairness and default scenarios",
      columns=("scenario", "resolves", "with_start_s", "without_start_s", "ratio", "same_objective"))
def analysis_starts(ctx: Context) -> list[Row]:
    """What starting each re-solve from the plan it varies saves, task by task."""
    import dataclasses

    from siting.studies.analysis import analysis_tasks
    from siting.studies.resolve import solve_task

    rows: list[Row] = []
    for name in ("median", "fairness", "jiangbei-yubei"):
        run = run_scenario(load_scenario(ROOT / "scenarios" / f"{name}.yaml"))
        tasks = [t for t in analysis_tasks(run) if t.start is not None]
        seconds = {True: 0.0, False: 0.0}
        same = 0
        for i, task in enumerate(tasks):
            pair = [task, dataclasses.replace(task, start=None)]
            values = {}
            for t in (pair if i % 2 == 0 else pair[::-1]):
                t0 = time.perf_counter()
                got = solve_task(t)
                seconds[t.start is not None] += time.perf_counter() - t0
                values[t.start is not None] = got.plan.objective if got.plan is not None else None
            a, b = values[True], values[False]
            same += int((a is None and b is None)
                        or (a is not None and b is not None and abs(a - b) <= 1e-6 * max(1.0, abs(b))))
        rows.append({"scenario": f"scenarios/{name}.yaml", "resolves": len(tasks),
                     "with_start_s": round(seconds[True], 2), "without_start_s": round(seconds[False], 2),
                     "ratio": round(seconds[True] / seconds[False], 3) if seconds[False] else None,
                     "same_objective": f"{same} of {len(tasks)}"})
    return rows
