"""What the workbench draws and writes: map layers, the budget frontier, saved plans compared, exports.

Exports go only below the workbench's output folder: a plan's name is checked against
:data:`siting.serve.edits.PLAN_NAME` (no separators, no dots) and the resolved folder must
lie directly inside the output folder; a file is served back only when it is one of the files
the export wrote.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from siting.errors import OutputError
from siting.pipeline import Prepared, RunResult, prepare
from siting.report import write_run_outputs
from siting.report.mapdata import map_data
from siting.serve.edits import PLAN_NAME
from siting.serve.payloads import jsonable, records
from siting.serve.workbench import PlanRecord, Workbench
from siting.studies.analysis import RunAnalysis, street_segments
from siting.studies.compare import ComparedPlan, compare_plans
from siting.studies.resolve import SolveOutcome, solve_task
from siting.studies.sweep import budget_tasks, frontier_table

#: Budgets of the frontier, as multiples of the loaded scenario's budget (the slider's range).
FRONTIER_MULTIPLES = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)


def base_map(prepared: Prepared) -> dict[str, Any]:
    """The map's fixed layers: bounds, outline, streets, residents, idle sites, existing facilities."""
    data = map_data(prepared.district, prepared.coverage, prepared.catalogue, [],
                    streets=street_segments(prepared))
    data.pop("plans", None)
    return data


def plan_map(name: str, record: PlanRecord) -> dict[str, Any]:
    """One plan's layers: converted sites, reach areas, and every resident's share of services reached."""
    p = record.prepared
    data = map_data(p.district, p.coverage, p.catalogue, [(name, record.plan)])
    layer = data["plans"][0]
    return {"name": name, "sites": layer["sites"], "reach": layer["reach"], "groups": data["groups"],
            "after": data["demand"]["after"], "before": data["demand"]["before"]}


def frontier_points(record: PlanRecord, budgets: Sequence[float], *, backend: str | None = None,
                    stop: Any = None) -> list[dict[str, Any]] | None:
    """The current plan's edits re-solved at other budgets: one row per budget, as the sweeps' frontier.

    ``stop``, when given, is called before each budget; when it returns true the frontier is
    abandoned (``None``): a newer edit is waiting.
    """
    results: list[SolveOutcome] = []
    for task in budget_tasks(record.prepared, budgets, backend=backend):
        if stop is not None and stop():
            return None
        results.append(solve_task(task))
    table = frontier_table(results, record.prepared.catalogue.group_keys)
    return records(table)


class Frontier:
    """The budget frontier of the current plan's edits, computed in the background between edits.

    :meth:`get` answers at once: the points when they are computed for the current edits
    (budget aside), else ``computing`` (and starts the computation, holding the solver between
    edits; it gives way as soon as an edit is waiting and starts again on the next request).
    """

    def __init__(self, workbench: Workbench, multiples: Sequence[float] = FRONTIER_MULTIPLES) -> None:
        self.workbench = workbench
        self.budgets = [round(m * float(workbench.scenario.budget), 2) for m in multiples]
        self._lock = threading.Lock()
        self._key: str | None = None
        self._points: list[dict[str, Any]] | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    def close(self, timeout_s: float = 120.0) -> None:
        """Stop computing (after the budget being solved) and wait for the thread to end."""
        self._closing.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    @staticmethod
    def key_of(record: PlanRecord) -> str:
        """What the frontier depends on: the edits other than the budget."""
        return json.dumps({k: v for k, v in record.edits.items() if k != "budget"}, sort_keys=True, default=str)

    def get(self) -> dict[str, Any]:
        """``{"state": "ready", "points": [...]}`` or ``{"state": "computing"}`` (see the class docstring)."""
        record = self.workbench.current
        if record is None:
            return {"state": "computing", "budgets": self.budgets}
        key = self.key_of(record)
        with self._lock:
            if self._key == key and self._points is not None:
                return {"state": "ready", "budgets": self.budgets, "points": self._points}
            if self._closing.is_set():
                return {"state": "closed", "budgets": self.budgets}
            if self._thread is None or not self._thread.is_alive():
                self._key, self._points = key, None
                self._thread = threading.Thread(target=self._compute, args=(key, record), daemon=True,
                                                name="siting-frontier")
                self._thread.start()
        return {"state": "computing", "budgets": self.budgets}

    def _compute(self, key: str, record: PlanRecord) -> None:
        wb = self.workbench
        try:
            with wb.exclusive("frontier"):
                points = frontier_points(record, self.budgets, backend=wb.backend,
                                         stop=lambda: self._closing.is_set() or wb.waiting() > 0)
        except Exception:  # a failed frontier is retried on the next request; the plan is not affected
            logging.getLogger("siting.serve").exception("budget frontier failed")
            points = None
        with self._lock:
            if self._key == key:
                self._points = points
                if points is None:
                    self._key = None


