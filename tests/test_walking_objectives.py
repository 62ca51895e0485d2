"""Walking-time objectives: the p-median and the tie-breaker against brute force, a hand-made tie, wiring."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from siting.data.scenario import load_scenario
from siting.errors import InfeasibleError, ScenarioError
from siting.model.median import _same_sets, build_median_model
from siting.model.rules import SiteData
from siting.model.structure import ShareTarget
from siting.optimizer import radius as radius_mod
from siting.optimizer.covering import optimize_covering
from siting.optimizer.objectives import ObjectiveSpec, optimize_objective
from siting.optimizer.walking import break_tie, group_speeds, optimize_median, walking_times
from siting.pipeline import RunResult, prepare, run_scenario, solve_prepared
from siting.report.outputs import summary_dict
from siting.solvers import SolveOptions, Status
from siting.studies.analysis import analyse_run
from tiny_models import covered, plans, weighted_new
from tiny_walks import CUTOFF, WalkTiny, make_walk_tiny, random_walk_tiny, walking_minutes

EXACT = SolveOptions(time_limit_s=30, mip_gap=0.0)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def two_sites_tie() -> WalkTiny:
    """One service for one group; one demand point of 10 residents; a budget for one site.

    Site 0 is 600 m away, site 1 is 200 m away: both within the 700 m limit, so both plans
    cover the same residents; the nearer one walks 2 instead of 6 minutes (speed 100 m/min).
    """
    site_m = np.array([[600.0, 200.0]])
    return make_walk_tiny([(0, 0)], np.array([[10.0]]), site_m, np.zeros((1, 0)), np.zeros(0, dtype=np.int64),
                          [700.0], np.array([100.0 / 60.0]), floor_area=np.full(2, 100.0),
                          retrofit_cost=np.array([10.0, 10.0]), allowed=np.ones((2, 1), dtype=bool),
                          service_area=np.array([50.0]), service_fitout=np.array([0.0]), budget=10.0)


def test_tie_breaker_picks_the_nearer_of_two_plans_of_equal_coverage() -> None:
    w = two_sites_tie()
    t = w.t
    first = optimize_covering(t.coverage, t.sites, t.rules, options=EXACT)
    assert first.result.objective == pytest.approx(10.0)
    far = np.array([[True], [False]])  # a coverage-optimal plan, as the first stage may return it
    sol = break_tie(t.coverage, w.distances, w.speeds, t.sites, t.rules, far, first.result, options=EXACT)
    assert sol.hosts.tolist() == [[False], [True]]
    assert sol.result.status is first.result.status and sol.result.bound == first.result.bound
    assert sol.walking.total_minutes == pytest.approx(20.0)  # 10 residents × 2 minutes
    stage1, stage2 = sol.walking.stages
    assert (stage1.name, stage2.name) == ("coverage", "walking_time")
    assert stage1.objective == pytest.approx(10.0) and stage2.objective == pytest.approx(20.0)
    assert stage2.status is Status.OPTIMAL and stage2.gap == pytest.approx(0.0)
    row = sol.walking.table.iloc[0]
    assert row.mean_minutes == pytest.approx(2.0) and row.residents_beyond_cutoff == 0
    # the p-median on its own picks the same site
    med = optimize_median(t.coverage, w.distances, w.speeds, t.sites, t.rules, options=EXACT)
    assert med.hosts.tolist() == [[False], [True]] and med.objective == pytest.approx(20.0)


def test_walks_beyond_the_cutoff_count_as_the_cutoff() -> None:
    # a second point 1,500 m from site 1 (beyond the cutoff) and unreached by site 0
    w = two_sites_tie()
    site_m = np.array([[600.0, 200.0], [np.inf, np.inf]])
    w = make_walk_tiny([(0, 0)], np.array([[10.0], [5.0]]), site_m, np.zeros((2, 0)), np.zeros(0, dtype=np.int64),
                       [700.0], w.speeds, floor_area=np.full(2, 100.0), retrofit_cost=np.array([10.0, 10.0]),
                       allowed=np.ones((2, 1), dtype=bool), service_area=np.array([50.0]),
                       service_fitout=np.array([0.0]), budget=10.0)
    t = w.t
    med = optimize_median(t.coverage, w.distances, w.speeds, t.sites, t.rules, options=EXACT)
    assert med.objective == pytest.approx(20.0 + 5 * CUTOFF / 100.0)
    row = med.walking.table.iloc[0]
    assert row.residents_beyond_cutoff == 5 and row.residents_out_of_reach == 5
    assert "counted as the cutoff" in med.result.message and "5 residents" in med.result.message


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(seed=seeds)
def test_median_equals_brute_force(seed: int) -> None:
    w = random_walk_tiny(seed)
    t = w.t
    feasible = [h for h, _c in plans(t)]
    if not feasible:
        with pytest.raises(InfeasibleError):
            optimize_median(t.coverage, w.distances, w.speeds, t.sites, t.rules, options=EXACT)
        return
    best = min(walking_minutes(w, h) for h in feasible)
    sol = optimize_median(t.coverage, w.distances, w.speeds, t.sites, t.rules, options=EXACT)
    assert sol.result.status is Status.OPTIMAL
    assert sol.result.objective == pytest.approx(best, rel=1e-7, abs=1e-6)
    assert sol.objective == pytest.approx(best, rel=1e-7, abs=1e-6)
    assert walking_minutes(w, sol.hosts) == pytest.approx(best, rel=1e-7, abs=1e-6)
    assert any((sol.hosts == h).all() for h in feasible)  # a plan the rules allow
    # the per-group table adds up to the objective when the weights are one
    table = walking_times(sol.hosts, t.coverage, w.distances, w.speeds, t.sites, t.rules).table
    assert table["residents"].sum() == pytest.approx(sum(t.coverage.total_population()))


@pytest.mark.parametrize("master", [False, True], ids=["whole", "master-branch-and-cut"])
@pytest.mark.parametrize("seed", [180, 198, 249, 283, 419, 1325, 1945])
def test_median_equals_brute_force_where_it_once_did_not(seed: int, master: bool,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Instances of the generator above, found by running it on seeds 0-1,999, where the median was wrong.

    ``master``: as a large model is solved (no radius model handed whole to branch and bound, so HiGHS's
    branch and cut on the cutting-plane master where the budget binds), which is how these were found.

    With a site forced in and the budget binding, reduced-cost fixing closed every pair of the forced
    site (its ``y`` column, fixed at 1, has a reduced cost above the gap), so "optimal" plans walked
    up to 14 % more than the best one (seeds 198, 249, 419) or the search stopped unproven (180, 283);
    on seeds 1325 and 1945 HiGHS's presolved master MIP reported the optimum while its postsolved
    solution was another plan, so the search ended unproven with a worse plan.
    """
    if master:
        monkeypatch.setattr(radius_mod, "DIRECT_MAX_NONZEROS", 0)
    w = random_walk_tiny(seed)
    t = w.t
    best = min(walking_minutes(w, h) for h, _c in plans(t))
    sol = optimize_median(t.coverage, w.distances, w.speeds, t.sites, t.rules, options=EXACT)
    assert sol.result.status is Status.OPTIMAL
    assert walking_minutes(w, sol.hosts) == pytest.approx(best, rel=1e-7, abs=1e-6)
    assert sol.result.bound == pytest.approx(best, rel=1e-7, abs=1e-6)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(seed=seeds)
