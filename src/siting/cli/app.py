"""The ``siting`` command line: a thin layer over the pipeline.

A user mistake (a :class:`~siting.errors.SitingError`) prints its message and exits with
code 2, never a traceback; a bug in ``siting`` shows its traceback and exits with code 1.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from siting.cli.console import console, err_console, print_note
from siting.data.scenario import DEFAULT_SCENARIO, load_scenario, scenario_json_schema
from siting.errors import SitingError

if TYPE_CHECKING:
    from siting.studies.resolve import SolveOutcome, SolveTask

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Plan 15-minute community life circles: which idle building becomes which service.")

ScenarioArg = Annotated[Path | None, typer.Argument(help="Scenario YAML (default: the Jiangbei demo)")]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", help="Where to solve: processes[:N] (default: one worker per core), local[:N] (a Dask "
                        "LocalCluster), sync (this process) or tcp://HOST:PORT of a Dask cluster; default "
                        "$SITING_SCHEDULER")]


@app.command()
def run(
    scenario: ScenarioArg = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default out/<scenario name>)")] = None,
    solver: Annotated[str | None, typer.Option("--solver", help="Solver backend (overrides the scenario)")] = None,
    analysis: Annotated[bool, typer.Option(
        "--analysis/--no-analysis",
        help="Rank the options, test their robustness and re-solve the budget frontier (scenario 'analysis:')")] = True,
    scheduler: SchedulerOpt = None,
) -> None:
    """Solve a scenario and write the plan, coverage tables, ranked options and report."""
    from siting.pipeline import run_scenario
    from siting.report import write_run_outputs
    from siting.report.atomic import check_replaceable, output_folder
    from siting.solvers import get_backend

    sc = load_scenario(scenario or DEFAULT_SCENARIO)
    target = out.resolve() if out is not None else output_folder(Path("out"), sc.name)
    check_replaceable(target)  # before solving, not after
    get_backend(solver or sc.solver.backend)  # a missing solver is named before the data is read
    if sc.phases:
        from siting.cli.phased import run_phased_command

        run_phased_command(sc, target, solver)
        return
    if analysis:  # the analysis's workers: their server imports siting while this process solves
        from siting.execution import resolve_scheduler
        from siting.execution.workers import start_worker_server

        if resolve_scheduler(scheduler).kind in ("processes", "local"):
            start_worker_server()
    with console.status(f"Solving {escape(sc.name)}...") as status:
        result = run_scenario(sc, backend=solver,
                              progress=lambda line: status.update(f"Solving {escape(sc.name)}: {escape(line)}"))
    from siting.studies.analysis import RunAnalysis, analysis_tasks, read_analysis, street_segments

    if analysis:
        tasks = analysis_tasks(result, backend=solver)
        extra = read_analysis(result, _solve_with_progress(tasks, f"Analysing {sc.name}", scheduler=scheduler))
    else:
        extra = RunAnalysis(streets=street_segments(result.prepared))
    with console.status("Writing the report..."):
        folder = write_run_outputs(result, target, extra)
    plan = result.plan
    gap = "n/a" if plan.gap == float("inf") else f"{100 * plan.gap:.4f} %"
    console.print(f"[bold]{escape(sc.name)}[/bold]: status [bold]{plan.status.value}[/bold], gap {gap}, "
                  f"{len(plan.assignments)} services at {plan.sites_used} sites, "
                  f"cost {plan.cost:,.0f} of {plan.budget:,.0f} yuan")
    table = Table("age group", "covered before", "covered after", title="Coverage (residents × services)")
    by_group = plan.coverage.groupby("age_group", sort=False)[["population", "covered_before", "covered_after"]].sum()
    for g, row in by_group.iterrows():
        table.add_row(str(g), f"{row.covered_before / row.population:.1%}", f"{row.covered_after / row.population:.1%}")
    console.print(table)
    if plan.stages:
        console.print("stages: " + "; ".join(f"{s.name} {s.status.value} ({s.objective:.4g}, gap {s.gap:.2%})"
                                            for s in plan.stages))
    if "served_after" in plan.coverage.columns:
        basic = Table("basic service 基础保障型", "within reach before", "after", "served after",
                      title="Standards first: each basic service's target population")
        cov = plan.coverage[plan.coverage["category"] == "basic"]
        sums = cov.groupby("service", sort=False)[["population", "covered_before", "covered_after",
                                                  "served_after"]].sum()
        zh = dict(zip(cov["service"], cov["service_zh"], strict=True))
        for key, row in sums.iterrows():
            total = row.population or 1.0
            basic.add_row(escape(f"{zh[str(key)]} {key}"), f"{row.covered_before / total:.1%}",
                          f"{row.covered_after / total:.1%}", f"{row.served_after / total:.1%}")
        console.print(basic)
    if plan.walking_time is not None:
        console.print(f"walking time: {plan.walking_time.total_minutes:,.0f} weighted person-minutes to the nearest "
                      f"facility of each service (summary.json: walking_time); {plan.walking_time.treatment}")
    if extra is not None and extra.ranking is not None and not extra.ranking.options.empty:
        staged = plan.objective_kind == "standards"  # gaps first, then the basic shares, in percentage points
        in_shares = plan.in_shares
        top = Table("rank", "site", "service", "cost (yuan)", *(["gaps left open"] if staged else []),
                    "marginal value" + (" (pp)" if in_shares else ""), "robustness",
                    title="Top retrofit options (ranking.csv)")
        for r in extra.ranking.options.head(5).itertuples():
            robust = getattr(r, "chosen_share_perturbed", float("nan"))
            gaps = float(getattr(r, "marginal_gaps", float("nan")))
            mv = float(r.marginal_value)  # type: ignore[arg-type]
            value = f"{100 * mv:,.2f}" if in_shares else f"{mv:,.4g}"
            top.add_row(str(r.rank), escape(f"{r.site_id} {r.site_name}"), escape(f"{r.service_zh} {r.service_en}"),
                        f"{r.cost:,.0f}", *([("–" if gaps != gaps else f"{gaps:,.0f}")] if staged else []),
                        "–" if mv != mv else value,
                        "–" if robust != robust else f"{robust:.0%}")
        console.print(top)
        if staged:
            console.print("gaps left open: community × basic service gaps the plan would no longer close without the "
                          "option; marginal value: the basic services' shares it would lose, in percentage points")
    for note in result.prepared.walking.notes:
        print_note(note)
    from siting.report.raster import cjk_font_file

    if cjk_font_file() is None:
        console.print("[yellow]note:[/yellow] no font with Chinese characters found: map.png labels are in English "
                      "(install one, e.g. Debian's fonts-noto-cjk)")
    console.print(f"Report: {folder / 'report.html'}")


def _solve_with_progress(tasks: Sequence[SolveTask], what: str,
                         on_done: Callable[[int, SolveOutcome], None] | None = None,
                         scheduler: str | None = None) -> list[SolveOutcome]:
    """Solve tasks through the execution layer with a progress bar: what is running, time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from siting.studies.resolve import solve_many

    if not tasks:
        return []
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=console,
                  transient=False) as progress:
        bar = progress.add_task(what, total=len(tasks))

        def started(i: int, task: SolveTask) -> None:
            progress.update(bar, description=f"{what}: {escape(task.key)}")

        def done(i: int, result: SolveOutcome) -> None:
            progress.advance(bar)
            if on_done is not None:
                on_done(i, result)

        results = solve_many(tasks, on_start=started, on_done=done, scheduler=scheduler)
        progress.update(bar, description=what)
    return results


