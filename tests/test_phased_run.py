"""A scenario in phases end to end: ``siting run scenarios/phased.yaml``, schedule.csv, the report, bad input.

The money of each phase is recomputed here from the scenario file alone — its share of the
budget, plus what the phase before left unspent where money carries over — and every phase's
spending in ``schedule.csv`` must stay within it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT
from siting.data.phases import Phase, phase_weights
from siting.data.scenario import load_scenario
from siting.studies.phases import phase_gains, run_phased
from test_cli import assert_user_error, siting

PHASED = ROOT / "scenarios" / "phased.yaml"


def money_by_hand(raw: dict, budget: float, spend: list[float]) -> list[float]:
    """Each phase's money from the scenario's own words: share × budget, plus the carried leftover."""
    money, left = [], 0.0
    for i, p in enumerate(raw["phases"]):
        carried = left if i > 0 and raw["phases"][i - 1].get("carry_over", True) else 0.0
        money.append(p.get("budget", p.get("share", 0) * budget) + carried)
        left = money[-1] - spend[i]
    return money


def check_schedule(out: Path, scenario_raw: dict, budget: float) -> pd.DataFrame:
    """schedule.csv: every phase within its money, consistent with plan.csv and summary.json."""
    schedule = pd.read_csv(out / "schedule.csv", keep_default_na=False)
    names = [str(p["name"]) for p in scenario_raw["phases"]]
    assert list(dict.fromkeys(schedule["phase"].astype(str))) == [n for n in names if n in set(
        schedule["phase"].astype(str))]
    spend = [float(schedule.loc[schedule["phase"].astype(str) == n, "cost"].sum()) for n in names]
    money = money_by_hand(scenario_raw, budget, spend)
    for n, s, m in zip(names, spend, money, strict=True):
        assert s <= m + 1.0, f"phase {n} spends {s:,.0f} of {m:,.0f}"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [p["spend"] for p in summary["phases"]["phases"]] == pytest.approx(spend, abs=1.0)
    assert [p["money"] for p in summary["phases"]["phases"]] == pytest.approx(money, abs=1.0)
    plan = pd.read_csv(out / "plan.csv")
    assert sum(spend) == pytest.approx(plan["cost"].sum(), abs=2.0)
    opened = schedule[schedule["service"] != ""]
    assert sorted(zip(opened["site_id"], opened["service"], strict=True)) == sorted(
        zip(plan["site_id"], plan["service"], strict=True))
    return schedule


@pytest.fixture(scope="module")
def phased_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("phased") / "out"
    proc = siting("run", str(PHASED), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "schedule.csv" in proc.stdout and "against the myopic plan" in proc.stdout
    return out


def test_phased_scenario_writes_the_schedule_within_each_phase_s_money(phased_run: Path) -> None:
    raw = yaml.safe_load(PHASED.read_text(encoding="utf-8"))
    budget = load_scenario(PHASED).budget
    schedule = check_schedule(phased_run, raw, budget)
    # the pilot is converted in the first phase, the vacant lot not before 2026
    first = schedule.groupby("site_id")["phase_index"].min()
    assert first["K01"] == 1
    assert "V03" not in first or first["V03"] >= 2
    for name in ("phase_coverage.csv", "phase_compliance.csv", "schedule_myopic.csv", "report.html", "plan.csv",
                 "coverage.csv", "compliance.csv"):
        assert (phased_run / name).is_file(), name


def test_phased_summary_and_report(phased_run: Path) -> None:
    summary = json.loads((phased_run / "summary.json").read_text(encoding="utf-8"))
    assert summary["objective_kind"] == "standards_phased" and summary["status"] == "optimal"
    phases = summary["phases"]
    assert [s["stage"] for s in phases["objective_over_time"]] == ["gaps", "basic", "quality"]
    gain = phases["gain_over_myopic"]
    assert gain and {s["stage"] for s in gain["stages"]} == {"gaps", "basic", "quality"}
    # lexicographic: the first stage where the plans differ is not lost by the joint plan
    for s in gain["stages"]:
        if abs(s["gain"]) > 1e-6 * max(1.0, abs(s["myopic"])):
            assert s["gain"] > 0, s
            break
    cov = pd.read_csv(phased_run / "phase_coverage.csv")
    shares = cov.groupby("phase_index")["covered_after"].sum()
    assert (np.diff(shares.to_numpy()) >= -1e-6).all()  # a conversion, once done, stays
    assert phases["coverage_years"]["total"] == pytest.approx(float(cov["covered_years"].sum()), abs=1.0)
    html = (phased_run / "report.html").read_text(encoding="utf-8")
    for marker in ('id="phases"', 'id="timeline-chart"', 'id="coverage-by-phase-chart"', 'id="schedule"',
                   "分期实施", "逐期"):
        assert marker in html, marker


def test_phase_weights_by_hand() -> None:
    phases = [Phase(name="a", share=0.5), Phase(name="b", share=0.3, years=2), Phase(name="c", share=0.2, years=0.5)]
    assert phase_weights(phases, 0.0) == pytest.approx([1.0, 2.0, 0.5])
    # 10 % a year: years 0 | 1, 2 | half of year 3
    assert phase_weights(phases, 0.1) == pytest.approx([1.0, 1 / 1.1 + 1 / 1.21, 0.5 / 1.331])


def tiny_phased(write_tiny, **extra: object) -> Path:  # type: ignore[no-untyped-def]
    path = write_tiny(seed=4, n_demand=30, n_sites=6, objective={"kind": "coverage"}, **extra)
    return path


def test_phases_of_a_tiny_scenario_without_carry_over(write_tiny) -> None:  # type: ignore[no-untyped-def]
    path = tiny_phased(write_tiny, phases=[{"name": "一期", "share": 0.4, "carry_over": False},
                                           {"name": "二期", "share": 0.6, "max_conversions": 2}])
    run = run_phased(load_scenario(path))
    j = run.joint
    assert j.status.value == "optimal"
    assert np.all(j.spend <= j.phases.budget + 1e-6)  # nothing carried
    assert j.schedule.opened(1).sum() <= 2
    assert run.myopic is not None
    gain = phase_gains(j, run.myopic)
    assert gain["stages"][0]["gain"] >= -1e-6


@pytest.mark.parametrize(("extra", "words"), [
    ({"phases": [{"name": "a", "share": 0.5, "budget": 10}]}, ["phases.0", "not both"]),
    ({"phases": [{"name": "a", "budget": 10}, {"name": "b", "budget": 20}]}, ["add up to 30", "budget"]),
    ({"phases": [{"name": "a", "share": 0.7}, {"name": "a", "share": 0.3}]}, ["'a'", "more than once"]),
    ({"pilots": ["S0"]}, ["pilots", "phases:"]),
    ({"phases": [{"name": "a", "share": 1.0}], "requirements": {"not_before": {"S1": "z"}}}, ["not_before", "'z'"]),
    ({"phases": [{"name": "a", "share": 1.0}], "objective": {"kind": "median"}}, ["median", "phases"]),
])
def test_bad_phases_are_named(write_tiny, extra: dict, words: list[str]) -> None:  # type: ignore[no-untyped-def]
    path = write_tiny(seed=1, **extra)
    proc = siting("validate", str(path))
    assert_user_error(proc, "scenario.yaml", *words)


def test_phase_references_to_the_ledger_are_checked(write_tiny) -> None:  # type: ignore[no-untyped-def]
    path = write_tiny(seed=1, phases=[{"name": "a", "share": 0.01}, {"name": "b", "share": 0.99}],
                      pilots=["S0", "NOPE"], requirements={"not_before": {"S9": "b", "S0": "b"}})
    proc = siting("run", str(path), "--out", str(path.parent / "out"))
    assert_user_error(proc, "field 'pilots': site id 'NOPE'", "field 'requirements.not_before': site id 'S9'",
                      "'S0' is a pilot", "first phase")