def test_tie_breaker_equals_lexicographic_brute_force(seed: int) -> None:
    w = random_walk_tiny(seed)
    t = w.t
    feasible = [h for h, _c in plans(t)]
    if not feasible:
        return
    most = max(weighted_new(t, h) for h in feasible)
    best = min(walking_minutes(w, h) for h in feasible if weighted_new(t, h) >= most - 1e-9)
    first = optimize_covering(t.coverage, t.sites, t.rules, options=EXACT)
    sol = break_tie(t.coverage, w.distances, w.speeds, t.sites, t.rules, first.hosts, first.result, options=EXACT)
    assert sol.result.status is Status.OPTIMAL
    assert weighted_new(t, sol.hosts) == pytest.approx(most, abs=1e-6)
    assert walking_minutes(w, sol.hosts) == pytest.approx(best, rel=1e-7, abs=1e-6)
    assert sol.walking.stages[1].objective == pytest.approx(best, rel=1e-7, abs=1e-6)


def test_warm_start_is_feasible_and_evaluates_the_plan() -> None:
    for seed in range(30):
        w = random_walk_tiny(seed)
        t = w.t
        weights = np.zeros((t.coverage.n_demand, len(t.coverage.service_keys)))
        for s, g in t.coverage.pairs:
            weights[:, s] += (t.rules.service_weight[s] * t.rules.group_weight[g] * t.coverage.population[:, g]
                              / (60.0 * w.speeds[g]))
        for hosts, _c in plans(t):
            cov = weighted_new(t, hosts)
            model = build_median_model(t.coverage, w.distances, weights, t.sites, t.rules, keep_coverage=cov)
            x = model.solution_from_hosts(hosts, t.rules.force_in)
            assert model.milp.violation(x) < 1e-7
            assert model.milp.value(x) == pytest.approx(walking_minutes(w, hosts), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("backend", ["pulp-cbc", "ortools-cpsat", "ortools-scip"])
def test_walking_objectives_on_other_backends(backend: str) -> None:
    w = random_walk_tiny(7)
    t = w.t
    feasible = [h for h, _c in plans(t)]
    best = min(walking_minutes(w, h) for h in feasible)
    sol = optimize_median(t.coverage, w.distances, w.speeds, t.sites, t.rules, backend=backend, options=EXACT)
    assert walking_minutes(w, sol.hosts) == pytest.approx(best, rel=1e-6)
    tie = two_sites_tie()
    first = optimize_covering(tie.t.coverage, tie.t.sites, tie.t.rules, backend=backend, options=EXACT)
    far = np.array([[True], [False]])
    sol = break_tie(tie.t.coverage, tie.distances, tie.speeds, tie.t.sites, tie.t.rules, far, first.result,
                    backend=backend, options=EXACT)
    assert sol.hosts.tolist() == [[False], [True]]


def test_tie_breaker_keeps_floors() -> None:
    checked = 0
    for seed in range(40):
        w = random_walk_tiny(seed)
        t = w.t
        group1 = tuple(p for p, (_s, g) in enumerate(t.coverage.pairs) if g == 1)
        total = t.coverage.total_population()[list(group1)].sum()
        floor = ShareTarget("g1", group1, 0.3)
        ok = [h for h, _c in plans(t) if covered(t, h)[list(group1)].sum() >= 0.3 * total - 1e-9]
        if total <= 0 or not ok:
            continue
        most = max(weighted_new(t, h) for h in ok)
        best = min(walking_minutes(w, h) for h in ok if weighted_new(t, h) >= most - 1e-9)
        first = optimize_objective(t.coverage, t.sites, t.rules, ObjectiveSpec("coverage", floors=(floor,)),
                                   options=EXACT)
        sol = break_tie(t.coverage, w.distances, w.speeds, t.sites, t.rules, first.hosts, first.result,
                        floors=(floor,), options=EXACT)
        assert covered(t, sol.hosts)[list(group1)].sum() >= 0.3 * total - 1e-6
        assert weighted_new(t, sol.hosts) == pytest.approx(most, abs=1e-6)
        assert walking_minutes(w, sol.hosts) == pytest.approx(best, rel=1e-7, abs=1e-6)
        checked += 1
    assert checked >= 10


def test_scenario_median_end_to_end(write_tiny) -> None:
    path = write_tiny(seed=5, objective={"kind": "median"})
    prepared = prepare(load_scenario(path))
    plan = solve_prepared(prepared)
    assert plan.objective_kind == "median" and plan.status is Status.OPTIMAL
    assert plan.walking_time is not None and plan.objective == pytest.approx(plan.walking_time.total_minutes)
    assert "counted as the cutoff" in plan.message
    # coverage is still read from the plan; the median walks no more than the coverage plan
    as_coverage = prepared.scenario.model_copy(
        update={"objective": prepared.scenario.objective.model_copy(update={"kind": "coverage"})})
    coverage_plan = solve_prepared(dataclasses.replace(prepared, scenario=as_coverage))
    assert coverage_plan.walking_time is None and plan.coverage.shape == coverage_plan.coverage.shape
    distances = prepared.distances
    assert distances is not None
    speeds = group_speeds(prepared.catalogue)
    sites = prepared.district.sites
    site_data = SiteData.of(sites)
    coverage_walk = walking_times(coverage_plan.hosts, prepared.coverage, distances, speeds, site_data,
                                  prepared.rules)
    assert plan.objective <= coverage_walk.total_minutes + 1e-6
    summary = summary_dict(RunResult(prepared, plan))
    section = summary["walking_time"]
    assert summary["objective_kind"] == "median" and "walking minutes" in summary["objective_meaning"]
    assert section["total_weighted_person_minutes"] == pytest.approx(plan.objective, rel=1e-6)
    assert [s["stage"] for s in section["stages"]] == ["walking_time"]
    rows = section["by_service_age_group"]
    assert len(rows) == len(plan.coverage)
    assert {"person_minutes", "mean_minutes", "residents_beyond_cutoff", "residents_out_of_reach"} <= set(rows[0])
    assert "counted as the cutoff" in section["beyond_cutoff"]


def test_scenario_tie_break_keeps_the_coverage(write_tiny) -> None:
    path = write_tiny(seed=6, objective={"kind": "coverage", "tie_break": "walking_time"})
    run = run_scenario(load_scenario(path))
    plain = run_scenario(load_scenario(write_tiny(seed=6)))
    plan = run.plan
    assert plan.objective_kind == "coverage" and plan.status is Status.OPTIMAL
    assert plan.objective == pytest.approx(plain.plan.objective)
    assert plan.walking_time is not None and plain.plan.walking_time is None
    summary = summary_dict(run)
    assert [s["stage"] for s in summary["walking_time"]["stages"]] == ["coverage", "walking_time"]
    assert "then, among plans covering at least" in plan.message


def test_scenario_median_with_p(write_tiny) -> None:
    path = write_tiny(seed=8, budget_share=0.9, objective={"kind": "median", "p": {"canteen": 1, "health_station": 2}})
    run = run_scenario(load_scenario(path))
    counts = dict(zip(run.prepared.catalogue.service_keys, run.plan.hosts.sum(axis=0).tolist(), strict=True))
    assert counts["canteen"] == 1 and counts["health_station"] == 2


@pytest.mark.parametrize("objective, error, message", [
    ({"kind": "coverage", "p": {"canteen": 1}}, ScenarioError, "'p' .* applies to kind median"),
    ({"kind": "fairness", "tie_break": "walking_time"}, ScenarioError, "'tie_break' applies to kind coverage"),
    ({"kind": "median", "p": {"library": 1}}, ScenarioError, r"objective.p.library.*unknown service"),
    ({"kind": "median", "p": {"canteen": 99}}, InfeasibleError, r"objective.p.canteen.*only \d+ site"),
    ({"kind": "median", "p": {"canteen": -1}}, ScenarioError, "zero or more"),
])
def test_scenario_walking_objective_mistakes_are_named(write_tiny, objective: dict, error: type,
                                                       message: str) -> None:
    path = write_tiny(seed=1, objective=objective)
    with pytest.raises(error, match=message):
        run_scenario(load_scenario(path))


def test_p_outside_requirements_is_named(write_tiny) -> None:
    path = write_tiny(seed=1, objective={"kind": "median", "p": {"canteen": 2}},
                      requirements={"max_sites": {"canteen": 1}})
    with pytest.raises(ScenarioError, match=r"objective.p.canteen.*outside requirements"):
        run_scenario(load_scenario(path))


def test_median_scenario_file_runs() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "median.yaml")
    assert scenario.objective.kind == "median"
    run = run_scenario(scenario)
    plan = run.plan
    assert plan.objective_kind == "median" and plan.walking_time is not None
    assert plan.status in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT)
    counts = dict(zip(run.prepared.catalogue.service_keys, plan.hosts.sum(axis=0).tolist(), strict=True))
    assert scenario.objective.p and all(counts[key] == p for key, p in scenario.objective.p.items())