@app.command()
def validate(scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files")]) -> None:
    """Check scenario files and their data without solving; list every problem."""
    from siting.errors import ValidationErrors
    from siting.pipeline import prepare
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
            print_note(note, "  ")
    if failed:
        raise typer.Exit(2)


@app.command()
def catalog() -> None:
    """Show the default service catalogue and age groups."""
    from siting.data.catalogue import default_catalogue

    cat = default_catalogue()
    t = Table("key", "服务", "service", "class", "level", "radius", "floor m²", "capacity", "serves", title="Services")
    for s in cat.services:
        t.add_row(s.key, s.name_zh, s.name_en, "基础保障 basic" if s.category == "basic" else "品质提升 quality",
                  f"{s.level} min", s.limit_text, f"{s.floor_area_m2:g}",
                  "—" if s.m2_per_1000_target is None else f"{s.capacity:,.0f}", ", ".join(s.serves))
    console.print(t)
    g = Table("key", "年龄组", "age group", "speed m/s", "census share", title="Age groups")
    for a in cat.age_groups:
        g.add_row(a.key, a.name_zh, a.name_en, f"{a.speed_m_s:g}",
                  "" if a.census_share is None else f"{a.census_share:.2%}")
    console.print(g)
    console.print(f"A group reaches a service's radius × min(1, its speed / {cat.reference_speed_m_s:g} m/s) along "
                  f"the street; every figure's source is in src/siting/data/catalogue/*.yaml")


@app.command()
def batch(
    city: Annotated[Path, typer.Argument(help="City YAML: a scenario plus 'circles' and 'pricing' options")],
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default out/<city name>)")] = None,
    scheduler: SchedulerOpt = None,
    solver: Annotated[str | None, typer.Option("--solver", help="Solver backend (overrides the city file)")] = None,
) -> None:
    """Plan a whole city: split it into life circles sharing one budget, solve them as parallel tasks."""
    from siting.city.batch import run_batch
    from siting.city.files import load_city
    from siting.cli.progress import task_progress
    from siting.execution import Executor
    from siting.report.city import write_batch_outputs

    c = load_city(city)
    executor = Executor(scheduler)
    err_console.print(f"{c.scenario.name}: solving on {executor.describe()}")
    if c.phased:
        from siting.cli.phased import batch_phased_command

        batch_phased_command(c, executor, out, solver)
        return
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
def template(
    out: Annotated[Path, typer.Argument(help="Workbook to write, e.g. ledgers.xlsx (its scenario: ledgers.yaml)")],
    budget: Annotated[float, typer.Option("--budget", help="Budget written into the scenario, yuan")] = 10_000_000.0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing files")] = False,
) -> None:
    """Write empty ledgers to fill (闲置资产一本账, 需求, 现有设施, 高频需求清单) and the scenario that runs them."""
    from siting.data.catalogue import default_catalogue
    from siting.data.template import write_template

    scenario_path = write_template(out, default_catalogue(), budget=budget, overwrite=overwrite)
    shown = escape(str(scenario_path))
    console.print(f"Template: {escape(str(out))} (fill the sheets; 说明 explains each column)\n"
                  f"Scenario: {shown} (set the budget, then: siting run {shown})", highlight=False)


