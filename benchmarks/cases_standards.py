"""The standards-first default objective on the shared district, beside today's coverage objective.

The district instance (``../shared/benchmarks/district/generate.py``, read through
:mod:`benchmarks.district`) is solved twice in one run, same time limit, same gap target,
one thread:

- ``coverage``: the weighted sum of residents × services newly covered, through
  :func:`siting.optimizer.covering.optimize_covering` (the objective of earlier versions);
- ``standards``: the default objective, through the pipeline (:func:`siting.pipeline.solve_prepared`):
  gaps, then the basic services' shares of their target populations served, then the quality
  services', with the capacity norms of siting's catalogue for the services of the instance
  that have one (elderly day care, childcare, canteen) and its classes (study room and night
  school are quality services, the others basic). The instance has no communities: the
  district is one.

Reported per method: status, the objective and bound and gap of the main stage (the coverage
objective; the standards' basic stage) and of every stage, wall-clock seconds.
"""

from __future__ import annotations

import time
from typing import Any

import yaml

from benchmarks.district import district_scenario
from benchmarks.registry import Context, Row, case
from siting.data.catalogue import default_catalogue
from siting.data.scenario import load_scenario
from siting.model.rules import SiteData
from siting.optimizer.covering import optimize_covering
from siting.pipeline import prepare, solve_prepared, solver_options

COLUMNS = ("instance", "method", "status", "objective", "bound", "gap", "seconds", "time_limit_s", "stages")


def with_catalogue_classes(raw: dict[str, Any]) -> None:
    """Give the district scenario's services siting's basic / quality class and capacity norm, where it knows them."""
    defaults = default_catalogue()
    known = set(defaults.service_keys)
    for entry in raw["catalogue"]["services"]:
        if entry["key"] in known:
            own = defaults.service(entry["key"])
            entry["category"] = own.category
            if own.m2_per_1000_target is not None:
                entry["m2_per_1000_target"] = own.m2_per_1000_target


def standards_scenario(ctx: Context, demand: int, sites: int, time_limit_s: float, gap: float) -> Any:
    """The district scenario with the default objective, the catalogue's classes and capacity norms."""
    path = district_scenario(ctx.shared, demand, sites)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    with_catalogue_classes(raw)
    raw["objective"] = {"kind": "standards"}
    raw["name"] = f"{raw['name']}-standards"
    raw["solver"] = {**raw.get("solver", {}), "time_limit_s": time_limit_s, "mip_gap": gap, "threads": 1}
    out = path.parent / "scenario-standards.yaml"
    out.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_scenario(out)


def _district(ctx: Context, demand: int, sites: int, time_limit_s: float, gap: float) -> list[Row]:
    ctx.require_shared("district", "generate.py")
    scenario = standards_scenario(ctx, demand, sites, time_limit_s, gap)
    t0 = time.perf_counter()
    prepared = prepare(scenario)
    prepare_s = time.perf_counter() - t0
    name = f"district {demand}×{sites}"
    rows: list[Row] = []
    print(f"  {name}: coverage objective, {time_limit_s:g} s", flush=True)
    t0 = time.perf_counter()
    sol = optimize_covering(prepared.coverage, SiteData.of(prepared.district.sites), prepared.rules,
                            options=solver_options(scenario))
    r = sol.result
    rows.append({"instance": name, "method": "coverage (optimize_covering)", "status": r.status.value,
                 "objective": r.objective, "bound": r.bound, "gap": r.gap,
                 "seconds": round(time.perf_counter() - t0, 2), "time_limit_s": time_limit_s, "stages": "",
                 "prepare_s": round(prepare_s, 2)})
    print(f"  {name}: standards first, {time_limit_s:g} s", flush=True)
    t0 = time.perf_counter()
    plan = solve_prepared(prepared)
    stages = "; ".join(f"{s.name} {s.status.value} {s.objective:.5g} (bound {s.bound:.5g}, gap {s.gap:.2%})"
                       for s in plan.stages)
    rows.append({"instance": name, "method": "standards first (default)", "status": plan.status.value,
                 "objective": plan.objective, "bound": plan.bound, "gap": plan.gap,
                 "seconds": round(time.perf_counter() - t0, 2), "time_limit_s": time_limit_s, "stages": stages,
                 "prepare_s": round(prepare_s, 2)})
    return rows


@case("standards-district-small", suites=("quick", "full"), columns=COLUMNS,
      title="Standards first vs coverage: district 2,000 × 200 (gap target 0.01 %, 60 s)")
def standards_small(ctx: Context) -> list[Row]:
    """The quick district: both objectives should be proven."""
    return _district(ctx, 2000, 200, 60.0, 1e-4)


@case("standards-district", suites=("full",), columns=COLUMNS,
      title="Standards first vs coverage: district 20,000 × 1,000 (goal: within 1 % in 120 s)")
def standards_default(ctx: Context) -> list[Row]:
    """The common district instance at the generator's defaults, gap target 1 %."""
    return _district(ctx, 20000, 1000, 120.0, 0.01)
