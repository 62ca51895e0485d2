"""How local worker processes start: forked from a server that has imported siting once.

A local worker started the default way (``spawn``) is a new Python interpreter that imports
``siting``, its solvers and Dask before its first task: two to five seconds per worker, paid
again by every run. On POSIX systems ``siting``'s local clusters start their workers from a
*fork server* instead (:mod:`multiprocessing`'s ``forkserver``): one clean process, started
with no threads, that imports the modules below once; each worker is a fork of it, ready at
once. ``siting run`` starts the server before it solves the plan (:func:`start_worker_server`),
so its imports overlap with the solve and the analysis's workers start ready. Forking from the
server, not from the running program, keeps the solver's and Dask's threads out of the
workers. Elsewhere (Windows) workers are spawned as before.
"""

from __future__ import annotations

import multiprocessing

#: Modules the fork server imports once, so that every worker starts with them.
WORKER_MODULES = ("distributed", "siting.studies.resolve", "siting.pipeline.solve")


def fork_server_available() -> bool:
    """True where worker processes can be forked from a server (POSIX)."""
    return "forkserver" in multiprocessing.get_all_start_methods()


def start_worker_server() -> bool:
    """Start the fork server, importing :data:`WORKER_MODULES` in the background; True when started.

    It returns at once: the server imports while this process goes on, and the first worker
    started from it waits for those imports. Calling it again does nothing.
    """
    if not fork_server_available():
        return False
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(list(WORKER_MODULES))
    forkserver.ensure_running()
    return True


def start_method() -> str:
    """The start method of local worker processes: ``forkserver`` where available, else ``spawn``."""
    return "forkserver" if fork_server_available() else "spawn"


__all__ = ["WORKER_MODULES", "fork_server_available", "start_method", "start_worker_server"]
