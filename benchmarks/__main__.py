"""Run benchmark cases: ``python -m benchmarks --suite quick|full [--case PREFIX ...]``.

Writes ``benchmarks/results/<date>-<host>-<suite>[-<tag>].json`` and a Markdown table beside it, and prints
the tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.registry import ROOT, Context, Skip, load_cases, peak_rss_mb, reset_peak_rss, shared_dir


def machine() -> dict[str, Any]:
    """A description of this machine, stored with the results."""
    info: dict[str, Any] = {"host": socket.gethostname(), "platform": platform.platform(),
                            "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            models = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        info["cpu"] = models[0] if models else platform.processor()
        with open("/proc/meminfo") as f:
            info["memory_kb"] = int(f.readline().split()[1])
    except OSError:
        info["cpu"] = platform.processor()
    from importlib.metadata import PackageNotFoundError, version

    info["packages"] = {}
    for name in ("siting", "numpy", "scipy", "highspy", "pulp", "spopt", "ortools"):
        try:
            info["packages"][name] = version(name)
        except PackageNotFoundError:
            continue
    return info


def markdown_table(rows: list[dict[str, Any]], columns: tuple[str, ...] = (), only: bool = False) -> str:
    """Rows as a Markdown table: ``columns`` first (only those when ``only``), then the other keys."""
    if not rows:
        return "_no rows_\n"
    cols = list(columns) or list(rows[0])
    if not (only and columns):
        for r in rows:
            cols += [k for k in r if k not in cols]

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            if not math.isfinite(v):
                return "–" if math.isnan(v) else str(v)
            if abs(v) >= 1000:
                return f"{v:,.0f}"
            return f"{v:.4g}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--suite", default="quick", choices=["quick", "full"])
    ap.add_argument("--case", action="append", default=[], help="run only cases whose name starts with this")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--tag", default=None,
                    help="added to the results' file names; default: the --case prefixes, so a partial run "
                         "does not replace the whole suite's results")
    args = ap.parse_args(argv)
    cases = [c for c in load_cases().values()
             if args.suite in c.suites and (not args.case or any(c.name.startswith(p) for p in args.case))]
    stamp = dt.datetime.now(dt.UTC)
    results: dict[str, Any] = {"date": stamp.isoformat(timespec="seconds"), "suite": args.suite,
                               "machine": machine(), "cases": {}}
    md = [f"# Benchmarks, suite `{args.suite}`, {stamp:%Y-%m-%d %H:%M} UTC\n",
          f"Machine: {results['machine'].get('cpu')}, {results['machine']['cpus']} CPUs, "
          f"{results['machine'].get('memory_kb', 0) / 2**20:.0f} GiB memory, {results['machine']['platform']}, "
          f"Python {results['machine']['python']}, host {results['machine']['host']}\n",
          "Packages: " + ", ".join(f"{k} {v}" for k, v in results["machine"]["packages"].items()) + "\n"]
    tag = args.tag if args.tag is not None else "+".join(args.case)
    base = _unused(args.out / f"{stamp:%Y-%m-%d}-{socket.gethostname()}-{args.suite}" f"{'-' + tag if tag else ''}")
    with tempfile.TemporaryDirectory(prefix="siting-bench-") as scratch:
        ctx = Context(shared_dir(), Path(scratch), args.suite, out=args.out, stem=base.name)
        for c in cases:
            print(f"== {c.name}: {c.title}", flush=True)
            t0 = time.perf_counter()
            reset_peak_rss()
            n_problems = len(ctx.problems)
            try:
                rows = c.func(ctx)
                entry: dict[str, Any] = {"title": c.title, "rows": rows}
            except Skip as e:
                entry = {"title": c.title, "skipped": str(e), "rows": []}
            except Exception as e:  # a failing case is reported, the others still run
                traceback.print_exc()
                entry = {"title": c.title, "error": f"{type(e).__name__}: {e}", "rows": []}
            entry["seconds"] = round(time.perf_counter() - t0, 2)
            entry["peak_rss_mb"] = round(peak_rss_mb(), 1)  # of this process; workers report their own
            if len(ctx.problems) > n_problems:
                entry["problems"] = ctx.problems[n_problems:]
            results["cases"][c.name] = entry
            table = markdown_table(entry["rows"], c.columns, c.only_columns)
            note = entry.get("skipped") or entry.get("error")
            section = f"## {c.title}\n\n" + (f"_{'skipped' if 'skipped' in entry else 'error'}: {note}_\n"
                                              if note else table)
            section += "".join(f"\n**PROBLEM: {p}**\n" for p in entry.get("problems", []))
            figures = sorted(args.out.glob(f"{base.name}-{c.name}*.png"))
            section += "".join(f"\n![{c.name}]({f.name})\n" for f in figures)
            md.append(section)
            print(table if not note else f"  {note}", flush=True)
            _save(base, results, md)  # after every case: a long run stopped later keeps what it measured
    _save(base, results, md)
    print(f"results: {base.with_suffix('.json')}\n         {base.with_suffix('.md')}")
    for p in ctx.problems:
        print(f"!! PROBLEM: {p}", file=sys.stderr)
    return 1 if ctx.problems or any("error" in e for e in results["cases"].values()) else 0


def _unused(base: Path) -> Path:
    """``base``, or ``base-2``, ``base-3``, ...: a run never replaces the results of an earlier run of the day."""
    candidate, k = base, 1
    while candidate.with_suffix(".md").exists() or candidate.with_suffix(".json").exists():
        k += 1
        candidate = base.with_name(f"{base.name}-{k}")
    return candidate


def _save(base: Path, results: dict[str, Any], md: list[str]) -> None:
    """Write the results so far (JSON and Markdown), each file replaced whole."""
    base.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(results, indent=1, default=_json_default) + "\n"),
                         (".md", "\n".join(md))):
        tmp = base.with_name(base.name + suffix + ".part")
        tmp.write_text(text)
        os.replace(tmp, base.with_suffix(suffix))


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
