"""Start the workbench: prepare, solve the loaded scenario once, serve with uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from siting.data.scenario import Scenario
from siting.serve.app import create_app
from siting.serve.edits import Edits
from siting.serve.guard import is_loopback, served_hosts
from siting.serve.views import DEFAULT_MAX_WALK_SCALE
from siting.serve.workbench import Workbench

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def exposure_note(host: str) -> str:
    """What binding to ``host`` means for who can use the workbench ('' for loopback)."""
    if is_loopback(host):
        return ""
    return (f"listening on {host}, not only on this machine: anyone who can reach this address can use the "
            f"workbench and export plans into its output folder (there is no login); bind to 127.0.0.1 unless "
            f"you mean it")


def serve(scenario: Scenario, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, out_dir: Path,
          max_walk_scale: float = DEFAULT_MAX_WALK_SCALE, time_limit_s: float | None = None,
          backend: str | None = None, allow_hosts: Sequence[str] = (),
          say: Callable[[str], None] = print) -> None:
    """Prepare ``scenario``, solve it once, and serve the workbench until interrupted.

    Parameters
    ----------
    scenario
        The scenario to load.
    host, port
        Where to listen (default 127.0.0.1:8765, this machine only).
    out_dir
        Where exports are written.
    max_walk_scale
        The largest walking-limit scale edits may ask for.
    time_limit_s
        Time limit of each solve (default: the scenario's).
    backend
        Solver backend (default: the scenario's).
    allow_hosts
        Further names the ``Host`` header may carry (a name this machine is reached by).
    say
        Where to print what happens.
    """
    import uvicorn

    say(f"Preparing {scenario.name} (walking, coverage)...")
    wb = Workbench(scenario, max_walk_scale=max_walk_scale, time_limit_s=time_limit_s, backend=backend)
    say(f"Prepared in {wb.prepare_seconds:.1f} s; solving the loaded scenario...")
    first = wb.solve(Edits())
    gap = first.get("gap")
    say(f"{scenario.name}: status {first['status']}" + (f", gap {100 * gap:.4f} %" if gap is not None else "")
        + (f": {first.get('message')}" if first["status"] in ("error", "infeasible") else ""))
    app = create_app(wb, allowed_hosts=served_hosts(host, port, allow_hosts), out_dir=out_dir)
    shown = "localhost" if is_loopback(host) else host
    note = exposure_note(host)
    if note:
        say(f"warning: {note}")
    say(f"Workbench at http://{shown}:{port}/ (API: /openapi.json; exports to {out_dir}); Ctrl-C to stop")
    uvicorn.run(app, host=host, port=port, log_level="warning", limit_concurrency=64, timeout_keep_alive=5)


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "exposure_note", "serve"]