@app.command()
def serve(
    scenario: ScenarioArg = None,
    port: Annotated[int, typer.Option("--port", help="Port to listen on")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (default: this machine only)")
                    ] = "127.0.0.1",
    out: Annotated[Path | None, typer.Option("--out", help="Where exports go (default out/<name>-workbench)")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Seconds per solve (default: the "
                                                                          "scenario's solver.time_limit_s)")] = None,
    max_walk_scale: Annotated[float, typer.Option("--max-walk-scale", help="Largest walking-limit scale an edit "
                                                                           "may ask for")] = 1.5,
    solver: Annotated[str | None, typer.Option("--solver", help="Solver backend (overrides the scenario)")] = None,
    allow_host: Annotated[list[str] | None, typer.Option("--allow-host", help="Another name the Host header may "
                                                                              "carry (repeatable)")] = None,
) -> None:
    """A local what-if workbench: move the budget, force sites in or out, see the plan change."""
    from siting.serve import serve as run_workbench

    sc = load_scenario(scenario or DEFAULT_SCENARIO)
    run_workbench(sc, host=host, port=port, out_dir=(out or Path("out") / f"{sc.name}-workbench").resolve(),
                  max_walk_scale=max_walk_scale, time_limit_s=time_limit, backend=solver,
                  allow_hosts=allow_host or (), say=lambda line: console.print(escape(line), highlight=False))


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


