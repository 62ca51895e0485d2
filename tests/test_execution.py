"""The execution layer: scheduler strings, task order, failures, and sweeps on a LocalCluster.

Every run on a cluster passes a timeout so that nothing can hang; clusters are closed by
their fixtures.
"""

from __future__ import annotations

import operator
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import DEFAULT_SCENARIO
from siting.data.overrides import apply_overrides, nested_overrides
from siting.data.scenario import load_scenario
from siting.errors import ExecutionError, ScenarioError
from siting.execution import (
    Executor,
    Progress,
    Shared,
    Task,
    TaskResult,
    executor_for,
    local_cores,
    resolve_scheduler,
    run_tasks,
)
from siting.pipeline import run_scenario
from siting.studies.variants import Variant, shares_preparation, solve_variants

TIMEOUT = 240.0


def test_scheduler_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SITING_SCHEDULER", raising=False)
    assert resolve_scheduler(None).kind == "processes"
    assert resolve_scheduler("processes:3").workers == 3
    assert resolve_scheduler("local").workers == 2
    assert resolve_scheduler("local:1").workers == 1
    assert resolve_scheduler("sync").kind == "sync"
    remote = resolve_scheduler("tcp://10.0.0.5:8786")
    assert (remote.kind, remote.address) == ("remote", "tcp://10.0.0.5:8786")
    monkeypatch.setenv("SITING_SCHEDULER", "local:3")
    assert resolve_scheduler(None).workers == 3
    assert resolve_scheduler("sync").kind == "sync"  # the option wins over the environment
    monkeypatch.setenv("SITING_SCHEDULER", "lokal")
    with pytest.raises(ExecutionError, match=r"SITING_SCHEDULER.*lokal.*tcp://"):
        resolve_scheduler(None)
    with pytest.raises(ExecutionError, match="local:0"):
        resolve_scheduler("local:0")


def test_default_processes_are_sized_to_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SITING_SCHEDULER", raising=False)
    assert executor_for(None, 1).spec.kind == "sync"  # one task: no workers to start
    sized = executor_for(None, 500).spec
    assert (sized.kind, sized.workers) == ("processes", local_cores()) or local_cores() == 1
    assert executor_for("processes:8", 3).spec.workers == 3
    assert executor_for("local:2", 1).spec.workers == 2  # an explicit cluster is what was asked for


def test_environment_variable_chooses_the_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITING_SCHEDULER", "sync")
    results = run_tasks([Task("a", operator.add, (1, 2)), Task("b", operator.mul, (3, 4))])
    assert [r.value for r in results] == [3, 12]
    assert {r.worker for r in results} == {"this process"}


def test_unreachable_scheduler_is_a_user_error() -> None:
    with pytest.raises(ExecutionError, match=r"cannot reach .* at tcp://127\.0\.0\.1:9.*dask scheduler"):
        Executor("tcp://127.0.0.1:9", connect_timeout_s=2).start()


def _failing_tasks() -> list[Task]:
    return [Task("half", operator.truediv, (1.0, 2.0)),
            Task("bug", operator.truediv, (1.0, 0.0)),  # an unexpected error: retried, then reported
            Task("missing scenario", load_scenario, ("/no/such/scenario.yaml",)),  # the input's fault
            Task("third", operator.truediv, (1.0, 3.0))]


def _check_failures(results: list[TaskResult]) -> None:
    assert [r.key for r in results] == ["half", "bug", "missing scenario", "third"]
    assert results[0].value == 0.5 and results[3].value == pytest.approx(1 / 3)
    assert results[1].error_type == "ZeroDivisionError" and not results[1].user_error
    assert results[2].error_type == "ScenarioError" and results[2].user_error
    assert "/no/such/scenario.yaml" in (results[2].error or "")
    assert [r.ok for r in results] == [True, False, False, True]


def test_failures_are_reported_and_the_others_finish_in_process() -> None:
    seen: list[Progress] = []
    results = run_tasks(_failing_tasks(), scheduler="sync", progress=seen.append)
    _check_failures(results)
    assert "ZeroDivisionError" in results[1].traceback
    assert seen[-1].done == 4 and seen[-1].failed == 2 and seen[-1].total == 4


