"""Sweeps: parsing --vary, variants, preparing once, the frontier, and the command on the default district."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import DEFAULT_SCENARIO, ROOT
from siting.data.catalogue import default_catalogue
from siting.data.scenario import load_scenario
from siting.errors import ScenarioError, SitingError
from siting.pipeline import prepare, run_scenario
from siting.studies.resolve import solve_many
from siting.studies.sweep import (
    efficient_mask,
    frontier_table,
    parse_vary,
    robustness_table,
    sweep_tasks,
    sweep_variants,
    variant_record,
)
from test_cli import assert_user_error, siting


def test_parse_vary_forms() -> None:
    a = parse_vary("budget=5e6:50e6:10")
    assert a.field == "budget" and len(a.values) == 10
    assert a.values[0] == 5e6 and a.values[-1] == 50e6 and a.values[1] == pytest.approx(10e6)
    assert parse_vary("weights.age_groups.elderly=1,2,4").values == (1.0, 2.0, 4.0)
    assert parse_vary("walk_limit.canteen=5").values == (5.0,)


@pytest.mark.parametrize("bad", ["budget", "budget=", "budget=a:b:3", "budget=1:2", "budget=1:2:0", "=3"])
def test_parse_vary_rejects_bad_forms(bad: str) -> None:
    with pytest.raises(ScenarioError, match="--vary"):
        parse_vary(bad)


def test_variants_change_what_they_say(write_tiny) -> None:
    sc = load_scenario(write_tiny(seed=2))
    vs = sweep_variants(sc, [parse_vary("budget=1e6,2e6"), parse_vary("weights.age_groups.elderly=1,3")])
    assert [v.key for v in vs] == ["budget=1e+06, weights.age_groups.elderly=1",
                                   "budget=1e+06, weights.age_groups.elderly=3",
                                   "budget=2e+06, weights.age_groups.elderly=1",
                                   "budget=2e+06, weights.age_groups.elderly=3"]
    assert vs[3].scenario.budget == 2e6 and vs[3].scenario.weights.age_groups["elderly"] == 3
    assert vs[3].scenario.source == sc.source and vs[3].scenario.data == sc.data
    lim = sweep_variants(sc, [parse_vary("walk_limit.canteen=400")])[0].scenario  # metres along the street
    entry = next(e for e in lim.catalogue.services if e["key"] == "canteen")
    assert entry["radius_m"] == 400.0 and "walk_limit_min" not in entry
    scaled = sweep_variants(sc, [parse_vary("walk_limit_scale=2")])[0].scenario
    from siting.pipeline import catalogue_for

    base, doubled = catalogue_for(sc), catalogue_for(scaled)
    for s in base.services:  # the tiny district's limits are in minutes: the minutes double
        assert doubled.service(s.key).walk_limit_min == pytest.approx(2 * s.walk_limit_min)
    radii = sweep_variants(load_scenario(DEFAULT_SCENARIO), [parse_vary("walk_limit_scale=0.5")])[0].scenario
    for s in catalogue_for(radii).services:  # the standards' radii halve
        assert s.radius_m == pytest.approx(0.5 * default_catalogue().service(s.key).radius_m)
    with pytest.raises(ScenarioError, match="budgett"):
        sweep_variants(sc, [parse_vary("budgett=1,2")])


def test_budget_and_weight_variants_prepare_once(write_tiny) -> None:
    sc = load_scenario(write_tiny(seed=5))
    calls: list[str] = []

    def counting(s):  # type: ignore[no-untyped-def]
        calls.append(s.name)
        return prepare(s)

    vs = sweep_variants(sc, [parse_vary("budget=1e6:3e6:3"), parse_vary("weights.services.canteen=1,2")])
    tasks = sweep_tasks(vs, prepare_fn=counting)
    assert len(tasks) == 6 and len(calls) == 1
    # each task keeps its own rules
    assert sorted({t.prepared.rules.budget for t in tasks}) == [1e6, 2e6, 3e6]
    # walking limits change the coverage: one preparation per distinct limit
    calls.clear()
    sweep_tasks(sweep_variants(sc, [parse_vary("walk_limit.canteen=5,10"), parse_vary("budget=1e6,2e6")]),
                prepare_fn=counting)
    assert len(calls) == 2


def test_frontier_matches_single_runs(write_tiny) -> None:
    path = write_tiny(seed=6, n_demand=25, n_sites=6)
    sc = load_scenario(path)
    budgets = [8e5, 1.6e6, 3.2e6]
    results = solve_many(sweep_tasks(sweep_variants(sc, [parse_vary("budget=" + ",".join(map(str, budgets)))])))
    frontier = frontier_table(results, ("children", "working", "elderly"))
    for b, row in zip(budgets, frontier.itertuples(), strict=True):
        alone = run_scenario(sc.model_copy(update={"budget": b})).plan
        assert row.objective == pytest.approx(alone.objective, abs=1e-6)
        assert row.cost <= b + 1e-6
    assert frontier["objective"].is_monotonic_increasing
    rob = robustness_table(results, prepare(sc))
    assert rob["chosen_share"].between(0, 1).all() and (rob["variants"] == 3).all()
    rec = variant_record(results[0])
    assert rec["overrides"] == {"budget": 8e5} and rec["status"] == "optimal"
    json.dumps(rec)


def test_tasks_and_results_pickle_for_a_distributed_map(write_tiny) -> None:
    import pickle

    sc = load_scenario(write_tiny(seed=9))
    tasks = sweep_tasks(sweep_variants(sc, [parse_vary("budget=1e6,2e6")]))
    copies = pickle.loads(pickle.dumps(tasks))
    results = solve_many(copies)
    again = pickle.loads(pickle.dumps(results))
    assert [r.plan.objective for r in again] == [r.plan.objective for r in solve_many(tasks)]


def test_unknown_backend_stops_the_batch(write_tiny) -> None:
    sc = load_scenario(write_tiny(seed=9))
    tasks = sweep_tasks(sweep_variants(sc, [parse_vary("budget=1e6,2e6")]), backend="no-such-solver")
    with pytest.raises(SitingError, match="no-such-solver"):
        solve_many(tasks)


def test_efficiency_is_judged_within_each_setting() -> None:
    from siting.solvers import Status
    from siting.studies.resolve import SolveOutcome

    def fake(limit: float, budget: float, cost: float, objective: float) -> SolveOutcome:
        plan = type("P", (), {"budget": budget, "cost": cost, "objective": objective, "bound": objective, "gap": 0.0,
                              "sites_used": 1, "assignments": [1],
                              "coverage": pd.DataFrame({"age_group": ["elderly"], "population": [10.0],
                                                        "covered_after": [objective / 10]})})()
        return SolveOutcome("k", Status.OPTIMAL, plan,
                            meta={"overrides": {"walk_limit_scale": limit, "budget": budget}})

    results = [fake(0.8, 1, 1, 5), fake(0.8, 2, 2, 6), fake(1.2, 1, 1, 7), fake(1.2, 2, 2, 9)]
    assert not frontier_table(results, ["elderly"])["efficient"].tolist()[1]
    assert frontier_table(results, ["elderly"], within=["walk_limit_scale"])["efficient"].all()


def test_efficient_mask_by_hand() -> None:
    cost = np.array([1.0, 2.0, 2.0, 3.0, np.nan])
    value = np.array([10.0, 15.0, 12.0, 15.0, 20.0])
    # (2, 12) is beaten by (2, 15); (3, 15) by (2, 15); NaN never efficient
    assert efficient_mask(cost, value).tolist() == [True, True, False, False, False]


def test_sweep_command_on_default_district(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    proc = siting("sweep", str(ROOT / "scenarios" / "baseline.yaml"), "--vary", "budget=4e6:12e6:3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for name in ("frontier.csv", "frontier.png", "robustness.csv", "variants.jsonl", "report.html"):
        assert (out / name).is_file(), name
    frontier = pd.read_csv(out / "frontier.csv")
    assert frontier["budget"].tolist() == [4e6, 8e6, 12e6]
    assert (frontier["status"] == "optimal").all() and frontier["efficient"].all()
    assert frontier["share_all"].is_monotonic_increasing
    lines = (out / "variants.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["variant"] for line in lines] == ["budget=4e+06", "budget=8e+06", "budget=1.2e+07"]
    assert not list(tmp_path.glob(".sweep*"))  # the progress log is gone once the outputs are in place
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count('class="point"') == 7 * 3  # all ages + six age bands, three budgets


def test_sweep_command_rejects_unknown_field(tmp_path: Path) -> None:
    proc = siting("sweep", str(ROOT / "scenarios" / "baseline.yaml"), "--vary", "buget=1,2",
                  "--out", str(tmp_path / "s"))
    assert_user_error(proc, "--vary", "buget")
    assert not (tmp_path / "s").exists()


def test_infeasible_variant_is_recorded_not_fatal(write_tiny) -> None:
    sc = load_scenario(write_tiny(seed=8, requirements={"force_in": ["S0", "S1", "S2"]}))
    forced = sum(pd.read_csv(Path(sc.data.sites))["retrofit_cost"][:3])
    vs = sweep_variants(sc, [parse_vary(f"budget={forced * 0.5},{forced * 3}")])
    try:
        results = solve_many(sweep_tasks(vs))
    except SitingError:  # pragma: no cover - the point of the test
        pytest.fail("an infeasible variant must not stop the sweep")
    assert results[0].status.value == "infeasible" and results[0].plan is None and results[0].message
    assert results[1].plan is not None
    frontier = frontier_table(results, ("children", "working", "elderly"))
    assert frontier["efficient"].tolist() == [False, True]


@pytest.mark.parametrize("scheduler", ["processes:2", "local:2"])
def test_sweep_on_worker_processes_equals_this_process(tmp_path: Path, scheduler: str) -> None:
    """The same sweep through the execution layer's workers gives byte-identical tables."""
    scenario = str(ROOT / "scenarios" / "baseline.yaml")
    vary = ("--vary", "budget=4e6:12e6:3")
    here, there = tmp_path / "here", tmp_path / "there"
    proc = siting("sweep", scenario, *vary, "--out", str(here), "--scheduler", "sync")
    assert proc.returncode == 0, proc.stderr
    proc = siting("sweep", scenario, *vary, "--out", str(there), "--scheduler", scheduler)
    assert proc.returncode == 0, proc.stderr
    for name in ("frontier.csv", "robustness.csv"):
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
