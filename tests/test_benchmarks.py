"""The benchmark harness and the models it compares, checked against independent truths.

The plain MIPs of the benchmarks must solve the same problems as ``siting``: on small
instances, the plain MCLP, ``siting`` and a brute-force enumeration agree; the plain district
MIP and ``siting``'s reduced model reach the same optimum. No timing is asserted here.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import peers as mclp  # noqa: E402
from benchmarks.growing_district import plain_covering_model, write_district  # noqa: E402
from benchmarks.registry import Context, run_worker  # noqa: E402


def brute_force_mclp(inst: dict) -> float:
    """Best covered weight over every set of p sites."""
    a = inst["cost"] <= inst["radius"]
    w = inst["weights"]
    return max(float(w[a[:, list(c)].any(axis=1)].sum())
               for c in itertools.combinations(range(a.shape[1]), inst["p"]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plain_mclp_and_siting_match_brute_force(seed: int) -> None:
    inst = mclp.uniform_instance(60, 9, p=3, seed=seed, quantile=0.15)
    truth = brute_force_mclp(inst)
    plain = mclp.run_plain(inst, time_limit_s=30)
    ours = mclp.run_siting(inst, time_limit_s=30)
    greedy = mclp.run_greedy(inst)
    assert plain["status"] == ours["status"] == "optimal"
    assert plain["objective"] == pytest.approx(truth, abs=1e-6)
    assert ours["objective"] == pytest.approx(truth, abs=1e-6)
    assert ours["check"] == pytest.approx(truth, abs=1e-6)  # the plan covers what the solver claims
    assert greedy["objective"] <= truth + 1e-9


def test_uniform_instance_radius_is_the_quantile() -> None:
    inst = mclp.uniform_instance(400, 50, seed=0)
    share = float((inst["cost"] <= inst["radius"]).mean())
    assert share == pytest.approx(0.05, abs=1.0 / inst["cost"].size + 1e-12)
    assert inst["weights"].min() >= 1 and inst["weights"].max() <= 499


def test_plain_district_model_reaches_sitings_optimum(tmp_path: Path) -> None:
    from siting.data.scenario import load_scenario
    from siting.model.rules import SiteData
    from siting.pipeline import prepare, solve_prepared
    from siting.solvers import SolveOptions, solve

    prepared = prepare(load_scenario(write_district(tmp_path, 200, seed=3, time_limit_s=120)))
    plan = solve_prepared(prepared)
    d = prepared.district
    plain = plain_covering_model(prepared.coverage, SiteData(d.sites.floor_area, d.sites.retrofit_cost,
                                                             d.sites.allowed), prepared.rules)
    r = solve(plain, "highs", SolveOptions(time_limit_s=120, mip_gap=0.0))
    assert plan.status.value == "optimal" and r.status.value == "optimal"
    # siting stops at a relative gap of 1e-4; the plain MIP was solved to 0
    assert plan.objective == pytest.approx(r.objective, rel=1.01e-4)
    assert plan.objective <= r.objective + 1e-6
    assert plain.violation(r.solution) < 1e-6


def test_cbc_log_is_read(tmp_path: Path) -> None:
    log = tmp_path / "cbc.log"
    log.write_text("Result - Stopped on time limit\n\nObjective value:                476531.00000000\n"
                   "Upper bound:                    483218.238\nGap:                            -0.01\n"
                   "Time (Wallclock seconds):       5.06\n")
    info = mclp._parse_cbc_log(log)
    assert info["Result"] == "Stopped on time limit"
    assert float(info["Upper bound"]) == pytest.approx(483218.238)
    assert float(info["Time (Wallclock seconds)"]) == pytest.approx(5.06)


def test_worker_runs_in_its_own_process_and_is_stopped_at_its_limit(tmp_path: Path) -> None:
    row = run_worker("benchmarks.peers:worker",
                     {"instance": {"kind": "uniform", "n": 200, "m": 20, "p": 3, "seed": 0}, "method": "greedy",
                      "time_limit_s": 10, "scratch": str(tmp_path)}, timeout_s=120, scratch=tmp_path)
    inst = mclp.uniform_instance(200, 20, p=3, seed=0)
    assert row["objective"] == pytest.approx(mclp.run_greedy(inst)["objective"])
    assert row["process_s"] > 0 and row["process_peak_mb"] > 0
    killed = run_worker("os:system", {"command": "sleep 30"}, timeout_s=0.5, scratch=tmp_path)
    assert killed["status"].startswith("killed: did not finish within")
    assert killed["process_s"] < 20
    json.dumps(row)  # rows are plain JSON


def test_context_figure_path(tmp_path: Path) -> None:
    ctx = Context(tmp_path, tmp_path, "quick", out=tmp_path / "results", stem="2024-01-01-host-quick")
    assert ctx.figure("scaling").name == "2024-01-01-host-quick-scaling.png"
    assert not ctx.full
    ctx.fail("two optima differ")
    assert ctx.problems == ["two optima differ"]


def test_peer_comparison_flags_a_plan_above_a_proven_bound(tmp_path: Path) -> None:
    from benchmarks.cases_peers import compare

    ctx = Context(tmp_path, tmp_path, "quick", out=tmp_path)
    rows = [{"method": "siting", "status": "time_limit", "objective": 100.0, "bound": 110.0, "total_s": 1.0,
             "solver_s": 1.0},
            {"method": "spopt + CBC (PuLP)", "status": "time_limit", "objective": 111.0, "bound": float("nan"),
             "total_s": 2.0, "solver_s": 2.0},
            {"method": "greedy", "status": "heuristic", "objective": 99.0, "total_s": 0.1}]
    compare(ctx, rows)
    assert [r["agrees"] for r in rows] == ["10.00 % below the best bound", "MISMATCH", "11.11 % below the best bound"]
    assert rows[1]["vs_siting"] == pytest.approx(2.0)
    assert len(ctx.problems) == 1

    ctx = Context(tmp_path, tmp_path, "quick", out=tmp_path)
    rows = [{"method": "siting", "status": "optimal", "objective": 100.0, "bound": 100.0, "total_s": 1.0},
            {"method": "plain MIP (HiGHS)", "status": "optimal", "objective": 100.0, "bound": 100.0, "total_s": 3.0},
            {"method": "spopt + HiGHS (PuLP)", "status": "time_limit", "objective": 95.0, "bound": 101.0,
             "total_s": 9.0}]
    compare(ctx, rows)
    assert [r["agrees"] for r in rows] == ["same optimum", "same optimum", "5.00 % below optimum"]
    assert not ctx.problems