def test_failures_are_reported_and_the_others_finish_on_a_cluster(local_cluster: Executor) -> None:
    finished: list[int] = []
    results = local_cluster.run(_failing_tasks(), on_result=lambda i, r: finished.append(i), timeout_s=TIMEOUT)
    _check_failures(results)
    assert sorted(finished) == [0, 1, 2, 3]
    assert results[0].worker.startswith("tcp://127.0.0.1:")


def test_an_existing_cluster_by_its_address(local_cluster: Executor, monkeypatch: pytest.MonkeyPatch) -> None:
    address = local_cluster.client.scheduler.address
    monkeypatch.setenv("SITING_SCHEDULER", address)
    with Executor() as remote:
        assert remote.spec.kind == "remote" and address in remote.describe()
        results = remote.run([Task(f"t{i}", operator.mul, (i, 10)) for i in range(6)], timeout_s=TIMEOUT)
    assert [r.value for r in results] == [0, 10, 20, 30, 40, 50]
    assert {r.worker for r in results} <= set(local_cluster.client.scheduler_info()["workers"])
    assert local_cluster.client.status == "running"  # disconnecting leaves the cluster up


def test_results_come_back_in_task_order(local_cluster: Executor) -> None:
    # later tasks finish first; results still follow the order of the tasks
    tasks = [Task(f"sleep-{i}", time.sleep, (0.05 * (5 - i),)) for i in range(5)]
    tasks += [Task(f"square-{i}", operator.pow, (i, 2)) for i in range(20)]
    results = local_cluster.run(tasks, timeout_s=TIMEOUT)
    assert [r.key for r in results] == [t.key for t in tasks]
    assert [r.value for r in results[5:]] == [i * i for i in range(20)]


def test_shared_values_and_kept_results(local_cluster: Executor) -> None:
    for ex in (local_cluster, Executor("sync")):
        data = ex.share(list(range(10)))
        kept = ex.run([Task("sum", sum, (data,)), Task("len", len, (data,))], keep=True, timeout_s=TIMEOUT)
        assert all(isinstance(r.value, Shared) for r in kept)
        out = ex.run([Task("ratio", operator.truediv, (kept[0].value, kept[1].value))], timeout_s=TIMEOUT)
        assert out[0].value == 4.5


def test_timeout_reports_unfinished_tasks(local_cluster: Executor) -> None:
    results = local_cluster.run([Task("quick", operator.neg, (1,)), Task("slow", time.sleep, (3.0,))],
                                timeout_s=1.0)
    assert results[0].value == -1
    assert results[1].error_type == "TimeoutError"


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        Executor("sync").run([Task("a", abs, (1,)), Task("a", abs, (2,))])


# -- variants --------------------------------------------------------------------------------------


def test_overrides_in_dotted_or_nested_form() -> None:
    assert nested_overrides({"weights.age_groups.elderly": 2, "weights.services": {"canteen": 0.5}}) == \
        {"weights": {"age_groups": {"elderly": 2}, "services": {"canteen": 0.5}}}
    sc = apply_overrides(load_scenario(DEFAULT_SCENARIO), {"weights": {"age_groups": {"children": 1.0}}})
    changed = apply_overrides(sc, {"budget": 5e6, "weights.age_groups.elderly": 2.0})
    assert changed.budget == 5e6 and changed.weights.age_groups["elderly"] == 2.0
    assert changed.weights.age_groups["children"] == 1.0 and changed.source == sc.source  # mappings merge
    assert shares_preparation({"budget": 1, "weights.age_groups.elderly": 2})
    assert not shares_preparation({"walking.detour": 1.5})
    with pytest.raises(ScenarioError, match=r"variant 'typo', field 'walking\.detuor': unknown field"):
        apply_overrides(sc, {"walking.detuor": 1.5}, label="variant 'typo'")
    with pytest.raises(ScenarioError, match="variant 'neg', field 'budget'"):
        apply_overrides(sc, {"budget": -1}, label="variant 'neg'")


def _budget_variants(path: Path, shares: np.ndarray) -> list[Variant]:
    base = load_scenario(path).budget
    return [Variant(f"budget={s:.2f}", {"budget": float(base * s)}) for s in shares]


