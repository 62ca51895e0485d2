"""Published optima: OR-Library p-median (pmed1–40) and the capacitated SJC instances (SJC1–4b).

Each row: our value, the published optimum, their difference, status, bound, gap and time,
all measured in one run with the same backend (``highs``, one thread). ``quick`` runs a few
instances, ``full`` all of them.
"""

from __future__ import annotations

import time

from benchmarks.instances import SJC_CPMP_OPTIMA, PMedianInstance, read_orlib_pmed, read_pmedopt, read_sjc_cpmp
from benchmarks.pmedian import build_pmedian_model
from benchmarks.registry import Context, Row, case
from siting.solvers import SolveOptions, solve

COLUMNS = ("instance", "n", "p", "ours", "published", "difference", "status", "bound", "gap", "build_s",
           "solve_s", "total_s")
QUICK_PMED = (1, 2, 5, 10)
QUICK_SJC = ("SJC1",)


def _row(inst: PMedianInstance, published: float, time_limit: float) -> Row:
    t0 = time.perf_counter()
    model = build_pmedian_model(inst.cost, inst.p, capacity=inst.capacity, demand=inst.demand)
    t1 = time.perf_counter()
    r = solve(model.milp, "highs", SolveOptions(time_limit_s=time_limit, mip_gap=1e-7, threads=1))
    t2 = time.perf_counter()
    return {"instance": inst.name, "n": inst.n, "p": inst.p, "ours": round(r.objective, 2),
            "published": published, "difference": round(r.objective - published, 2), "status": r.status.value,
            "bound": round(r.bound, 2), "gap": r.gap, "build_s": round(t1 - t0, 2), "solve_s": round(t2 - t1, 2),
            "total_s": round(t2 - t0, 2)}


def _pmed(ctx: Context, numbers: tuple[int, ...], time_limit: float) -> list[Row]:
    folder = ctx.require_shared("orlib-pmed")
    optima = read_pmedopt(folder / "pmedopt.txt")
    rows = []
    for k in numbers:
        name = f"pmed{k}"
        rows.append(_row(read_orlib_pmed(folder / f"{name}.txt"), optima[name], time_limit))
        print(f"  {rows[-1]}", flush=True)
    return rows


def _sjc(ctx: Context, names: tuple[str, ...], time_limit: float) -> list[Row]:
    folder = ctx.require_shared("sjc-cpmp")
    rows = []
    for name in names:
        rows.append(_row(read_sjc_cpmp(folder / f"{name}.dat"), SJC_CPMP_OPTIMA[name], time_limit))
        print(f"  {rows[-1]}", flush=True)
    return rows


@case("published-pmed-quick", suites=("quick",), title="OR-Library p-median, published optima (pmed1, 2, 5, 10)",
      columns=COLUMNS)
def pmed_quick(ctx: Context) -> list[Row]:
    """A few OR-Library p-median instances."""
    return _pmed(ctx, QUICK_PMED, 300.0)


@case("published-pmed", suites=("full",), title="OR-Library p-median, published optima (pmed1–40)", columns=COLUMNS)
def pmed_full(ctx: Context) -> list[Row]:
    """Every OR-Library p-median instance."""
    return _pmed(ctx, tuple(range(1, 41)), 600.0)


@case("published-sjc-quick", suites=("quick",), title="Capacitated p-median SJC1, published optimum",
      columns=COLUMNS)
def sjc_quick(ctx: Context) -> list[Row]:
    """SJC1."""
    return _sjc(ctx, QUICK_SJC, 300.0)


@case("published-sjc", suites=("full",), title="Capacitated p-median SJC1–4b, published optima", columns=COLUMNS)
def sjc_full(ctx: Context) -> list[Row]:
    """Every capacitated SJC instance."""
    return _sjc(ctx, tuple(SJC_CPMP_OPTIMA), 600.0)
