"""Solver trouble: a time limit gives the best plan with its gap; a missing or crashing solver is named.

The crash tests run real child processes: a solver that kills itself with SIGSEGV, one that
is killed from outside with SIGKILL, one that raises, and one that hangs past its time limit.
Each must come back as status ``error`` with the reason, promptly, and a ``siting run`` that
meets one must exit with 2, a message and no output folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import districts as D  # noqa: N812 - the test helpers, short
from siting.errors import SolverUnavailableError
from siting.model.milp import MilpModel
from siting.solvers import SolveOptions, SolveResult, Status, get_backend, solve
from siting.solvers.highs import HighsBackend
from siting.solvers.isolated import solve_isolated


class CrashingBackend:
    """A solver whose native code crashes: the process dies of SIGSEGV."""

    name = "crashing"

    def available(self) -> bool:
        return True

    def solve(self, model: MilpModel, options: SolveOptions) -> SolveResult:
        os.kill(os.getpid(), signal.SIGSEGV)
        raise AssertionError("unreachable")


class RaisingBackend(CrashingBackend):
    """A solver that raises instead of answering."""

    name = "raising"

    def solve(self, model: MilpModel, options: SolveOptions) -> SolveResult:
        raise MemoryError("cannot allocate the branch-and-bound tree")


class HangingBackend(CrashingBackend):
    """A solver that ignores its time limit."""

    name = "hanging"

    def solve(self, model: MilpModel, options: SolveOptions) -> SolveResult:
        time.sleep(600)
        raise AssertionError("unreachable")


class StoppedEarlyBackend(HighsBackend):
    """HiGHS, reporting its plan as found when the time limit struck, with a looser bound."""

    name = "stopped-early"

    def solve(self, model: MilpModel, options: SolveOptions) -> SolveResult:
        r = super().solve(model, options)
        return dataclasses.replace(r, status=Status.TIME_LIMIT, bound=r.objective * 1.25, gap=0.25)


class MissingBackend(CrashingBackend):
    """A backend whose package is not installed."""

    name = "not-installed"

    def available(self) -> bool:
        return False


@pytest.fixture(scope="module")
def model() -> MilpModel:
    """The covering model of a small district."""
    import tempfile

    from siting.data.scenario import load_scenario
    from siting.model.covering import build_covering_model
    from siting.model.rules import SiteData
    from siting.pipeline import prepare

    with tempfile.TemporaryDirectory() as folder:
        p = prepare(load_scenario(D.write(D.tables(seed=2, n_demand=40, n_sites=10), Path(folder))))
    s = p.district.sites
    return build_covering_model(p.coverage, SiteData(s.floor_area, s.retrofit_cost, s.allowed), p.rules).milp


def test_time_limit_returns_the_best_plan_with_its_gap(model: MilpModel) -> None:
    start = np.zeros(model.n_cols)  # converting nothing is a plan: the solver has one from the start
    r = solve(model, "highs", SolveOptions(time_limit_s=1e-6, mip_gap=0.0, warm_start=start))
    assert r.status is Status.TIME_LIMIT
    assert r.has_solution and r.objective >= 0
    assert r.gap > 0 and r.bound >= r.objective  # honest: not proven optimal, the gap says how far it may be


@pytest.mark.parametrize("isolate", [False, True], ids=["in process", "isolated"])
def test_time_limited_run_reports_status_and_gap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 isolate: bool) -> None:
    from siting import solvers

    monkeypatch.setitem(solvers._BACKENDS, "stopped-early", StoppedEarlyBackend())
    path = D.write(D.tables(seed=2), tmp_path, solver={"time_limit_s": 30, "isolate": isolate})
    ran = D.cli("run", str(path), "--out", str(tmp_path / "out"), "--solver", "stopped-early")
    assert ran.code == 0, ran.stderr
    assert "status time_limit" in ran.stdout and "gap 25.0000 %" in ran.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "time_limit"
    assert summary["bound"] == pytest.approx(1.25 * summary["objective"], rel=1e-6)
    assert summary["gap"] == pytest.approx(0.25, rel=1e-6)


def test_missing_backend_names_the_alternatives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from siting import solvers

    monkeypatch.setitem(solvers._BACKENDS, "not-installed", MissingBackend())
    with pytest.raises(SolverUnavailableError, match=r"'not-installed' is not installed; installed here: \[.*'highs'"):
        get_backend("not-installed")
    with pytest.raises(SolverUnavailableError, match=r"unknown solver backend 'cplex'; choose one of \[.*'highs'"):
        get_backend("cplex")
    path = D.write(D.tables(), tmp_path)
    ran = D.cli("run", str(path), "--out", str(tmp_path / "out"), "--solver", "not-installed")
    assert ran.code == 2 and "not-installed" in ran.stderr and "highs" in ran.stderr
    assert not (tmp_path / "out").exists()


def test_isolated_solve_matches_the_in_process_one(model: MilpModel) -> None:
    options = SolveOptions(mip_gap=0.0)
    here = solve(model, "highs", options)
    there = solve(model, "highs", dataclasses.replace(options, isolate=True))
    assert here.status is there.status is Status.OPTIMAL
    assert there.objective == pytest.approx(here.objective, rel=1e-9)
    np.testing.assert_allclose(there.solution, here.solution)  # type: ignore[arg-type]


def test_solver_killed_from_outside_is_reported(model: MilpModel) -> None:
    r = solve_isolated(model, HighsBackend(), SolveOptions(), on_start=lambda pid: os.kill(pid, signal.SIGKILL))
    assert r.status is Status.ERROR and not r.has_solution
    assert "killed by SIGKILL" in r.message


def test_crashing_solver_is_reported(model: MilpModel) -> None:
    r = solve_isolated(model, CrashingBackend(), SolveOptions())
    assert r.status is Status.ERROR and "killed by SIGSEGV" in r.message


def test_raising_solver_is_reported(model: MilpModel) -> None:
    r = solve_isolated(model, RaisingBackend(), SolveOptions())
    assert r.status is Status.ERROR and "MemoryError: cannot allocate" in r.message


def test_hanging_solver_is_stopped(model: MilpModel) -> None:
    start = time.monotonic()
    r = solve_isolated(model, HangingBackend(), SolveOptions(time_limit_s=0.5), grace_s=2)
    assert r.status is Status.ERROR and "did not return within 2 s after its time limit" in r.message
    assert time.monotonic() - start < 60  # stopped by the watchdog, not by the backend's 600 s sleep


def test_run_with_a_crashing_solver_exits_2_without_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from siting import solvers

    monkeypatch.setitem(solvers._BACKENDS, "crashing", CrashingBackend())
    path = D.write(D.tables(), tmp_path, solver={"isolate": True, "backend": "crashing"})
    ran = D.cli("run", str(path), "--out", str(tmp_path / "out"))
    assert ran.code == 2, ran
    assert "killed by SIGSEGV" in ran.stderr and "no plan was written" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert not (tmp_path / "out").exists()


def test_a_highs_objective_its_solution_does_not_reach_is_not_believed(benchmarks_dir: Path) -> None:
    """HiGHS 1.16's presolve once reported a value for a subproblem that its returned solution did not reach
    (``tests/data/highs_presolve_mismatch.json``): the search kept a plan at a value it did not have, and
    the next stage, asked to keep that value, could not start from the plan. The backend now reads the
    value off the solution and, when the two differ, solves again without presolve: the answer must be the
    solution's own value and the optimum that SCIP finds."""
    from benchmarks.cases_objectives import objective_scenario
    from benchmarks.registry import Context

    from siting.model.rules import SiteData
    from siting.model.standards import build_standards_model
    from siting.optimizer.formulations import SitingFormulation
    from siting.optimizer.generic import plan_start, with_fixed
    from siting.optimizer.stages import stage_of
    from siting.optimizer.standards import standards_weights
    from siting.pipeline import prepare
    from siting.solvers.highs import value_of

    case = json.loads((Path(__file__).parent / "data" / "highs_presolve_mismatch.json").read_text(encoding="utf-8"))
    ctx = Context(shared=benchmarks_dir, scratch=Path("."), suite="quick")
    prepared = prepare(objective_scenario(ctx, 20000, 1000, "standards", 60.0, 0.01))
    cov, cat, rules = prepared.coverage, prepared.catalogue, prepared.rules
    sites = SiteData.of(prepared.district.sites)
    w = standards_weights(cov, cat, rules)
    cap = cat.service_capacity()
    codes = np.unique(np.asarray(prepared.district.demand.communities).astype(str), return_inverse=True)[1].ravel()

    def pairs(key: str) -> np.ndarray:
        out = np.zeros(tuple(case["shape"]), dtype=bool)
        idx = np.asarray(case[key], dtype=np.int64)
        out[idx[:, 0], idx[:, 1]] = True
        return out

    form = SitingFormulation(sites, rules, lambda s: stage_of(
        build_standards_model(cov, s, rules, cap, basic=w.basic, quality=w.quality, communities=codes, floors=[]),
        "basic", []))
    built = form.build(pairs("allowed"), pairs("fixed"))
    model = with_fixed(built, pairs("fixed"))
    options = SolveOptions(time_limit_s=60.0, mip_gap=1e-6, threads=1, seed=0)
    r = solve(model, "highs", dataclasses.replace(options, warm_start=plan_start(built, pairs("start"))))
    assert r.solution is not None
    assert r.objective == pytest.approx(value_of(model, r.solution), rel=1e-12)
    truth = solve(model, "ortools-scip", dataclasses.replace(options, mip_gap=1e-9))
    assert truth.status is Status.OPTIMAL
    assert r.objective == pytest.approx(truth.objective, rel=1e-6)
    assert r.objective > 2.5795  # more than the start plan's 2.579366: the subproblem's improvement is kept
