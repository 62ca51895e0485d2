"""The executor: runs lists of tasks in this process, in local worker processes or on a Dask cluster."""

from __future__ import annotations

import logging
import time
import traceback
import uuid
import warnings
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from siting.errors import ExecutionError
from siting.execution.schedulers import SCHEDULER_ENV, SchedulerSpec, local_cores, resolve_scheduler
from siting.execution.tasks import (
    ProgressCallback,
    ResultCallback,
    Shared,
    Task,
    TaskResult,
    _call,
    _failure,
    _Outcome,
    _result,
    _Tracker,
    _unshare,
    _unwrap,
)
from siting.execution.workers import start_method, start_worker_server


class Executor:
    """Runs lists of tasks on one scheduler; keeps a cluster open across several runs.

    Use it as a context manager::

        with Executor("local:2") as ex:
            data = ex.share(prepared)
            results = ex.run([Task("a", solve, (data, 1.0)), Task("b", solve, (data, 2.0))])

    Parameters
    ----------
    scheduler
        A scheduler string (see the module docstring) or a parsed one; ``None`` reads
        ``SITING_SCHEDULER``.
    retries
        How many times a task that raised an unexpected error is tried again.
    connect_timeout_s
        How long to wait for a remote scheduler to answer.
    """

    def __init__(self, scheduler: str | SchedulerSpec | None = None, *, retries: int = 2,
                 connect_timeout_s: float = 20.0) -> None:
        self.spec = scheduler if isinstance(scheduler, SchedulerSpec) else resolve_scheduler(scheduler)
        self.retries = retries
        self.connect_timeout_s = connect_timeout_s
        self._cluster: Any = None
        self._client: Any = None

    # -- lifetime -------------------------------------------------------------------------
    def __enter__(self) -> Executor:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        """Start the local cluster or connect to the remote one (nothing to do for ``sync``)."""
        if self.spec.kind == "sync" or self._client is not None:
            return
        import dask
        from distributed import Client, LocalCluster

        if self.spec.kind == "remote":
            try:
                self._client = Client(self.spec.address, timeout=f"{self.connect_timeout_s}s",
                                      set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise ExecutionError(
                    f"cannot reach the Dask scheduler at {self.spec.address} ({e}); start one with "
                    f"'dask scheduler' and workers with 'dask worker {self.spec.address}', or fix --scheduler / "
                    f"{SCHEDULER_ENV}") from None
            return
        # the scheduler runs in this process: with a worker saturation of 1, tasks wait at the scheduler
        # until a worker is free, so a task that kills its worker takes no waiting neighbour down with it;
        # the workers' statistical profiler is off (it samples every 10 ms, which solves do not need)
        # workers are forked from a server that has imported siting once (siting.execution.workers)
        start_worker_server()
        settings = {"distributed.scheduler.worker-saturation": 1.0, "distributed.worker.profile.enabled": False,
                    "distributed.worker.multiprocessing-method": start_method()}
        with warnings.catch_warnings(), dask.config.set(settings):
            warnings.filterwarnings("ignore", message="Port .* is already in use")  # no dashboard: HTTP server only
            self._cluster = LocalCluster(n_workers=self.spec.workers or local_cores(), threads_per_worker=1,
                                         processes=True, host="127.0.0.1", dashboard_address=None,
                                         silence_logs=logging.CRITICAL)
        self._client = Client(self._cluster, set_as_default=False)

    def close(self) -> None:
        """Disconnect, and stop the cluster if this executor started it."""
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    @property
    def client(self) -> Any:
        """The Dask client (``None`` for ``sync`` or before :meth:`start`)."""
        return self._client

    def describe(self) -> str:
        """Where tasks run, in words."""
        return self.spec.describe()

    # -- data -----------------------------------------------------------------------------
    def share(self, value: Any) -> Shared:
        """Send a value to every worker once; pass the returned handle as a task argument."""
        if self._client is None:
            if self.spec.kind != "sync":
                self.start()
            else:
                return Shared(value)
        return Shared(self._client.scatter(value, broadcast=True, hash=False))

    # -- running --------------------------------------------------------------------------
    def run(self, tasks: Sequence[Task], *, label: str = "", progress: ProgressCallback | None = None,
            on_result: ResultCallback | None = None, keep: bool = False,
            timeout_s: float | None = None) -> list[TaskResult]:
        """Run tasks and return their results in task order.

        Parameters
        ----------
        tasks
            Independent tasks.
        label
            What the run does, passed on to ``progress``.
        progress
            Called on the driver when the run starts, when a task finishes and now and then
            while tasks run.
        on_result
            Called on the driver with ``(index, result)`` as each task finishes, in the order
            they finish (to journal finished work, for example).
        keep
            Keep the values on the cluster: each successful result's ``value`` is then a
            :class:`Shared` handle for later tasks, instead of the value itself.
        timeout_s
            Give up on tasks not finished after this many seconds (they are reported as
            ``TimeoutError`` failures); ``None`` waits as long as they take.

        Returns
        -------
        list of TaskResult
            One per task, in the order of ``tasks``.
        """
        keys = [t.key for t in tasks]
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise ValueError(f"task key {dup!r} appears twice; keys must be unique within a run")
        if self.spec.kind == "sync":
            return self._run_sync(tasks, label, progress, on_result, keep, timeout_s)
        self.start()
        return self._run_dask(tasks, label, progress, on_result, keep, timeout_s)

    def _run_sync(self, tasks: Sequence[Task], label: str, progress: ProgressCallback | None,
                  on_result: ResultCallback | None, keep: bool, timeout_s: float | None) -> list[TaskResult]:
        tracker = _Tracker(label, len(tasks), progress)
        out: list[TaskResult] = []
        for i, task in enumerate(tasks):
            if timeout_s is not None and tracker.elapsed() > timeout_s:
                res = _failure(task.key, TimeoutError(f"not started within {timeout_s:g} s"))
            else:
                tracker.report((task.key,))
                try:
                    outcome = _call(task.func, _unshare(task.args), _unshare(dict(task.kwargs)))
                    value = Shared(outcome.value) if keep and outcome.error is None else outcome.value
                    res = _result(task.key, outcome, value)
                except Exception as e:
                    res = _failure(task.key, e, traceback.format_exc())
            out.append(res)
            if on_result is not None:
                on_result(i, res)
            tracker.finished(res, ())
        return out

    def _run_dask(self, tasks: Sequence[Task], label: str, progress: ProgressCallback | None,
                  on_result: ResultCallback | None, keep: bool, timeout_s: float | None) -> list[TaskResult]:
        from distributed import as_completed

        client = self._client
        run_id = uuid.uuid4().hex[:8]
        # one task group per run ("siting-<run>-<i>"): a large group of independent tasks is queued at
        # the scheduler, so that every worker holds only the task it runs
        futures = client.map(_call, [t.func for t in tasks], [_unshare(t.args) for t in tasks],
                             [_unshare(dict(t.kwargs)) for t in tasks],
                             key=[f"siting-{run_id}-{i}" for i in range(len(tasks))], retries=self.retries,
                             pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[TaskResult | None] = [None] * len(tasks)
        tracker = _Tracker(label, len(tasks), progress)
        finished = 0
        try:
            tracker.report(())
            running: tuple[str, ...] = ()
            polled = 0.0
            pause = 0.005
            ready = as_completed(futures, loop=client.loop, with_results=False)
            while finished < len(futures):
                if progress is not None and tracker.elapsed() - polled > 0.5:
                    running, polled = self._running(index, tasks), tracker.elapsed()
                batch = ready.next_batch(block=False)
                if not batch:
                    if timeout_s is not None and tracker.elapsed() > timeout_s:
                        break
                    tracker.report(running) if pause >= 0.2 and progress is not None else None
                    time.sleep(pause)
                    pause = min(0.2, 2 * pause)
                    continue
                pause = 0.005
                for f in batch:  # a result lost with its worker is computed again: wait for it once more
                    if f.status not in ("finished", "error", "cancelled"):
                        ready.add(f)
                batch = sorted((f for f in batch if f.status in ("finished", "error", "cancelled")),
                               key=lambda f: index[f.key])
                good = [f for f in batch if f.status == "finished"]
                outcomes = dict(zip([f.key for f in good], client.gather(good), strict=True)) if good else {}
                for f in batch:
                    i = index[f.key]
                    res = self._collect(f, tasks[i].key, keep, outcomes.get(f.key))
                    results[i] = res
                    finished += 1
                    if on_result is not None:
                        on_result(i, res)
                    tracker.finished(res, running)
        except BaseException:
            client.cancel([f for f, r in zip(futures, results, strict=True) if r is None])
            raise
        late = [f for f, r in zip(futures, results, strict=True) if r is None]
        if late:
            client.cancel(late)
        return [r if r is not None else _failure(tasks[i].key, TimeoutError(f"not finished within {timeout_s:g} s"))
                for i, r in enumerate(results)]

    def _collect(self, future: Any, key: str, keep: bool, outcome: _Outcome | None) -> TaskResult:
        if outcome is None and future.status == "error":
            exc = future.exception()
            tb = "".join(traceback.format_tb(future.traceback())) if future.traceback() is not None else ""
            return _failure(key, exc, tb)
        if outcome is None:
            return _failure(key, RuntimeError(f"the task ended as '{future.status}' without a result"))
        value: Any = outcome.value
        if keep and outcome.error is None:
            value = Shared(self._client.submit(_unwrap, future, key=f"{future.key}-kept", pure=False))
        elif keep:
            value = None
        return _result(key, outcome, value)

    def _running(self, index: Mapping[str, int], tasks: Sequence[Task]) -> tuple[str, ...]:
        try:
            processing = self._client.processing()
        except Exception:  # progress is best effort; never fail a run for it
            return ()
        found = sorted(index[k] for keys in processing.values() for k in keys if k in index)
        return tuple(tasks[i].key for i in found)


def executor_for(scheduler: str | None, n_tasks: int, *, retries: int = 2) -> Executor:
    """An executor sized for ``n_tasks``: the default ``processes`` starts no more workers than tasks,
    and none at all for a single task (it runs in this process)."""
    spec = resolve_scheduler(scheduler)
    if spec.kind == "processes":
        n = min(spec.workers or local_cores(), n_tasks)
        spec = SchedulerSpec("sync", workers=1) if n <= 1 else SchedulerSpec("processes", workers=n)
    return Executor(spec, retries=retries)


def run_tasks(tasks: Sequence[Task], *, scheduler: str | None = None, label: str = "",
              progress: ProgressCallback | None = None, on_result: ResultCallback | None = None,
              retries: int = 2, timeout_s: float | None = None) -> list[TaskResult]:
    """Run independent tasks and return their results in task order.

    The default scheduler (``processes``) starts one worker per core, no more than there are
    tasks, and runs a single task in this process without starting any.

    Parameters
    ----------
    tasks
        Independent tasks (module-level functions, picklable arguments).
    scheduler
        ``processes[:N]``, ``local[:N]``, ``sync`` or a Dask scheduler address; ``None`` reads
        ``SITING_SCHEDULER``.
    label, progress, on_result, timeout_s
        See :meth:`Executor.run`.
    retries
        Tries again of a task that raised an unexpected error.

    Returns
    -------
    list of TaskResult
        One per task, in the order of ``tasks``.
    """
    with executor_for(scheduler, len(tasks), retries=retries) as executor:
        return executor.run(tasks, label=label, progress=progress, on_result=on_result, timeout_s=timeout_s)


__all__ = ["Executor", "executor_for", "run_tasks"]
