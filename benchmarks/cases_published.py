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


RADIUS_COLUMNS = ("instance", "n", "p", "published", "radius", "radius_status", "radius_gap", "radius_s",
                  "radius_agrees", "assignment", "assignment_status", "assignment_gap", "assignment_s")


def _radius_rows(ctx: Context, numbers: tuple[int, ...], time_limit: float) -> list[Row]:
    """Each pmed by :func:`siting.locate.p_median` (radius formulation through the shared optimizer) beside
    the assignment formulation on HiGHS, same limit, one thread, in one run; a last row sums the times."""
    from siting.locate import p_median

    folder = ctx.require_shared("orlib-pmed")
    optima = read_pmedopt(folder / "pmedopt.txt")
    rows: list[Row] = []
    for k in numbers:
        name = f"pmed{k}"
        inst = read_orlib_pmed(folder / f"{name}.txt")
        t0 = time.perf_counter()
        res = p_median(inst.cost, p=inst.p, time_limit_s=time_limit, mip_gap=1e-7)
        t_radius = time.perf_counter() - t0
        plain = _row(inst, optima[name], time_limit)
        rows.append({"instance": name, "n": inst.n, "p": inst.p, "published": optima[name],
                     "radius": round(res.objective, 2), "radius_status": res.status.value, "radius_gap": res.gap,
                     "radius_s": round(t_radius, 2),
                     "radius_agrees": bool(abs(res.objective - optima[name]) < 0.5 and res.status.value == "optimal"),
                     "assignment": plain["ours"], "assignment_status": plain["status"],
                     "assignment_gap": plain["gap"], "assignment_s": plain["total_s"]})
        print(f"  {rows[-1]}", flush=True)
    radius_s = [float(r["radius_s"]) for r in rows]
    assignment_s = [float(r["assignment_s"]) for r in rows]
    rows.append({"instance": "sum (slowest)", "radius_s": f"{sum(radius_s):.1f} ({max(radius_s):.1f})",
                 "radius_agrees": f"{sum(bool(r['radius_agrees']) for r in rows)} of {len(radius_s)} proven equal",
                 "assignment_s": f"{sum(assignment_s):.1f} ({max(assignment_s):.1f})",
                 "assignment_status": f"{sum(r['assignment_status'] == 'optimal' for r in rows)} optimal"})
    return rows


@case("published-pmed-radius", suites=("full",), columns=RADIUS_COLUMNS,
      title="OR-Library p-median pmed1–40: radius formulation (siting.locate.p_median) vs assignment, 60 s each")
def pmed_radius(ctx: Context) -> list[Row]:
    """Every OR-Library p-median instance, both formulations side by side (goal: all proven within 60 s)."""
    return _radius_rows(ctx, tuple(range(1, 41)), 60.0)
