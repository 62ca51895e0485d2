"""The ``siting`` command line: a thin layer over the pipeline.

A user mistake (a :class:`~siting.errors.SitingError`) prints its message and exits with
code 2, never a traceback; a bug in ``siting`` shows its traceback and exits with code 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from siting.errors import SitingError
from siting.scenario import DEFAULT_SCENARIO, load_scenario, scenario_json_schema

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Plan 15-minute community life circles: which idle building becomes which service.")
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

ScenarioArg = Annotated[Path | None, typer.Argument(help="Scenario YAML (default: the Jiangbei demo)")]


@app.command()
def run(
    scenario: ScenarioArg = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default out/<scenario name>)")] = None,
    solver: Annotated[str | None, typer.Option("--solver", help="Solver backend (overrides the scenario)")] = None,
) -> None:
    """Solve a scenario and write the plan, coverage tables and report."""
    from siting.report import write_run_outputs
    from siting.runner import run_scenario

    sc = load_scenario(scenario or DEFAULT_SCENARIO)
    with console.status(f"Solving {sc.name}..."):
        result = run_scenario(sc, backend=solver)
        folder = write_run_outputs(result, out or Path("out") / sc.name)
    plan = result.plan
    gap = "n/a" if plan.gap == float("inf") else f"{100 * plan.gap:.4f} %"
    console.print(f"[bold]{sc.name}[/bold]: status [bold]{plan.status.value}[/bold], gap {gap}, "
                  f"{len(plan.assignments)} services at {plan.sites_used} sites, "
                  f"cost {plan.cost:,.0f} of {plan.budget:,.0f} yuan")
    table = Table("age group", "covered before", "covered after", title="Coverage (residents × services)")
    by_group = plan.coverage.groupby("age_group", sort=False)[["population", "covered_before", "covered_after"]].sum()
    for g, row in by_group.iterrows():
        table.add_row(str(g), f"{row.covered_before / row.population:.1%}", f"{row.covered_after / row.population:.1%}")
    console.print(table)
    for note in result.prepared.walking.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print(f"Report: {folder / 'report.html'}")


@app.command()
def validate(scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files")]) -> None:
    """Check scenario files and their data without solving; list every problem."""
    from siting.runner import prepare

    failed = 0
    for path in scenarios:
        try:
            prepared = prepare(load_scenario(path))
        except SitingError as e:
            failed += 1
            err_console.print(f"[red]✗[/red] {escape(str(path))}\n{escape(str(e))}", highlight=False)
            continue
        d = prepared.district
        console.print(f"[green]✓[/green] {path}: {len(d.demand)} demand points, {len(d.sites)} sites, "
                      f"{len(d.existing)} existing facilities, {len(d.service_keys)} services")
    if failed:
        raise typer.Exit(2)


@app.command()
def catalog() -> None:
    """Show the default service catalogue and age groups."""
    from siting.catalog import default_catalogue

    cat = default_catalogue()
    t = Table("key", "服务", "service", "walk min", "floor m²", "serves", title="Services")
    for s in cat.services:
        t.add_row(s.key, s.name_zh, s.name_en, f"{s.walk_limit_min:g}", f"{s.floor_area_m2:g}", ", ".join(s.serves))
    console.print(t)
    g = Table("key", "年龄组", "age group", "speed m/s", title="Age groups")
    for a in cat.age_groups:
        g.add_row(a.key, a.name_zh, a.name_en, f"{a.speed_m_s:g}")
    console.print(g)


SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", help="Where to solve: processes[:N] (default: one worker per core), local[:N] (a Dask "
                        "LocalCluster), sync (this process) or tcp://HOST:PORT of a Dask cluster; default "
                        "$SITING_SCHEDULER")]


@app.command()
def batch(
    city: Annotated[Path, typer.Argument(help="City YAML: a scenario plus 'circles' and 'pricing' options")],
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default out/<city name>)")] = None,
    scheduler: SchedulerOpt = None,
    solver: Annotated[str | None, typer.Option("--solver", help="Solver backend (overrides the city file)")] = None,
) -> None:
    """Plan a whole city: split it into life circles sharing one budget, solve them as parallel tasks."""
    from siting.batch_city import run_batch
    from siting.city import load_city
    from siting.execution import Executor
    from siting.progress import task_progress
    from siting.report.city import write_batch_outputs

    c = load_city(city)
    executor = Executor(scheduler)
    err_console.print(f"{c.scenario.name}: solving on {executor.describe()}")
    with executor as ex, task_progress(err_console) as progress:
        result = run_batch(c, executor=ex, backend=solver, progress=progress)
    folder = write_batch_outputs(result, out or Path("out") / c.scenario.name)
    gap = "n/a" if result.gap == float("inf") else f"{100 * result.gap:.2f} %"
    console.print(f"[bold]{result.name}[/bold]: {len(result.circles)} life circles, status "
                  f"[bold]{result.status.value}[/bold], gap {gap} to the bound {result.bound:,.0f}; new coverage "
                  f"{result.objective:,.0f}, cost {result.cost:,.0f} of {result.budget:,.0f} yuan "
                  f"({len(result.rounds)} rounds)")
    table = Table("circle", "residents", "sites", "new coverage", "cost (yuan)", title="Life circles")
    plans = {p.circle: p for p in result.plans}
    for info in result.infos:
        p = plans.get(info.circle)
        table.add_row(info.circle, f"{info.population:,.0f}", str(info.n_sites),
                      f"{p.objective:,.0f}" if p else "0", f"{p.cost:,.0f}" if p else "0")
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    console.print(f"Report: {folder / 'report.html'}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor autocompletion)."""
    sys.stdout.write(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    """Entry point: run the app, turning user mistakes into exit code 2 without a traceback."""
    try:
        code = app(standalone_mode=False)
    except SitingError as e:
        err_console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except Exception as e:  # click's usage errors
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(2)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
