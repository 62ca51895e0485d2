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
:class:`TaskResult` carries the error. A result lost with a dying worker is computed again.
In runs of more than twice as many tasks as worker threads, ``siting``'s local clusters keep
waiting tasks at the scheduler until a worker is free (``distributed.scheduler.worker-saturation:
1.0``), so that a task that kills its worker takes no waiting task down with it; a remote
scheduler can be started with the same setting
(``DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION=1.0 dask scheduler``).

Interrupted runs: ``on_result`` is called on the driver as each task finishes, so that a
caller can journal finished work and, when restarted, submit only the tasks not done yet.
"""

from siting.execution.executor import Executor, executor_for, run_tasks
from siting.execution.schedulers import (
    DEFAULT_SCHEDULER,
    SCHEDULER_ENV,
    SchedulerSpec,
    local_cores,
    resolve_scheduler,
)
from siting.execution.tasks import Progress, ProgressCallback, ResultCallback, Shared, Task, TaskResult, failures

__all__ = ["DEFAULT_SCHEDULER", "SCHEDULER_ENV", "Executor", "Progress", "ProgressCallback", "ResultCallback",
           "SchedulerSpec", "Shared", "Task", "TaskResult", "executor_for", "failures", "local_cores",
           "resolve_scheduler", "run_tasks"]
