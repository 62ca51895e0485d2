"""Every objective on the shared district: the shared optimizer beside the plain MIP, in one run.

The district instance (``../shared/benchmarks/district/generate.py``, read through
:mod:`benchmarks.district`, with siting's catalogue classes and capacity norms for the services
it knows, as in :mod:`benchmarks.cases_standards`) is run with each objective:

- ``median`` (walking time; the number of sites left to the budget),
- ``capacitated`` (residents served within the places of capacity-limited services),
- ``least_cost`` (targets: 50 % of every service × age group, or 60 % of what every allowed site
  together reaches where that is less; no budget row, so the targets decide the plan and its cost),
- ``fairness`` (max-min share over age groups, then coverage),
- ``standards`` (the default: gaps, basic, quality).

Each is solved twice, side by side, one thread, the same time limit (120 s at 20,000 × 1,000;
60 s at 2,000 × 200) and gap target (the goal: 1 %, fairness 2 %):

- ``plain``: the objective's whole model handed to HiGHS — what siting did before the shared
  optimizer (the same entry points with ``solver.isolate``, which keeps the whole-model path), in
  a child process killed 60 s after its limit (HiGHS does not check its limit everywhere);
- ``siting``: :func:`siting.pipeline.solve_prepared` — the shared optimizer.

Reported: status, objective, proven bound, gap, wall-clock seconds (the limit must hold within a
few seconds), whether the goal gap was met, and the machine's load (1-minute average) before
and after each solve: the machine is shared, compare ratios measured in one run.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

import yaml

from benchmarks.cases_standards import with_catalogue_classes
from benchmarks.district import district_scenario
from benchmarks.registry import Context, Row, case
from siting.data.scenario import load_scenario
from siting.pipeline import prepare, solve_prepared
from siting.pipeline.prepare import Prepared

PLAIN_GRACE_S = 60.0
COLUMNS = ("instance", "objective", "method", "status", "value", "bound", "gap", "goal", "met", "seconds",
           "time_limit_s", "vs_plain", "load_before", "load_after")
GOALS = {"median": 0.01, "capacitated": 0.01, "least_cost": 0.01, "fairness": 0.02, "standards": 0.01, "coverage": 0.01}


def objective_of(kind: str, raw: dict[str, Any], reachable: dict[tuple[str, str], float]) -> dict[str, Any]:
    """The scenario's ``objective`` section for ``kind``.

    Least cost: 50 % of every service × age group, or 60 % of the share every allowed site
    together reaches where that is less (a target no plan reaches is refused before solving).
    """
    if kind != "least_cost":
        return {"kind": kind}
    targets = {s["key"]: {g: round(min(0.5, 0.6 * reachable.get((s["key"], g), 1.0)), 4) for g in s["serves"]}
               for s in raw["catalogue"]["services"]}
    return {"kind": "least_cost", "targets": targets}


def reachable_shares(prepared: Prepared) -> dict[tuple[str, str], float]:
    """Per (service, age group): the share covered when every allowed site hosts every allowed service."""
    from siting.model.least_cost import unreachable_targets
    from siting.model.rules import SiteData
    from siting.model.structure import ShareTarget

    cov = prepared.coverage
    targets = [ShareTarget(f"{p}", (p,), 1.0) for p in range(len(cov.pairs))]
    short = {int(s.target.label): s.best_share for s in unreachable_targets(cov, SiteData.of(prepared.district.sites),
                                                                           prepared.rules, targets)}
    return {(cov.service_keys[s], cov.group_keys[g]): short.get(p, 1.0) for p, (s, g) in enumerate(cov.pairs)}


def objective_scenario(ctx: Context, demand: int, sites: int, kind: str, time_limit_s: float, gap: float,
                       reachable: dict[tuple[str, str], float] | None = None) -> Any:
    """The district scenario with the objective ``kind``, siting's classes and capacity norms."""
    path = district_scenario(ctx.shared, demand, sites)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    with_catalogue_classes(raw)
    raw["objective"] = objective_of(kind, raw, reachable or {})
    if kind == "least_cost":  # the cheapest plan reaching the targets: the budget must not make them clash
        raw["budget"] = float(raw["budget"]) * 1000
    raw["name"] = f"{raw['name']}-{kind}"
    raw["solver"] = {**raw.get("solver", {}), "time_limit_s": time_limit_s, "mip_gap": gap, "threads": 1}
    out = path.parent / f"scenario-{kind}.yaml"
    out.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_scenario(out)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _solve(prepared: Prepared, *, plain: bool) -> dict[str, Any]:
    scenario = prepared.scenario
    if plain:
        scenario = scenario.model_copy(update={"solver": scenario.solver.model_copy(update={"isolate": True})})
        prepared = replace(prepared, scenario=scenario)
    t0 = time.perf_counter()
    plan = solve_prepared(prepared)
    return {"status": plan.status.value, "value": plan.objective, "bound": plan.bound, "gap": plan.gap,
            "seconds": round(time.perf_counter() - t0, 2), "message": plan.message[:300]}


