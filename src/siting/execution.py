"""The execution layer: run independent solves in this process, in local worker processes, or on a Dask cluster.

Sweeps, comparisons and city-wide batches are made of independent solves. They hand them
here as :class:`Task` objects (a module-level function and plain, picklable arguments) and
get back one :class:`TaskResult` per task, in task order, whatever order they finished in.
Where the solves run is chosen by a *scheduler* string:

``processes`` (the default), ``processes:N``
    Local worker processes, one per core (or ``N``), started for the run and closed after it
    (a Dask ``LocalCluster``, so a worker that dies is replaced and its task retried).
``local``, ``local:N``
    A ``LocalCluster`` of ``N`` worker processes (default 2): the same code path as a remote
    cluster, for tests and for trying the distributed set-up on one machine.
``tcp://HOST:PORT`` (or ``tls://``, ``ws://``, ``wss://``)
    An existing Dask cluster (``dask scheduler`` and ``dask worker`` commands). Its workers
    need ``siting`` installed and, for tasks that read data by path, the same files.
``sync``
    One after the other in this process: no start-up cost, and tracebacks point at the code.

When no scheduler is given, the ``SITING_SCHEDULER`` environment variable is used, then
``processes``.

Faults: a task whose worker dies is re-run on another worker (the Dask scheduler allows
``distributed.scheduler.allowed-failures`` deaths per task); an unexpected exception is
retried ``retries`` times; a :class:`~siting.errors.SitingError` (the input's fault) is
reported at once, without retrying. A failing task never stops the others: its
:class:`TaskResult` carries the error.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from siting.errors import ExecutionError, SitingError

SCHEDULER_ENV = "SITING_SCHEDULER"
DEFAULT_SCHEDULER = "processes"
REMOTE_PREFIXES = ("tcp://", "tls://", "ws://", "wss://", "ucx://")

SchedulerKind = Literal["sync", "processes", "local", "remote"]


@dataclass(frozen=True)
class Task:
    """One independent piece of work.

    Attributes
    ----------
    key
        A readable name, unique within a run (a variant's or a circle's name).
    func
        A module-level function (so that it pickles by reference).
    args, kwargs
        Plain, picklable arguments; a :class:`Shared` argument stands for a value shared by
        many tasks (sent once to a cluster).
    """

    key: str
    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskResult:
    """What became of one task.

    Attributes
    ----------
    key
        The task's key.
    value
        What the function returned (``None`` when it failed); a :class:`Shared` handle when
        the run kept results on the cluster.
    error
        The error message, or ``None`` when the task succeeded.
    error_type
        Class name of the error (``InfeasibleError``, ``KilledWorker``, ``TimeoutError``...).
    user_error
        True when the error is the input's fault (a :class:`~siting.errors.SitingError`).
    seconds
        Time the function ran (on its last attempt).
    worker
        Address of the worker that ran it, or ``"this process"``.
    traceback
        The traceback of an unexpected error, for bug reports.
    """

    key: str
    value: Any = None
    error: str | None = None
    error_type: str | None = None
    user_error: bool = False
    seconds: float = 0.0
    worker: str = ""
    traceback: str = ""

    @property
    def ok(self) -> bool:
        """True when the task succeeded."""
        return self.error is None


@dataclass(frozen=True)
class Progress:
    """Where a run stands, for progress bars.

    Attributes
    ----------
    label
        What the run is doing (e.g. ``"pricing round 3"``).
    total, done, failed
        Tasks in the run, finished (failed included) and failed.
    running
        Keys of the tasks on workers now.
    elapsed_s
        Seconds since the run started.
    eta_s
        Estimated seconds left, ``None`` until a first task has finished.
    last
        The task that just finished, if any.
    """

    label: str
    total: int
    done: int
    failed: int
    running: tuple[str, ...]
    elapsed_s: float
    eta_s: float | None
    last: TaskResult | None = None


ProgressCallback = Callable[[Progress], None]
ResultCallback = Callable[[int, TaskResult], None]


@dataclass(frozen=True)
class Shared:
    """A value used by many tasks: sent to a cluster once, then passed to tasks by reference.

    Attributes
    ----------
    ref
        The value itself (in this process) or a Dask future holding it on the cluster.
    """

    ref: Any


@dataclass(frozen=True)
class SchedulerSpec:
    """A parsed scheduler string.

    Attributes
    ----------
    kind
        ``sync``, ``processes``, ``local`` or ``remote``.
    workers
        Number of local worker processes (``None``: one per core).
    address
        The scheduler's address for ``remote``.
    """

    kind: SchedulerKind
    workers: int | None = None
    address: str | None = None

    def describe(self) -> str:
        """A readable account of where tasks run."""
        if self.kind == "sync":
            return "this process, one task after the other"
        if self.kind == "remote":
            return f"the Dask cluster at {self.address}"
        n = self.workers or local_cores()
        return f"{n} local worker process{'es' if n != 1 else ''}"


def local_cores() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_scheduler(scheduler: str | None = None) -> SchedulerSpec:
    """Parse a scheduler string; ``None`` reads ``SITING_SCHEDULER``, then uses ``processes``.

    Raises
    ------
    ExecutionError
        When the string is none of the accepted forms.
    """
    origin = "--scheduler"
    if scheduler is None or not scheduler.strip():
        env = os.environ.get(SCHEDULER_ENV, "").strip()
        scheduler, origin = (env, f"environment variable {SCHEDULER_ENV}") if env else (DEFAULT_SCHEDULER, "")
    text = scheduler.strip()
    if text.startswith(REMOTE_PREFIXES):
        return SchedulerSpec("remote", address=text)
    name, _, count = text.partition(":")
    name = name.lower()
    if name in ("sync", "serial") and not count:
        return SchedulerSpec("sync", workers=1)
    if name in ("processes", "local"):
        if not count:
            return SchedulerSpec(name, workers=2 if name == "local" else None)  # type: ignore[arg-type]
        if count.isdigit() and int(count) >= 1:
            return SchedulerSpec(name, workers=int(count))  # type: ignore[arg-type]
    raise ExecutionError(
        f"{origin or 'scheduler'}: '{scheduler}' is not a scheduler; use 'processes' (default, one worker per "
        f"core), 'processes:N', 'local' or 'local:N' (a LocalCluster of N workers), 'sync' (in this process), "
        f"or the address of a running Dask scheduler such as tcp://10.0.0.5:8786")


def _unshare(obj: Any) -> Any:
    """Replace :class:`Shared` handles by their references, inside tuples, lists and dicts too."""
    if isinstance(obj, Shared):
        return obj.ref
    if isinstance(obj, tuple | list):
        return type(obj)(_unshare(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _unshare(v) for k, v in obj.items()}
    return obj


@dataclass(frozen=True)
class _Outcome:
    """What :func:`_call` sends back from a worker."""

    value: Any
    error: str | None
    error_type: str | None
    seconds: float
    worker: str


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "this process"


def _call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> _Outcome:
    """Run one task; the input's errors come back as data, anything else is raised (and retried)."""
    t0 = time.perf_counter()
    try:
        value = func(*args, **kwargs)
    except SitingError as e:
        return _Outcome(None, str(e), type(e).__name__, time.perf_counter() - t0, _worker_address())
    return _Outcome(value, None, None, time.perf_counter() - t0, _worker_address())


