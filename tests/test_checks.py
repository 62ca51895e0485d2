"""The requirement checks are sound: whatever they call impossible, the solver proves impossible.

Random small districts with random budgets, min/max sites, forced sites: every time
:func:`~siting.pipeline.checks.requirement_problems` reports a problem, HiGHS (solving the model without
the check) must find the requirements infeasible — or, for "the budget buys nothing", a plan
that places no service at all. And a check that reports nothing must never be contradicted by
a plan that breaks a requirement.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from siting.coverage import build_coverage, walk_cutoff_m
from siting.data.catalogue import build_catalogue
from siting.data.district import Demand, District, Existing, Sites
from siting.model.covering import build_covering_model
from siting.model.rules import PlanningRules, SiteData
from siting.pipeline.checks import requirement_problems
from siting.solvers import SolveOptions, Status, solve
from siting.walking import euclidean_reach

SERVICES = ("health_station", "canteen", "elderly_day_care")
BUYS_NOTHING = ("below the cheapest conversion", "no site can host any service")


def _instance(seed: int) -> tuple[District, PlanningRules]:
    rng = np.random.default_rng(seed)
    catalogue = build_catalogue(services=SERVICES)
    n, m, k = 20, 6, len(SERVICES)
    demand = Demand(np.array([f"D{i}" for i in range(n)], dtype=object), rng.uniform(0, 900, (n, 2)),
                    rng.integers(0, 80, (n, len(catalogue.group_keys))).astype(float))
    area = rng.choice([120.0, 300.0, 700.0, 1500.0], m)
    cost = np.round(area * rng.uniform(800, 1600, m), -3)
    sites = Sites(np.array([f"S{j}" for j in range(m)], dtype=object), np.array([""] * m, dtype=object),
                  np.array([""] * m, dtype=object), rng.uniform(0, 900, (m, 2)), area, cost, rng.random((m, k)) < 0.7)
    district = District("checks", "EPSG:32648", demand, sites, Existing(
        np.array([], dtype=object), np.array([], dtype=object), np.array([], dtype=np.int64), np.zeros((0, 2))),
        catalogue.service_keys, catalogue.group_keys)
    force_in = np.zeros(m, dtype=bool)
    force_out = np.zeros(m, dtype=bool)
    chosen = rng.permutation(m)
    force_in[chosen[:rng.integers(0, 3)]] = True
    force_out[chosen[3:3 + rng.integers(0, 3)]] = True
    rules = PlanningRules(
        budget=float(rng.uniform(0.02, 1.2) * cost.sum()),
        service_area=np.array([s.floor_area_m2 for s in catalogue.services]),
        service_fitout=np.array([s.fitout_cost for s in catalogue.services]),
        service_weight=np.ones(k), group_weight=np.ones(len(catalogue.group_keys)),
        min_sites=rng.integers(0, 3, k) * (rng.random(k) < 0.5),
        max_sites=np.where(rng.random(k) < 0.5, -1, rng.integers(0, 4, k)),
        force_in=force_in, force_out=force_out)
    return district, rules


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 10**6))
def test_reported_requirement_problems_are_real(seed: int) -> None:
    district, rules = _instance(seed)
    catalogue = build_catalogue(services=SERVICES)
    problems = [str(p) for p in requirement_problems("scenario.yaml", catalogue, district, rules)]
    cutoff = walk_cutoff_m(catalogue)
    coverage = build_coverage(district, catalogue,
                              euclidean_reach(district.demand.xy, district.sites.xy, detour=1.3, cutoff_m=cutoff),
                              euclidean_reach(district.demand.xy, district.existing.xy, detour=1.3, cutoff_m=cutoff))
    s = district.sites
    model = build_covering_model(coverage, SiteData(s.floor_area, s.retrofit_cost, s.allowed), rules)
    result = solve(model.milp, "highs", SolveOptions(mip_gap=0.0))
    assert result.status in (Status.OPTIMAL, Status.INFEASIBLE)
    if result.status is Status.INFEASIBLE:
        return  # the checks are necessary conditions, not a complete proof: they may miss some
    hosts = model.hosts(result.solution)
    real = [p for p in problems if not any(b in p for b in BUYS_NOTHING)]
    assert not real, (real, hosts)  # a feasible plan exists: no requirement may be called impossible
    if problems:  # the budget buys nothing: the best plan places no service
        assert not hosts.any()