@app.command()
def compare(
    scenarios: Annotated[list[Path], typer.Argument(help="Two or more scenario YAML files")],
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default out/compare)")] = None,
    solver: Annotated[str | None, typer.Option("--solver", help="Solver backend (overrides the scenarios)")] = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Solve scenarios and put them side by side: costs, coverage, and how the plans differ."""
    from siting.pipeline import prepare
    from siting.report.analysis_outputs import write_compare_outputs
    from siting.studies.analysis import street_segments
    from siting.studies.compare import ComparedPlan, compare_plans
    from siting.studies.resolve import SolveTask

    if len(scenarios) < 2:
        raise SitingError("siting compare: give at least two scenario files, e.g. "
                          "siting compare scenarios/baseline.yaml scenarios/budget-x2.yaml")
    loaded = [load_scenario(p) for p in scenarios]
    with console.status("Preparing the scenarios..."):
        prepared = [prepare(sc) for sc in loaded]
    tasks = [SolveTask(f"{i + 1}: {sc.name}", p, None, solver)
             for i, (sc, p) in enumerate(zip(loaded, prepared, strict=True))]
    results = _solve_with_progress(tasks, "Solving", scheduler=scheduler)
    comparison = compare_plans([ComparedPlan(sc.name, sc.title, p.catalogue, r)
                                for sc, p, r in zip(loaded, prepared, results, strict=True)])
    with console.status("Writing the comparison..."):
        folder = write_compare_outputs(out or Path("out") / "compare", comparison, prepared,
                                       streets=street_segments(prepared[0]))
    table = Table("metric", *[escape(n) for n in comparison.names], title="Scenarios side by side (comparison.csv)")
    for row in comparison.table.to_dict(orient="records"):
        if row["section"] == "service":
            continue
        cells = []
        for n in comparison.names:
            v = row[n]
            if v is None or (isinstance(v, float) and v != v):
                cells.append("–")
            elif isinstance(v, str):
                cells.append(escape(v))
            else:
                cells.append(f"{v:.1%}" if row["unit"] == "share" else f"{v:,.0f}")
        table.add_row(escape(str(row["metric"])), *cells)
    console.print(table)
    for p in prepared:
        for note in p.walking.notes:
            if note.startswith("warning: "):
                print_note(note)
    for d in comparison.differences.to_dict(orient="records"):
        a, b = escape(str(d["scenario_a"])), escape(str(d["scenario_b"]))
        console.print(f"{a} vs {b}: Jaccard (sites) {float(d['jaccard_sites']):.2f}; "
                      f"only in {a}: {escape(str(d['sites_only_in_a'] or '–'))}; "
                      f"only in {b}: {escape(str(d['sites_only_in_b'] or '–'))}")
    console.print(f"Report: {folder / 'report.html'}")


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML")],
    vary: Annotated[list[str], typer.Option(
        "--vary", help="FIELD=START:STOP:COUNT or FIELD=V1,V2,... Fields: budget, weights.age_groups.<group>, "
                       "weights.services.<service>, walk_limit.<service> (minutes), walk_limit_scale, or any "
                       "scenario field by its dotted path. Repeat for every combination.")],
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default out/<name>-sweep)")] = None,
    solver: Annotated[str | None, typer.Option("--solver", help="Solver backend (overrides the scenario)")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted sweep: solve only the variants its progress log lacks")] = False,
    scheduler: SchedulerOpt = None,
) -> None:
    """Re-solve a scenario over a range of budgets, weights or walking limits: the efficient frontier."""
    import dataclasses

    from siting.pipeline import prepare
    from siting.pipeline.plan import MINIMISED_KINDS
    from siting.report.analysis_outputs import write_sweep_outputs
    from siting.report.atomic import check_replaceable
    from siting.studies.sweep import parse_vary, sweep_tasks, sweep_variants
    from siting.studies.sweep_log import ProgressLog, log_entry, recorded, remove_log, resume_point, sweep_outputs

    sc = load_scenario(scenario)
    axes = [parse_vary(v) for v in vary]
    variants = sweep_variants(sc, axes)
    folder = (out or Path("out") / f"{sc.name}-sweep").resolve()
    check_replaceable(folder)  # before solving, not after
    keys = [v.key for v in variants]
    start = resume_point(folder, sc, axes, keys, backend=solver, resume=resume)
    for note in start.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    with console.status(f"Preparing {sc.name}..."):
        tasks = sweep_tasks(variants, backend=solver, prepare_fn=prepare)
        base = dataclasses.replace(tasks[0].prepared, scenario=sc)
    todo = [t for t in tasks if t.key not in start.done]
    if resume and start.state.header is not None:
        console.print(f"resuming: {len(start.done)} of {len(tasks)} variants recorded in {escape(str(start.log))}; "
                      f"solving the other {len(todo)}", highlight=False)
    entries = dict(start.done)  # by key, as written to the log and read back
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        with ProgressLog(start.log, start.header, list(start.done.values())) as log:
            def record(i: int, result: SolveOutcome) -> None:
                entries[result.key] = log.append(log_entry(result, base.catalogue.group_keys))

            _solve_with_progress(todo, f"Sweeping {sc.name}", on_done=record, scheduler=scheduler)
    except KeyboardInterrupt:
        kept = recorded(start.log, start.header)
        err_console.print(f"{kept} of {len(tasks)} variants are recorded in {escape(str(start.log))}; "
                          f"rerun the same command with --resume to continue", highlight=False)
        raise
    fields = [a.field for a in axes]
    frontier, robustness, records = sweep_outputs(keys, entries, base, fields,
                                                  lower_is_better=sc.objective.kind in MINIMISED_KINDS)
    with console.status("Writing the frontier..."):
        write_sweep_outputs(folder, base, frontier, robustness, fields, records)
    remove_log(start.log)  # only once the outputs are in place
    table = Table(*[escape(a.field) for a in axes], "status", "cost (yuan)", "objective", "all ages", "efficient",
                  title="Frontier (frontier.csv)")
    for r in frontier.to_dict(orient="records"):
        table.add_row(*[f"{r[a.field]:,.0f}" if a.field == "budget" else f"{r[a.field]:g}" for a in axes],
                      str(r["status"]),
                      "–" if r["cost"] != r["cost"] else f"{r['cost']:,.0f}",
                      "–" if r["objective"] != r["objective"] else f"{r['objective']:,.0f}",
                      "–" if r["share_all"] != r["share_all"] else f"{r['share_all']:.1%}",
                      "yes" if r["efficient"] else "")
    console.print(table)
    from siting.pipeline.checks import budget_warning

    origin = str(sc.source or sc.name)
    for text in dict.fromkeys(w for t in tasks if (w := budget_warning(origin, t.prepared.catalogue,
                                                                        t.prepared.district, t.prepared.rules))):
        print_note(text)
    console.print(f"Solved {len(todo)} of {len(tasks)} variants"
                  + (f" ({len(start.done)} taken from the interrupted sweep)" if start.done else ""))
    console.print(f"Report: {folder / 'report.html'}")


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
