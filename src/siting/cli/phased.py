"""The commands of plans in phases: ``siting run`` of a scenario with ``phases:``, ``siting batch`` of a "1+6+N" city.

Thin, like the rest of the command line: the work is in :mod:`siting.studies.phases`,
:mod:`siting.city.phased` and the report.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table

from siting.city.files import City
from siting.cli.console import console, err_console, print_note
from siting.data.scenario import Scenario
from siting.execution import Executor


def run_phased_command(sc: Scenario, target: Path, solver: str | None) -> None:
    """``siting run`` of a scenario with ``phases:``: the joint and the myopic plan, schedule.csv and the report."""
    from siting.report import write_run_outputs
    from siting.studies.analysis import RunAnalysis, street_segments
    from siting.studies.phases import phase_gains, run_phased

    with console.status(f"Planning {escape(sc.name)} in phases...") as status:
        run = run_phased(sc, backend=solver,
                         progress=lambda line: status.update(f"{escape(sc.name)}: {escape(line)}"))
    with console.status("Writing the report..."):
        folder = write_run_outputs(run.run_result(), target, RunAnalysis(streets=street_segments(run.prepared)),
                                   phased=run)
    j = run.joint
    gap = "n/a" if j.gap == float("inf") else f"{100 * j.gap:.4f} %"
    console.print(f"[bold]{escape(sc.name)}[/bold]: {j.phases.n_phases} phases, status [bold]{j.status.value}[/bold], "
                  f"gap {gap}; {len(j.final.assignments)} services at {j.final.sites_used} sites, cost "
                  f"{float(j.spend.sum()):,.0f} yuan")
    table = Table("phase", "money (yuan)", "spent", "opened", "residents × services within reach",
                  title="Phases (schedule.csv)")
    for t, name in enumerate(j.phases.names):
        cov = j.plans[t].coverage
        table.add_row(escape(name), f"{j.money[t]:,.0f}", f"{j.spend[t]:,.0f}", str(int(j.schedule.opened(t).sum())),
                      f"{cov['covered_after'].sum() / max(cov['population'].sum(), 1):.1%}")
    console.print(table)
    console.print("stages over time: " + "; ".join(f"{s.name} {s.status.value} ({s.objective:.4g}, gap {s.gap:.2%})"
                                                   for s in j.stages))
    gain = phase_gains(j, run.myopic)
    if gain:
        years = gain["coverage_years"]
        console.print("against the myopic plan (each phase on its own): " + "; ".join(
            f"{s['stage']} {s['gain']:+.4g}" for s in gain["stages"]) + f"; coverage-years {years['gain']:+,.0f}")
    for note in (*run.prepared.walking.notes, *j.notes, *run.notes):
        print_note(note)
    console.print(f"Report: {folder / 'report.html'}")


def batch_phased_command(c: City, executor: Executor, out: Path | None, solver: str | None) -> None:
    """``siting batch`` of a "1+6+N" city in phases: every circle with its own money, schedule.csv, the report."""
    from siting.city.phased import run_phased_city
    from siting.cli.progress import task_progress
    from siting.report.city_phased import write_phased_city_outputs

    with executor as ex, task_progress(err_console) as progress:
        result = run_phased_city(c, executor=ex, backend=solver, progress=progress)
    folder = write_phased_city_outputs(result, out or Path("out") / c.scenario.name)
    gap = "n/a" if result.gap == float("inf") else f"{100 * result.gap:.4f} %"
    console.print(f"[bold]{escape(result.name)}[/bold]: {len(result.plans)} life circles in "
                  f"{len(result.phase_names)} phases, status [bold]{result.status.value}[/bold], gap {gap}")
    table = Table("circle", "theme", "from", *(f"spent {n}" for n in result.phase_names), "status",
                  title="Life circles (schedule.csv)")
    for p in result.plans:
        s = p.setup
        table.add_row(escape(p.circle), escape(s.theme_label.split(" ")[0] or "—") + (" · pilot" if s.pilot else ""),
                      escape(result.phase_names[s.first_phase]), *(f"{v:,.0f}" for v in p.joint.spend),
                      p.joint.status.value)
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    console.print(f"Report: {folder / 'report.html'}")


__all__ = ["batch_phased_command", "run_phased_command"]