def _unwrap(outcome: _Outcome) -> Any:
    """The value of a finished task, kept on the cluster."""
    return outcome.value


def _result(key: str, outcome: _Outcome, value: Any) -> TaskResult:
    return TaskResult(key, value if outcome.error is None else None, outcome.error, outcome.error_type,
                      user_error=outcome.error is not None, seconds=outcome.seconds, worker=outcome.worker)


def _failure(key: str, exc: BaseException, tb: str = "") -> TaskResult:
    name = type(exc).__name__
    message = str(exc) or name
    if name == "KilledWorker":
        message = (f"the worker running '{key}' died each time it was tried ({exc}); the task may need more "
                   f"memory than a worker has")
    return TaskResult(key, error=message, error_type=name, user_error=isinstance(exc, SitingError), traceback=tb)


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
        with warnings.catch_warnings():  # no dashboard; its small HTTP server moves off a busy port
            warnings.filterwarnings("ignore", message="Port .* is already in use")
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
        from distributed import wait

        client = self._client
        run_id = uuid.uuid4().hex[:8]
        futures = [client.submit(_call, t.func, _unshare(t.args), _unshare(dict(t.kwargs)),
                                 key=f"{t.key}-{run_id}-{i}", retries=self.retries, pure=False)
                   for i, t in enumerate(tasks)]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[TaskResult | None] = [None] * len(tasks)
        tracker = _Tracker(label, len(tasks), progress)
        pending = set(futures)
        try:
            tracker.report(())
            while pending:
                if timeout_s is not None and tracker.elapsed() > timeout_s:
                    for f in pending:
                        f.cancel()
                        i = index[f.key]
                        results[i] = _failure(tasks[i].key, TimeoutError(f"not finished within {timeout_s:g} s"))
                    break
                try:
                    with client.as_current():
                        done, pending = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = set()
                running = self._running(index, tasks) if progress is not None else ()
                for f in sorted(done, key=lambda f: index[f.key]):
                    i = index[f.key]
                    res = self._collect(f, tasks[i].key, keep)
                    results[i] = res
                    if on_result is not None:
                        on_result(i, res)
                    tracker.finished(res, running)
                if not done:
                    tracker.report(running)
        except BaseException:
            client.cancel(list(pending))
            raise
        return [r if r is not None else _failure(tasks[i].key, RuntimeError("no result came back"))
                for i, r in enumerate(results)]

    def _collect(self, future: Any, key: str, keep: bool) -> TaskResult:
        if future.status == "error":
            exc = future.exception()
            tb = "".join(traceback.format_tb(future.traceback())) if future.traceback() is not None else ""
            return _failure(key, exc, tb)
        if future.status == "cancelled":
            return _failure(key, RuntimeError("cancelled"))
        outcome: _Outcome = future.result()
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


class _Tracker:
    """Counts finished tasks and reports progress."""

    def __init__(self, label: str, total: int, callback: ProgressCallback | None) -> None:
        self.label, self.total, self.callback = label, total, callback
        self.done = self.failed = 0
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def report(self, running: tuple[str, ...], last: TaskResult | None = None) -> None:
        if self.callback is None:
            return
        elapsed = self.elapsed()
        eta = elapsed * (self.total - self.done) / self.done if self.done else None
        self.callback(Progress(self.label, self.total, self.done, self.failed, running, elapsed, eta, last))

    def finished(self, result: TaskResult, running: tuple[str, ...]) -> None:
        self.done += 1
        self.failed += 0 if result.ok else 1
        self.report(tuple(k for k in running if k != result.key), result)


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


def failures(results: Iterable[TaskResult]) -> list[TaskResult]:
    """The results that failed."""
    return [r for r in results if not r.ok]


__all__ = ["DEFAULT_SCHEDULER", "SCHEDULER_ENV", "Executor", "Progress", "ProgressCallback", "ResultCallback",
           "SchedulerSpec", "Shared", "Task", "TaskResult", "executor_for", "failures", "local_cores",
           "resolve_scheduler", "run_tasks"]
