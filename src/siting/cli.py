"""The ``siting`` command line: a thin layer over the pipeline.

A user mistake (a :class:`~siting.errors.SitingError`) prints its message and exits with
code 2, never a traceback; a bug in ``siting`` shows its traceback and exits with code 1.
"""

from __future__ import annotations

import contextlib
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
    from siting.report.outputs import check_replaceable, output_folder
    from siting.runner import run_scenario
    from siting.solvers import get_backend

    sc = load_scenario(scenario or DEFAULT_SCENARIO)
    target = out.resolve() if out is not None else output_folder(Path("out"), sc.name)
    check_replaceable(target)  # before solving, not after
    get_backend(solver or sc.solver.backend)  # a missing solver is named before the data is read
    with console.status(f"Solving {sc.name}..."):
        result = run_scenario(sc, backend=solver)
        folder = write_run_outputs(result, target)
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
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    console.print(f"Report: {folder / 'report.html'}")


@app.command()
def validate(scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files")]) -> None:
    """Check scenario files and their data without solving; list every problem."""
    from siting.errors import ValidationErrors
    from siting.runner import prepare
    from siting.solvers import get_backend

    failed = 0
    for path in scenarios:
        problems: list[SitingError] = []
        prepared = None
        try:
            sc = load_scenario(path)
            try:
                get_backend(sc.solver.backend)
            except SitingError as e:
                problems.append(e)
            prepared = prepare(sc)
        except SitingError as e:
            problems.insert(0, e)
        if problems or prepared is None:
            failed += 1
            message = str(ValidationErrors(problems) if len(problems) > 1 else problems[0])
            err_console.print(f"[red]✗[/red] {escape(str(path))}\n{escape(message)}", highlight=False)
            continue
        d = prepared.district
        console.print(f"[green]✓[/green] {escape(str(path))}: {len(d.demand)} demand points, {len(d.sites)} sites, "
                      f"{len(d.existing)} existing facilities, {len(d.service_keys)} services", highlight=False)
        for note in prepared.walking.notes:
            console.print(f"  [yellow]note:[/yellow] {escape(note)}", highlight=False)
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


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor autocompletion)."""
    sys.stdout.write(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n")


def _click_exceptions() -> tuple[type[Exception], ...]:
    """Click's exception class: from click itself, or from the copy that typer bundles."""
    import importlib

    found = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            found.append(importlib.import_module(module).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM: unwind like Ctrl-C, so that temporary outputs are removed and previous ones kept."""
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: run the app, turning user mistakes into exit code 2 without a traceback."""
    import signal

    previous = None
    with contextlib.suppress(ValueError):  # only possible in the main thread
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        _main()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main() -> None:
    try:
        code = app(standalone_mode=False)
    except SitingError as e:
        err_console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("interrupted; the previous outputs are left as they were")
        sys.exit(130)
    except Exception as e:  # click's usage errors
        if isinstance(e, _click_exceptions()):
            e.show()  # type: ignore[attr-defined]
            sys.exit(2)
        raise
    if code == 130:  # typer turns Ctrl-C into exit code 130
        err_console.print("interrupted; the previous outputs are left as they were")
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
