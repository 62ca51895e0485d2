"""Scenario comparison: side-by-side figures and plan differences, checked against the plans themselves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT
from siting.data.scenario import load_scenario
from siting.pipeline import prepare
from siting.studies.compare import ComparedPlan, compare_plans, jaccard, unique_names
from siting.studies.resolve import SolveTask, solve_many
from test_cli import assert_user_error, siting

SCENARIOS = ROOT / "scenarios"


def test_jaccard_by_hand() -> None:
    assert jaccard({"a", "b", "c"}, {"b", "c", "d"}) == 0.5
    assert jaccard(set(), set()) == 1.0
    assert jaccard({"a"}, set()) == 0.0
    assert unique_names(["x", "y", "x", "x"]) == ("x", "y", "x-2", "x-3")


def test_compare_plans_reads_the_plans(write_tiny) -> None:
    path = write_tiny(seed=4, n_demand=30, n_sites=7)
    sc = load_scenario(path)
    p = prepare(sc)
    small = sc.model_copy(update={"budget": sc.budget / 3, "name": "small"})
    tasks = [SolveTask("a", p), SolveTask("b", prepare(small))]
    ra, rb = solve_many(tasks)
    assert ra.plan is not None and rb.plan is not None
    comp = compare_plans([ComparedPlan(sc.name, "", p.catalogue, ra), ComparedPlan("small", "", p.catalogue, rb)])
    t = comp.table.set_index("metric")
    assert t.loc["cost 费用", sc.name] == pytest.approx(ra.plan.cost, abs=0.01)
    assert t.loc["sites converted 改造场所", "small"] == rb.plan.sites_used
    share = t.filter(like="share after", axis=0)
    assert ((share[sc.name] >= 0) & (share[sc.name] <= 1)).all()
    d = comp.differences.iloc[0]
    sa, sb = set(ra.plan.assignments["site_id"]), set(rb.plan.assignments["site_id"])
    assert d["jaccard_sites"] == pytest.approx(len(sa & sb) / len(sa | sb))
    assert set(filter(None, d["sites_only_in_a"].split(";"))) == sa - sb
    assert set(filter(None, d["sites_only_in_b"].split(";"))) == sb - sa


def test_compare_command_on_default_district(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    proc = siting("compare", str(SCENARIOS / "baseline.yaml"), str(SCENARIOS / "budget-x2.yaml"),
                  str(SCENARIOS / "straight-line.yaml"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "comparison.csv").set_index("metric")
    assert list(table.columns[-3:]) == ["baseline", "budget-x2", "straight-line"]
    budget = table.loc["budget 预算"].iloc[-3:].astype(float)
    assert budget["budget-x2"] == pytest.approx(2 * budget["baseline"])
    # standards first is lexicographic: twice the budget is never worse, stage by stage in order
    stages = [f"stage {s} 分阶段目标" for s in ("gaps", "basic", "quality")]
    x2 = tuple(round(float(table.loc[s, "budget-x2"]), 6) for s in stages)
    base = tuple(round(float(table.loc[s, "baseline"]), 6) for s in stages)
    assert x2 >= base
    diffs = pd.read_csv(out / "differences.csv", keep_default_na=False)
    assert len(diffs) == 3
    plans = {n: set(pd.read_csv(out / "plans" / f"{n}.csv")["site_id"]) for n in table.columns[-3:]}
    for d in diffs.itertuples():
        a, b = plans[d.scenario_a], plans[d.scenario_b]
        assert d.jaccard_sites == pytest.approx(len(a & b) / len(a | b), abs=1e-6)
        assert set(filter(None, d.sites_only_in_b.split(";"))) == b - a
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "siting-map-data" in html and "Jaccard" in html
    # the basic stage is a sum of shares (about 1.4): shown to four decimals, not rounded to 1
    basic = float(table.loc["stage basic 分阶段目标", "baseline"])
    assert f'data-sort="{basic}">{basic:,.4f}</td>' in html


def test_compare_needs_two_scenarios(tmp_path: Path) -> None:
    proc = siting("compare", str(SCENARIOS / "baseline.yaml"), "--out", str(tmp_path / "c"))
    assert_user_error(proc, "at least two")


def test_each_objective_is_named_for_what_it_measures(write_tiny) -> None:
    path = write_tiny(seed=4, n_demand=30, n_sites=7)
    sc = load_scenario(path)
    fair = sc.model_copy(update={"name": "fair", "objective": sc.objective.model_copy(update={"kind": "fairness"})})
    p = prepare(sc)
    ra, rf = solve_many([SolveTask("a", p), SolveTask("fair", prepare(fair))])
    assert ra.plan is not None and rf.plan is not None
    comp = compare_plans([ComparedPlan(sc.name, "", p.catalogue, ra), ComparedPlan("fair", "", p.catalogue, rf)])
    t = comp.table.set_index("metric")
    covered = "objective (weighted residents newly covered) 目标值"
    smallest = "objective (smallest covered share) 目标值"
    assert t.loc[covered, sc.name] == pytest.approx(ra.plan.objective, abs=0.01)
    assert t.loc[smallest, "fair"] == pytest.approx(rf.plan.objective, abs=1e-6)
    assert 0 <= t.loc[smallest, "fair"] <= 1
    assert pd.isna(t.loc[smallest, sc.name]) and pd.isna(t.loc[covered, "fair"])  # not comparable: not side by side
    assert t.loc[smallest, "unit"] == "share"