def test_analysis_of_a_median_plan_reads_lower_as_better(write_tiny) -> None:
    path = write_tiny(seed=5, objective={"kind": "median"},
                      analysis={"robustness_samples": 0, "frontier": [0.3, 0.6, 1.5, 3.0]})
    run = run_scenario(load_scenario(path))
    analysis = analyse_run(run)
    assert analysis.ranking is not None and analysis.frontier is not None
    options = analysis.ranking.options
    assert len(options) == len(run.plan.assignments) > 0
    # removing an option cannot shorten the optimal walk: what it adds is zero or more
    assert (options["marginal_value"].dropna() >= -1e-6).all()
    ok = options.dropna(subset=["marginal_value"])
    assert (ok["marginal_low"] <= ok["marginal_value"] + 1e-6).all()
    assert (ok["marginal_value"] <= ok["marginal_high"] + 1e-6).all()
    # on the frontier, a budget is efficient when no cheaper plan walks as little
    front = analysis.frontier.dropna(subset=["objective"]).sort_values("cost")
    efficient = front[front["efficient"]]
    assert len(efficient) >= 1
    assert list(efficient["objective"]) == sorted(efficient["objective"], reverse=True)
    cheapest = front.iloc[0]
    assert bool(cheapest["efficient"])


def test_levels_merge_by_full_key_even_when_the_mixed_key_collides() -> None:
    c = np.uint64(0x9E3779B97F4A7C15)
    prefix = np.array([[0, 5], [c, 5], [0, 5]], dtype=np.uint64)
    size = np.array([1, 0, 1], dtype=np.uint64)  # 0 + 1·c and c + 0·c mix to the same key
    first, inverse = _same_sets(prefix, size)
    assert inverse[0] == inverse[2] != inverse[1] and first.size == 2


def test_tie_break_without_time_keeps_the_coverage_plan_and_says_so() -> None:
    w = two_sites_tie()
    t = w.t
    first = optimize_covering(t.coverage, t.sites, t.rules, options=EXACT)
    far = np.array([[True], [False]])
    sol = break_tie(t.coverage, w.distances, w.speeds, t.sites, t.rules, far, first.result, options=EXACT,
                    time_left_s=0.0)
    assert sol.hosts.tolist() == far.tolist()
    assert sol.result.status is Status.TIME_LIMIT and sol.result.bound == first.result.bound
    assert "tie-break found no plan" in sol.result.message
    assert sol.walking.stages[1].status is Status.TIME_LIMIT
    assert sol.walking.total_minutes == pytest.approx(60.0)  # the far site: 10 residents × 6 minutes
