"""A rich progress bar for runs of the execution layer: what runs, how far, time left."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from siting.execution import Progress as RunProgress
from siting.execution import ProgressCallback


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "time left: …"
    m, s = divmod(round(seconds), 60)
    return f"time left: {m}:{s:02d}" if m < 60 else f"time left: {m // 60} h {m % 60:02d} min"


@contextmanager
def task_progress(console: Console, *, show_running: int = 4) -> Iterator[ProgressCallback]:
    """A progress bar on ``console``; yields the callback to pass to the execution layer.

    Parameters
    ----------
    console
        Where to draw (stderr keeps stdout for results).
    show_running
        How many running task names to show.
    """
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[eta]}"), TextColumn("[dim]{task.fields[running]}"))
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None, eta="", running="")

        def update(p: RunProgress) -> None:
            names = ", ".join(p.running[:show_running]) + (" …" if len(p.running) > show_running else "")
            failed = f" [red]({p.failed} failed)[/red]" if p.failed else ""
            bar.update(task, description=escape(p.label) + failed, total=p.total, completed=p.done,
                       eta=_eta(p.eta_s), running=escape(f"running: {names}") if names else "")
            if p.last is not None and not p.last.ok:
                console.print(f"[red]✗[/red] {escape(p.last.key)}: {escape(p.last.error or '')}", highlight=False)

        yield update


__all__ = ["task_progress"]
