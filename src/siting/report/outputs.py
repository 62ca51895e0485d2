"""Write a run's outputs into a folder atomically.

Everything is written into a temporary folder beside the target and moved into place at the
end, so an interrupted run leaves the previous outputs untouched and never half-written.
Only a folder that siting wrote (or an empty one) is ever replaced.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import siting
from siting.errors import OutputError
from siting.plan import OBJECTIVE_MEANING, Plan
from siting.report.csv_out import write_csv
from siting.report.html import render_report
from siting.report.maps import draw_plan_map
from siting.runner import RunResult
from siting.scenario import Scenario
from siting.sweep_log import fsync_dir

#: Written into every output folder: marks it as siting's own, so that it may be replaced.
MARKER = ".siting-output"
#: Files whose presence also marks a folder as a siting output (written before the marker existed).
LEGACY_MARKERS = ("summary.json",)
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def output_folder(root: Path, name: str) -> Path:
    """The output folder ``root/name``, checked to stay inside ``root``.

    Parameters
    ----------
    root
        The folder outputs go to (``out`` by default).
    name
        The scenario's name.

    Raises
    ------
    OutputError
        When ``name`` would lead outside ``root`` (``..``, a path separator, an absolute path).
    """
    root = Path(root).resolve()
    target = (root / name).resolve()
    if target.parent != root or name in ("", ".", "..") or Path(name).name != name:
        raise OutputError(f"scenario name {name!r} would write outside the output folder {root}; "
                          f"give the scenario a plain name (letters, digits, '_', '-', '.')")
    return target


def check_replaceable(target: Path) -> None:
    """Refuse to replace a folder that is not a siting output.

    Raises
    ------
    OutputError
        When ``target`` is a file, or a folder holding files siting did not write.
    """
    if not target.exists():
        return
    if not target.is_dir():
        raise OutputError(f"output folder {target} exists and is a file; choose another folder with --out")
    entries = sorted(p.name for p in target.iterdir())
    if not entries or MARKER in entries or any(m in entries for m in LEGACY_MARKERS):
        return
    shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
    raise OutputError(f"output folder {target} holds files siting did not write ({shown}); siting replaces "
                      f"its output folder as a whole, so choose a new or an empty folder with --out")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(target: Path) -> list[Path]:
    """Remove temporary folders left beside ``target`` by runs that were killed.

    A run killed between moving the previous output aside and moving the new one in leaves
    the previous output in a ``.old`` folder: it is put back when ``target`` is missing.

    Returns
    -------
    list
        The folders removed or restored.
    """
    handled: list[Path] = []
    parent = target.parent
    if not parent.is_dir():
        return handled
    for kind in ("old", "tmp"):
        for p in sorted(parent.glob(f".{glob.escape(target.name)}.{kind}-*")):
            pid_text = p.name[len(target.name) + len(kind) + 3:].split("-", 1)[0]
            if not pid_text.isdigit() or (_pid_alive(int(pid_text)) and int(pid_text) != os.getpid()):
                continue
            if kind == "old" and not target.exists():
                p.rename(target)
            else:
                shutil.rmtree(p, ignore_errors=True)
            handled.append(p)
    return handled


def _fsync_tree(folder: Path) -> None:
    """Flush every file of ``folder`` and the folder itself to disk."""
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(folder)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); False where unsupported."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return bool(renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0)


def _move_into_place(tmp: Path, target: Path) -> None:
    """Put ``tmp`` at ``target``; the previous ``target`` is removed only once ``tmp`` is in place."""
    if not target.exists():
        tmp.rename(target)
        fsync_dir(target.parent)
        return
    if _exchange(tmp, target):  # tmp now holds the previous output
        fsync_dir(target.parent)
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        tmp.rename(target)
    except BaseException:
        old.rename(target)
        raise
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)

if TYPE_CHECKING:
    from siting.analysis import RunAnalysis


@contextlib.contextmanager
def atomic_output_dir(target: Path) -> Iterator[Path]:
    """A temporary folder that replaces ``target`` when the block ends without error.

    The temporary folder lives beside ``target`` (so that the final move is a rename on one
    file system); its files are flushed to disk before the move, and the previous output is
    removed only once the new one is in place (an atomic exchange on Linux). An error, Ctrl-C
    or a kill leaves the previous output as it was; temporaries left by a killed run are
    removed by the next one.

    Parameters
    ----------
    target
        The output folder. Its parent is created if needed.

    Raises
    ------
    OutputError
        When ``target`` is a file or a folder holding files siting did not write.
    """
    target = Path(target).resolve()
    check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    try:
        yield tmp
        (tmp / MARKER).write_text(f"written by siting {siting.__version__}; siting may replace this folder\n",
                                  encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; an output folder is an ordinary one
        _fsync_tree(tmp)
        _move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json_number(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 6)


def input_files(scenario: Scenario) -> dict[str, Path]:
    """Every file a run read, by role: the scenario (and each file it extends) and the data."""
    files: dict[str, Path] = {}
    chain = list(scenario.sources) or ([scenario.source] if scenario.source is not None else [])
    for i, p in enumerate(chain):
        files["scenario" if i == 0 else f"scenario_extends_{i}"] = Path(p)
    data = scenario.data
    files.update({"demand": data.demand, "sites": data.sites})
    if data.existing is not None:
        files["existing"] = data.existing
    net = data.network
    if net is not None:
        for role, table in (("network_nodes", net.nodes), ("network_edges", net.edges)):
            if table is not None:
                files[role] = table
        if net.path is not None:
            from siting.walking.readers import resolve_network_path

            files["network"] = resolve_network_path(net.path)
    return {role: Path(p) for role, p in files.items() if p is not None and Path(p).is_file()}


def versions(solver: str) -> dict[str, str]:
    """Versions of siting, Python, the solver and the libraries that shape the numbers."""
    out = {"siting": siting.__version__, "python": platform.python_version(), "solver": solver}
    for package in ("numpy", "scipy", "pandas", "pyproj", "geopandas", "highspy"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    try:
        import pyproj

        out["proj"] = pyproj.proj_version_str
    except ImportError:  # pragma: no cover - pyproj is a dependency
        pass
    return out




def walking_time_summary(plan: Plan) -> dict[str, Any] | None:
    """The ``walking_time`` section of ``summary.json`` (walking-time objectives only)."""
    w = plan.walking_time
    if w is None:
        return None
    return {
        "meaning": "minutes of each age group to its nearest open facility (new or existing) of each service, "
                   "at the group's walking speed on flat-equivalent metres",
        "beyond_cutoff": w.treatment,
        "cutoff_m": round(w.cutoff_m, 1),
        "total_weighted_person_minutes": round(w.total_minutes, 3),
        "stages": [{"stage": st.name, "status": st.status.value, "objective": _json_number(st.objective),
                    "bound": _json_number(st.bound), "gap": _json_number(st.gap)} for st in w.stages],
        "by_service_age_group": [{k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
                                 for row in w.table.to_dict(orient="records")],
    }


def summary_dict(run: RunResult) -> dict[str, Any]:
    """The content of ``summary.json``."""
    scenario = run.scenario
    plan: Plan = run.plan
    inputs = input_files(scenario)
    cov = plan.coverage
    walking_time = walking_time_summary(plan)
    return {
        "scenario": scenario.name,
        "title": scenario.title,
        "status": plan.status.value,
        "objective": _json_number(plan.objective),
        "bound": _json_number(plan.bound),
        "gap": _json_number(plan.gap),
        "objective_kind": plan.objective_kind,
        "objective_meaning": OBJECTIVE_MEANING.get(plan.objective_kind, plan.objective_kind),
        "solver": plan.solver,
        "budget": round(plan.budget, 2),
        "cost": round(plan.cost, 2),
        "budget_used_share": round(plan.cost / plan.budget, 6) if plan.budget else None,
        "sites_used": plan.sites_used,
        "assignments": len(plan.assignments),
        "walking": {"mode": run.prepared.walking.mode, "cutoff_m": round(run.prepared.walking.cutoff_m, 1),
                    "notes": list(run.prepared.walking.notes),
                    "snapping": dict(run.prepared.walking.snapping),
                    "straight_vs_network": {
                        "meaning": "residents x services covered by straight-line distance vs along the walking "
                                   "network, per age group: by existing facilities, and by every site able to host "
                                   "each service (the most any plan can reach)",
                        "by_age_group": [{k: (v if isinstance(v, str) else round(float(v), 2)) for k, v in row.items()}
                                         for row in run.prepared.walking.straight_vs_network]}},
        "covered": [
            {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
            for row in cov.to_dict(orient="records")
        ],
        **({"walking_time": walking_time} if walking_time is not None else {}),
        "timings_s": {k: round(v, 4) for k, v in plan.timings.items()},
        "versions": versions(plan.solver),
        "solver_options": {k: v for k, v in scenario.solver.model_dump().items()},
        "inputs": {role: {"path": str(p), "sha256": _sha256(p)} for role, p in inputs.items()},
        "inputs_sha256": {p.name: _sha256(p) for p in inputs.values()},
    }


def write_run_outputs(run: RunResult, out: Path, analysis: RunAnalysis | None = None) -> Path:
    """Write summary.json, plan.csv, plan.gpkg, coverage.csv, map.png and report.html.

    With an ``analysis``, also ranking.csv and alternatives.csv (ranked retrofit options),
    frontier.csv and frontier.png (coverage against budget), and their sections in the report.

    Returns
    -------
    pathlib.Path
        The output folder.
    """
    out = Path(out)
    with atomic_output_dir(out) as tmp:
        plan = run.plan
        write_csv(plan.assignments, tmp / "plan.csv", float_format="%.2f")
        write_csv(plan.coverage, tmp / "coverage.csv")
        _write_plan_gpkg(run, tmp / "plan.gpkg")
        draw_plan_map(run, tmp / "map.png")
        summary = summary_dict(run)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        if analysis is not None:
            from siting.report.analysis_outputs import write_analysis_files

            write_analysis_files(run, analysis, tmp)
        (tmp / "report.html").write_text(render_report(run, summary, tmp / "map.png", analysis), encoding="utf-8")
    return out.resolve()


def _write_plan_gpkg(run: RunResult, path: Path) -> None:
    import geopandas as gpd

    df = run.plan.assignments
    gdf = gpd.GeoDataFrame(df.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(df["x"], df["y"]),
                           crs=run.prepared.district.crs)
    gdf.to_file(path, layer="plan", driver="GPKG")
