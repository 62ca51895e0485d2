"""Sweeps and rankings on the embedded district: what preparing once saves, what a ranking costs."""

from __future__ import annotations

import time

from benchmarks.registry import ROOT, Context, Row, case
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