def _same_plans(a: list[TaskResult], b: list[TaskResult]) -> None:
    assert [r.key for r in a] == [r.key for r in b]
    for x, y in zip(a, b, strict=True):
        assert x.ok == y.ok, (x.key, x.error, y.error)
        if x.ok:
            assert np.array_equal(x.value.hosts, y.value.hosts), x.key
            assert (x.value.objective, x.value.bound, x.value.cost) == (y.value.objective, y.value.bound, y.value.cost)
            assert x.value.assignments.equals(y.value.assignments)
        else:
            assert x.error == y.error


def test_budget_sweep_on_two_workers_equals_the_sequential_run(write_tiny, local_cluster: Executor) -> None:  # type: ignore[no-untyped-def]
    path = write_tiny(seed=5, n_demand=60, n_sites=9)
    variants = _budget_variants(path, np.linspace(0.5, 1.6, 8))
    variants += [Variant("too little", {"budget": 1000.0}),
                 Variant("elderly x3", {"weights.age_groups.elderly": 3.0}),
                 Variant("detour 1.6", {"walking.detour": 1.6})]  # prepares its own data on the worker
    sc = load_scenario(path)
    parallel = solve_variants(sc, variants, executor=local_cluster, timeout_s=TIMEOUT)
    sequential = solve_variants(sc, variants, scheduler="sync")
    _same_plans(parallel, sequential)
    # the sequential reference itself: each variant run from scratch as its own scenario
    for v, r in zip(variants, sequential, strict=True):
        if r.ok:
            alone = run_scenario(apply_overrides(sc, v.overrides)).plan
            assert np.array_equal(alone.hosts, r.value.hosts) and alone.objective == r.value.objective
    # a budget below every conversion: the empty plan is the answer, not an error
    low = parallel[variants.index(next(v for v in variants if v.name == "too little"))]
    assert low.ok and not low.value.hosts.any() and low.value.objective == 0
    assert sum(r.ok for r in parallel) == len(variants)
    objectives = [r.value.objective for r in parallel[:8]]
    assert objectives == sorted(objectives)  # more budget never covers fewer residents
    assert len({r.worker for r in parallel if r.ok}) == 2  # both workers took part


def test_a_task_that_always_kills_its_worker_is_reported_and_the_others_finish() -> None:
    import dask
    import distributed  # noqa: F401  (its configuration defaults load before the change below)

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), Executor("local:2") as ex:
        tasks = [Task("fine", operator.add, (1, 1)), Task("deadly", os._exit, (3,)),
                 Task("also fine", operator.add, (2, 2))]
        results = ex.run(tasks, timeout_s=TIMEOUT)
    assert [r.value for r in results] == [2, None, 4]
    assert results[1].error_type == "KilledWorker" and "died each time" in (results[1].error or "")


def test_killed_worker_mid_sweep_still_completes_every_variant() -> None:
    sc = load_scenario(DEFAULT_SCENARIO)
    variants = [Variant(f"budget={b:.0f}", {"budget": float(b)}) for b in np.linspace(2e6, 4.5e6, 6)]
    killed: dict[str, int] = {}
    with Executor("local:2") as ex:
        client = ex.client
        pids = client.run(os.getpid)

        def kill_one_busy_worker(p: Progress) -> None:
            if killed or p.done < 1:
                return
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                killed[busy[0]] = pids[busy[0]]
                os.kill(pids[busy[0]], signal.SIGKILL)

        results = solve_variants(sc, variants, executor=ex, progress=kill_one_busy_worker, timeout_s=TIMEOUT)
        assert killed, "no worker was busy when the first variant finished"
        deadline = time.monotonic() + 60
        while len(client.scheduler_info()["workers"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # the nanny restarts the killed worker
        assert set(killed.values()).isdisjoint(client.run(os.getpid).values())
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    _same_plans(results, solve_variants(sc, variants, scheduler="sync"))


def test_progress_bar_names_failures() -> None:
    import io

    from rich.console import Console

    from siting.cli.progress import task_progress

    buffer = io.StringIO()
    with task_progress(Console(file=buffer, width=120)) as progress:
        results = run_tasks(_failing_tasks(), scheduler="sync", progress=progress)
    text = buffer.getvalue()
    assert sum(not r.ok for r in results) == 2
    assert "✗ bug: float division by zero" in text and "✗ missing scenario: scenario file" in text
