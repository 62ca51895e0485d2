"""Scale-out on Dask: a 32-variant budget sweep on 1 vs 2 local workers; a city batch in process vs 2 workers.

Worker start-up (processes spawned, ``siting`` imported on each worker) is timed apart from
the work itself; the speed-up compares the work only, measured side by side in one run.
Every configuration must return the same plans, which each row reports.

The sweep also runs the same solves on two plain processes (``concurrent.futures``, no Dask)
as a control: on a shared machine it shows how much parallelism the machine gave at that
moment, so that Dask's own overhead can be read off the difference.
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.registry import ROOT, Context, Row, case
from siting.data.scenario import load_scenario
from siting.execution import Executor, TaskResult
from siting.pipeline import prepare
from siting.studies.variants import Variant, apply_overrides, solve_variants, solve_with_rules

SCENARIO = ROOT / "scenarios" / "jiangbei-yubei.yaml"


def _open(scheduler: str) -> tuple[Executor, float]:
    t0 = time.perf_counter()
    ex = Executor(scheduler)
    ex.start()
    if ex.client is not None:  # import siting on every worker before the clock starts
        ex.client.run(importlib.import_module, "siting.city.batch")
    return ex, time.perf_counter() - t0


def _signature(results: list[TaskResult]) -> list[Any]:
    return [(r.key, r.error) if not r.ok else (r.key, r.value.objective, r.value.hosts.tobytes()) for r in results]


def _plain_processes(sc: Any, variants: list[Variant]) -> tuple[float, float, list[Any]]:
    """The control: the same solves on 2 plain worker processes."""
    prepared = prepare(sc)
    scenarios = [apply_overrides(sc, v.overrides) for v in variants]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"),
                             initializer=importlib.import_module, initargs=("siting.studies.variants",)) as pool:
        list(pool.map(abs, range(4)))
        start_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        plans = list(pool.map(solve_with_rules, [prepared] * len(variants), scenarios))
        wall = time.perf_counter() - t1
    return start_s, wall, [(v.name, p.objective, p.hosts.tobytes()) for v, p in zip(variants, plans, strict=True)]



def _dask_sweep(sc: Any, variants: list[Variant], scheduler: str) -> tuple[float, float, float, list[Any], int]:
    ex, start_s = _open(scheduler)
    try:
        t0 = time.perf_counter()
        results = solve_variants(sc, variants, executor=ex)
        wall = time.perf_counter() - t0
    finally:
        ex.close()
    return start_s, wall, sum(r.seconds for r in results), _signature(results), sum(not r.ok for r in results)


def _sweep(n_variants: int, repeats: int) -> list[Row]:
    """Each configuration ``repeats`` times, interleaved; the fastest run of each is reported."""
    sc = load_scenario(SCENARIO)
    variants = [Variant(f"budget={b:.0f}", {"budget": float(b)}) for b in np.linspace(4e6, 40e6, n_variants)]
    runs: dict[str, list[tuple[float, float, float | None, list[Any], int]]] = {}
    for _ in range(repeats):
        for scheduler in ("local:1", "local:2"):
            runs.setdefault(scheduler, []).append(_dask_sweep(sc, variants, scheduler))
        start_s, wall, sig = _plain_processes(sc, variants)
        runs.setdefault("control", []).append((start_s, wall, None, sig, 0))
    reference = runs["local:1"][0][3]
    base_s = min(r[1] for r in runs["local:1"])
    rows: list[Row] = []
    for name, label in (("local:1", "Dask, 1 worker"), ("local:2", "Dask, 2 workers"),
                        ("control", "control: 2 plain processes, no Dask")):
        best = min(runs[name], key=lambda r: r[1])
        rows.append({"run": label, "variants": n_variants, "repeats": repeats, "start_up_s": round(best[0], 2),
                     "sweep_s": round(best[1], 2), "task_s_sum": None if best[2] is None else round(best[2], 2),
                     "speed_up": round(base_s / best[1], 2), "failed": best[4],
                     "same_plans_as_1_worker": all(r[3] == reference for r in runs[name])})
    return rows


@case("dask-sweep-32", suites=("full",), title="Budget sweep of the Jiangbei district, 32 variants: 1 vs 2 local "
      "Dask workers", columns=("run", "variants", "repeats", "start_up_s", "sweep_s", "task_s_sum", "speed_up",
                               "failed", "same_plans_as_1_worker"))
def sweep_32(ctx: Context) -> list[Row]:
    """32 budgets from 4 to 40 million yuan, the district prepared once and shared; best of 2."""
    return _sweep(32, repeats=2)


@case("dask-sweep-8", suites=("quick",), title="Budget sweep of the Jiangbei district, 8 variants: 1 vs 2 local "
      "Dask workers", columns=("run", "variants", "repeats", "start_up_s", "sweep_s", "task_s_sum", "speed_up",
                               "failed", "same_plans_as_1_worker"))
def sweep_8(ctx: Context) -> list[Row]:
    """The quick version: 8 budgets, once."""
    return _sweep(8, repeats=1)


def _write_city(ctx: Context, n_demand: int, n_sites: int, circles: int) -> Path:
    """A synthetic city from the shared district generator, split into ``circles`` clusters."""
    gen_dir = ctx.require_shared("district")
    sys.path.insert(0, str(gen_dir))
    try:
        generate = importlib.import_module("generate")
    finally:
        sys.path.remove(str(gen_dir))
    folder = ctx.scratch / f"city-{n_demand}"
    inst = generate.generate(n_demand, n_sites, 7)
    generate.write(inst, folder)
    services = [s[0] for s in generate.SERVICES]
    city = {"name": f"synthetic-city-{n_demand}", "budget": inst["budget"],
            "data": {"demand": "demand.csv", "sites": "sites.csv", "existing": "existing.csv", "crs": "EPSG:32648"},
            "services": services, "walking": {"mode": "euclidean", "detour": 1.3},
            "solver": {"mip_gap": 1e-4, "time_limit_s": 60},
            "circles": {"count": circles, "seed": 0}, "pricing": {"gap": 0.005, "max_rounds": 20}}
    path = folder / "city.yaml"
    path.write_text(yaml.safe_dump(city))
    return path


@case("dask-batch-city", suites=("full",), title="City batch (shared district generator, 20,000 buildings, 1,000 "
      "sites, 24 life circles): in process vs 2 local Dask workers",
      columns=("scheduler", "circles", "rounds", "start_up_s", "batch_s", "speed_up", "objective", "bound", "gap",
               "cost", "budget", "same_plan_as_in_process"))
def batch_city(ctx: Context) -> list[Row]:
    """The whole city budget shared among 24 circles by pricing it; every round is 24 parallel tasks."""
    from siting.city.batch import run_batch
    from siting.city.files import load_city

    path = _write_city(ctx, 20_000, 1_000, 24)
    rows: list[Row] = []
    reference = None
    base_s = None
    for scheduler in ("sync", "local:2"):
        ex, start_s = _open(scheduler)
        try:
            t0 = time.perf_counter()
            result = run_batch(load_city(path), executor=ex)
            wall = time.perf_counter() - t0
        finally:
            ex.close()
        sig = (result.objective, result.bound, [p.hosts.tobytes() for p in result.plans])
        reference = reference or sig
        base_s = base_s or wall
        rows.append({"scheduler": scheduler, "circles": len(result.circles), "rounds": len(result.rounds),
                     "start_up_s": round(start_s, 2), "batch_s": round(wall, 2), "speed_up": round(base_s / wall, 2),
                     "objective": round(result.objective), "bound": round(result.bound), "gap": round(result.gap, 5),
                     "cost": round(result.cost), "budget": round(result.budget),
                     "same_plan_as_in_process": sig == reference})
    return rows