def _in_child(prepared: Prepared, conn: Connection) -> None:
    try:
        conn.send(_solve(prepared, plain=True))
    except Exception as e:  # the plain path's own failure (no plan, solver error) is a result
        conn.send({"status": f"no plan: {type(e).__name__}", "message": str(e)[:300]})


def _plain(prepared: Prepared, time_limit_s: float) -> dict[str, Any]:
    """The whole model in a child process, killed ``PLAIN_GRACE_S`` after its limit."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    t0 = time.perf_counter()
    proc = ctx.Process(target=_in_child, args=(prepared, child), daemon=True)
    proc.start()
    row: dict[str, Any] = {"value": float("nan"), "bound": float("nan"), "gap": float("inf")}
    if parent.poll(time_limit_s + PLAIN_GRACE_S):
        row.update(parent.recv())
        row.setdefault("seconds", round(time.perf_counter() - t0, 2))
    else:
        proc.kill()
        row.update(status=f"killed after {time.perf_counter() - t0:.0f} s, no answer",
                   seconds=round(time.perf_counter() - t0, 2))
    proc.join(5)
    return row


def _district(ctx: Context, demand: int, sites: int, time_limit_s: float, kinds: tuple[str, ...],
              plain: bool = True) -> list[Row]:
    ctx.require_shared("district", "generate.py")
    rows: list[Row] = []
    name = f"district {demand}×{sites}"
    reachable: dict[tuple[str, str], float] = {}
    for kind in kinds:
        goal = GOALS[kind]
        if kind == "least_cost" and not reachable:
            reachable = reachable_shares(prepare(objective_scenario(ctx, demand, sites, "coverage", time_limit_s,
                                                                    goal)))
        prepared = prepare(objective_scenario(ctx, demand, sites, kind, time_limit_s, goal, reachable))
        found: list[Row] = []
        for method in (("plain", "siting") if plain else ("siting",)):
            print(f"  {name} {kind}: {method}, {time_limit_s:g} s", flush=True)
            before = _load()
            got = _plain(prepared, time_limit_s) if method == "plain" else _solve(prepared, plain=False)
            row: Row = {"instance": name, "objective": kind, "method": method, "goal": goal,
                        "time_limit_s": time_limit_s, "load_before": before, "load_after": _load(), **got}
            row["met"] = bool(row.get("gap", float("inf")) <= goal * 1.0001 and row["seconds"] <= time_limit_s + 5)
            print(f"    {row}", flush=True)
            found.append(row)
        ref = next((r for r in found if r["method"] == "plain"), None)
        for r in found:
            v, p = r.get("value", float("nan")), (ref or {}).get("value", float("nan"))
            r["vs_plain"] = v / p if isinstance(p, float) and p == p and p != 0 and v == v else float("nan")
        rows += found
    return rows


KINDS = ("median", "capacitated", "least_cost", "fairness", "standards")


def chosen_kinds() -> tuple[str, ...]:
    """The objectives to run: all, or those named in ``SITING_BENCH_OBJECTIVES`` (comma-separated),
    e.g. ``SITING_BENCH_OBJECTIVES=standards`` re-measures the default objective alone."""
    names = [k.strip() for k in os.environ.get("SITING_BENCH_OBJECTIVES", "").split(",") if k.strip()]
    unknown = sorted(set(names) - set(KINDS))
    if unknown:
        raise SystemExit(f"SITING_BENCH_OBJECTIVES: unknown objective(s) {unknown}; known: {list(KINDS)}")
    return tuple(k for k in KINDS if k in names) or KINDS


@case("objectives-district-small", suites=("quick", "full"), columns=COLUMNS,
      title="Every objective, shared optimizer vs plain MIP: district 2,000 × 200 (60 s)")
def objectives_small(ctx: Context) -> list[Row]:
    """The quick district: every objective beside its plain MIP."""
    return _district(ctx, 2000, 200, 60.0, chosen_kinds())


@case("objectives-district", suites=("full",), columns=COLUMNS,
      title="Every objective, shared optimizer vs plain MIP: district 20,000 × 1,000 (goal: within 1 % in 120 s, "
            "fairness 2 %)")
def objectives_default(ctx: Context) -> list[Row]:
    """The common district instance: every objective beside its plain MIP."""
    return _district(ctx, 20000, 1000, 120.0, chosen_kinds())
