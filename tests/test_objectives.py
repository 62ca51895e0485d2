"""Fairness, floors, least cost and capacity: hand-computed optima, brute force, scenario wiring."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from siting.cli.app import app
from siting.data.scenario import load_scenario
from siting.errors import InfeasibleError, ScenarioError, SitingError
from siting.model.structure import ShareTarget
from siting.optimizer.objectives import ObjectiveSpec, optimize_objective
from siting.pipeline import run_scenario
from siting.solvers import SolveOptions, Status
from tiny_models import Tiny, covered, group_shares, make_tiny, plans, random_tiny, weighted_new

EXACT = SolveOptions(time_limit_s=30, mip_gap=0.0)
BOTH = (0, 1)  # the pairs (service 0, group A) and (service 0, group B)


def hand_made(extra_b: float = 0.0) -> Tiny:
    """One service for groups A and B; three sites; a budget of 3.

    Demand: p0 has 100 of A; p1 and p2 have 40 of B each (p3: ``extra_b`` of B, out of reach).
    Site S0 (cost 2) reaches p0; S1 (cost 1) reaches p1; S2 (cost 2) reaches p1 and p2.
    """
    pop = np.array([[100, 0], [0, 40], [0, 40], [0, extra_b]], dtype=float)
    reach = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1], [0, 0, 0]], dtype=bool)
    return make_tiny([(0, 0), (0, 1)], pop, [reach, reach], floor_area=np.full(3, 100.0),
                     retrofit_cost=np.array([2.0, 1.0, 2.0]), allowed=np.ones((3, 1), dtype=bool),
                     service_area=np.array([50.0]), service_fitout=np.array([0.0]), budget=3.0)


def chosen(hosts: np.ndarray) -> set[int]:
    return set(np.flatnonzero(hosts.any(axis=1)).tolist())


def test_max_min_share_hand_computed() -> None:
    # S0+S1 covers A 100 % and B 50 %: min 0.5; S1+S2 covers A 0 %; S0+S2 is over budget
    t = hand_made()
    sol = optimize_objective(t.coverage, t.sites, t.rules, ObjectiveSpec("fairness"), options=EXACT)
    assert sol.result.status is Status.OPTIMAL
    assert sol.result.objective == pytest.approx(0.5)
    assert chosen(sol.hosts) == {0, 1}


def test_floor_per_group_hand_computed() -> None:
    # elderly-style floor on B (90 %) forces S2; the best plan within 3 then covers 80 residents
    t = hand_made()
    spec = ObjectiveSpec("coverage", floors=(ShareTarget("g1", (1,), 0.9),))
    sol = optimize_objective(t.coverage, t.sites, t.rules, spec, options=EXACT)
    assert sol.result.objective == pytest.approx(80.0)
    assert 2 in chosen(sol.hosts)
    # without the floor the most coverage is S0 + S1 = 140
    free = optimize_objective(t.coverage, t.sites, t.rules, ObjectiveSpec("coverage", floors=()), options=EXACT)
    assert free.result.objective == pytest.approx(140.0)


def test_least_cost_hand_computed() -> None:
    t = hand_made()
    both = ObjectiveSpec("least_cost", targets=(ShareTarget("A", (0,), 1.0), ShareTarget("B", (1,), 0.5)))
    sol = optimize_objective(t.coverage, t.sites, t.rules, both, options=EXACT)
    assert sol.result.objective == pytest.approx(3.0) and chosen(sol.hosts) == {0, 1}
    only_b = ObjectiveSpec("least_cost", targets=(ShareTarget("B", (1,), 1.0),))
    sol = optimize_objective(t.coverage, t.sites, t.rules, only_b, options=EXACT)
    assert sol.result.objective == pytest.approx(2.0) and chosen(sol.hosts) == {2}


def test_least_cost_unreachable_target_is_named() -> None:
    t = hand_made(extra_b=20.0)  # 20 residents of B beyond every site
    spec = ObjectiveSpec("least_cost", targets=(ShareTarget("s0/g1", (1,), 1.0),),
                         field_of={"s0/g1": "objective.targets.s0.g1"})
    with pytest.raises(InfeasibleError, match=r"objective.targets.s0.g1.*covers 80.0%.*20 residents"):
        optimize_objective(t.coverage, t.sites, t.rules, spec, origin="plan.yaml")


def test_capacitated_hand_computed() -> None:
    # each facility serves at most 60: S0+S1 serve 60 + 40 = 100 (140 uncapacitated)
    t = hand_made()
    spec = ObjectiveSpec("capacitated", service_capacity=np.array([60.0]))
    sol = optimize_objective(t.coverage, t.sites, t.rules, spec, options=EXACT)
    assert sol.result.status is Status.OPTIMAL
    assert sol.result.objective == pytest.approx(100.0) and chosen(sol.hosts) == {0, 1}
    roomy = ObjectiveSpec("capacitated", service_capacity=np.array([1000.0]))
    sol = optimize_objective(t.coverage, t.sites, t.rules, roomy, options=EXACT)
    assert sol.result.objective == pytest.approx(140.0)


seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(seed=seeds)
def test_fairness_and_floors_equal_brute_force(seed: int) -> None:
    t = random_tiny(seed)
    feasible = list(plans(t))
    if not feasible or not group_shares(t, feasible[0][0]).size:
        return
    best_min = max(group_shares(t, h).min() for h, _c in feasible)
    sol = optimize_objective(t.coverage, t.sites, t.rules, ObjectiveSpec("fairness"), options=EXACT)
    assert sol.result.objective == pytest.approx(best_min, abs=1e-7)
    assert group_shares(t, sol.hosts).min() == pytest.approx(best_min, abs=1e-7)
    # the second stage: the most weighted coverage among the fairest plans
    fairest = [h for h, _c in feasible if group_shares(t, h).min() >= best_min - 1e-9]
    assert weighted_new(t, sol.hosts) == pytest.approx(max(weighted_new(t, h) for h in fairest), abs=1e-6)
    # floors at half of the best minimum
    floors = tuple(ShareTarget(f"g{g}", tuple(p for p, (_s, pg) in enumerate(t.coverage.pairs) if pg == g),
                               best_min / 2) for g in range(2) if any(pg == g for _s, pg in t.coverage.pairs))
    ok = [h for h, _c in feasible if all(
        (covered(t, h)[list(f.pairs)].sum() >= f.share * t.coverage.total_population()[list(f.pairs)].sum() - 1e-9)
        for f in floors)]
    sol = optimize_objective(t.coverage, t.sites, t.rules, ObjectiveSpec("coverage", floors=floors), options=EXACT)
    assert sol.result.objective == pytest.approx(max(weighted_new(t, h) for h in ok), abs=1e-6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(seed=seeds, share=st.sampled_from([0.25, 0.5, 0.8, 1.0]))
def test_least_cost_equals_brute_force(seed: int, share: float) -> None:
    t = random_tiny(seed)
    tot = t.coverage.total_population()
    targets = tuple(ShareTarget(f"p{p}", (p,), share) for p in range(len(t.coverage.pairs)) if p % 2 == 0)
    costs = [c for h, c in plans(t, budget=False)
             if all(covered(t, h)[f.pairs[0]] >= f.share * tot[f.pairs[0]] - 1e-9 for f in targets)]
    spec = ObjectiveSpec("least_cost", targets=targets)
    if not costs:
        with pytest.raises(InfeasibleError):
            optimize_objective(t.coverage, t.sites, t.rules, spec, options=EXACT)
        return
    sol = optimize_objective(t.coverage, t.sites, t.rules, spec, options=EXACT)
    assert sol.result.objective == pytest.approx(min(costs), abs=1e-6)


@pytest.mark.parametrize("backend", ["pulp-cbc", "ortools-cpsat", "ortools-scip"])
def test_objectives_on_other_backends(backend: str) -> None:
    t = hand_made()
    opts = SolveOptions(time_limit_s=30, mip_gap=0.0)
    fair = optimize_objective(t.coverage, t.sites, t.rules, ObjectiveSpec("fairness"), backend=backend, options=opts)
    assert fair.result.objective == pytest.approx(0.5, abs=1e-6)
    cost = optimize_objective(t.coverage, t.sites, t.rules, ObjectiveSpec(
        "least_cost", targets=(ShareTarget("B", (1,), 1.0),)), backend=backend, options=opts)
    assert cost.result.objective == pytest.approx(2.0)
    assert cost.result.status is Status.OPTIMAL


def test_scenario_fairness_end_to_end(write_tiny) -> None:
    path = write_tiny(seed=3, objective={"kind": "fairness"})
    plan = run_scenario(load_scenario(path)).plan
    assert plan.objective_kind == "fairness" and plan.status is Status.OPTIMAL
    by_group = plan.coverage.groupby("age_group")[["population", "covered_after"]].sum()
    shares = by_group.covered_after / by_group.population
    assert plan.objective == pytest.approx(shares[by_group.population > 0].min(), abs=1e-4)
    assert plan.cost <= plan.budget + 1e-6


def test_scenario_least_cost_end_to_end(write_tiny) -> None:
    path = write_tiny(seed=4, objective={"kind": "least_cost", "targets": {"health_station": {"working": 0.3}}})
    plan = run_scenario(load_scenario(path)).plan
    assert plan.objective_kind == "least_cost"
    assert plan.objective == pytest.approx(plan.cost)
    row = plan.coverage.query("service == 'health_station' and age_group == 'working'").iloc[0]
    assert row.covered_after >= 0.3 * row.population - 1e-6


@pytest.mark.parametrize("objective, message", [
    ({"kind": "fairness", "floors": {"teenagers": 0.5}}, "'teenagers' is not an age group"),
    ({"kind": "coverage", "targets": {"canteen": {"elderly": 0.5}}}, "targets apply to kind least_cost"),
    ({"kind": "least_cost"}, "least_cost needs at least one target"),
    ({"kind": "least_cost", "targets": {"canteen": {"children": 0.5}}}, "canteen does not serve children"),
    ({"kind": "least_cost", "targets": {"library": {"elderly": 0.5}}}, "unknown service 'library'"),
])
def test_scenario_objective_mistakes_are_named(write_tiny, objective: dict, message: str) -> None:
    path = write_tiny(seed=1, objective=objective)
    with pytest.raises(SitingError, match=message):
        run_scenario(load_scenario(path))


def test_share_out_of_range_is_a_schema_error(write_tiny) -> None:
    path = write_tiny(seed=1, objective={"kind": "coverage", "floors": {"elderly": 90}})
    with pytest.raises(ScenarioError, match=r"objective.floors.*between 0 and 1"):
        load_scenario(path)


def test_cli_unreachable_target_exits_2(write_tiny) -> None:
    path = write_tiny(seed=2, objective={"kind": "least_cost", "targets": {"elderly_day_care": {"elderly": 1.0}}})
    raw = yaml.safe_load(path.read_text())
    assert raw["objective"]["kind"] == "least_cost"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(path.parent / "out")],
                                standalone_mode=False, catch_exceptions=True)
    assert isinstance(result.exception, InfeasibleError)
    assert "objective.targets.elderly_day_care.elderly" in str(result.exception)