def compare_saved(named: Sequence[tuple[str, PlanRecord]]) -> dict[str, Any]:
    """Saved plans side by side: the comparison table and, per pair, the sites and options that differ."""
    plans = [ComparedPlan(n, r.scenario.title, r.prepared.catalogue,
                          SolveOutcome(n, r.plan.status, r.plan, meta={"edits": r.edits})) for n, r in named]
    c = compare_plans(plans)
    return {"names": list(c.names), "table": records(c.table), "differences": records(c.differences)}


def export_folder(out_dir: Path, name: str) -> Path:
    """The folder of an export: ``out_dir/name``, refused when the name could lead elsewhere.

    Raises
    ------
    OutputError
        A name that is not a plain folder name, or a folder that would resolve outside ``out_dir``.
    """
    if not PLAN_NAME.match(name):
        raise OutputError(f"export name {name!r}: use letters, digits, '_' or '-' (it names a folder of {out_dir})")
    root = out_dir.resolve()
    target = (root / name).resolve()
    if target.parent != root:
        raise OutputError(f"export name {name!r} leads outside the output folder {root}; choose a plain name")
    return target


def scenario_yaml(record: PlanRecord) -> str:
    """A scenario file that reproduces the plan's scenario with ``siting run``."""
    raw = record.scenario.model_dump(mode="json", exclude_none=True)
    header = ("# Exported by `siting serve`: the scenario it loaded with these edits:\n"
              + "".join(f"#   {line}\n" for line in yaml.safe_dump(jsonable(record.edits), allow_unicode=True,
                                                                       sort_keys=True).splitlines())
              + "# `siting run` on this file solves the same model; with status optimal and one best plan it\n"
              + "# finds the same plan (ties between equally good plans may be broken differently).\n")
    return header + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_plan(record: PlanRecord, out_dir: Path, name: str) -> dict[str, Any]:
    """Write a plan as the usual outputs of ``siting run --no-analysis``, and ``scenario.yaml``.

    The district is prepared again from the edited scenario, exactly as ``siting run`` would
    prepare it, so that ``summary.json`` and the report describe that scenario; the plan is the
    workbench's.

    Returns
    -------
    dict
        ``folder`` (its name inside the output folder) and ``files`` (the files written).
    """
    target = export_folder(out_dir, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    prepared = prepare(record.scenario)
    if not np.array_equal(prepared.district.sites.ids, record.prepared.district.sites.ids):
        raise OutputError(f"export {name!r}: the data files changed since the workbench started; restart it")
    folder = write_run_outputs(RunResult(prepared, record.plan), target, RunAnalysis(streets=street_segments(prepared)))
    _write_text_atomic(folder / "scenario.yaml", scenario_yaml(record))
    return {"folder": name, "files": _files(folder)}


def _files(folder: Path) -> list[str]:
    """The files of an export (not the marker files that start with a dot)."""
    return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def exported_file(out_dir: Path, name: str, file: str) -> Path:
    """The path of one exported file, only when the export wrote it.

    Raises
    ------
    OutputError
        A name or file name that is not one of the export's files.
    """
    folder = export_folder(out_dir, name)
    files = set(_files(folder)) if folder.is_dir() else set()
    if file not in files:
        raise OutputError(f"export {name!r} has no file {file!r}; its files: {sorted(files)}")
    return folder / file


__all__ = ["FRONTIER_MULTIPLES", "Frontier", "base_map", "compare_saved", "export_folder", "export_plan",
           "exported_file", "frontier_points", "plan_map", "scenario_yaml"]
