"""The progress log of a sweep: what is finished, so that an interrupted sweep resumes.

While ``siting sweep`` runs, every finished variant is one line of ``.<out>.variants.jsonl``
beside the output folder: its key, its record (as in ``variants.jsonl``), its row of the
frontier and the (site, service) pairs of its plan — everything the final outputs are built
from, so that a resumed sweep solves only the variants the log does not hold and still ends
with the same ``frontier.csv`` and ``robustness.csv`` as an uninterrupted one. The first line
is a header with a fingerprint of the sweep (SHA-256 of the scenario files and their data,
the ``--vary`` values, the solver and the versions that shape the numbers); a log of another
sweep is never resumed.

A line is written whole with one ``write``, then flushed to disk (``fsync``): a kill can only
cut off the line being written, which a resumed sweep ignores (its variant is solved again).
A sweep rewrites the log (header and the lines it carries over) into ``<log>.new`` and moves
it over the old log only when its first variant finishes, so that a fresh sweep stopped
before then leaves an interrupted sweep's log as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from siting.data.scenario import Scenario
from siting.errors import ResumeError
from siting.files import fsync_dir, sha256_file
from siting.pipeline import Prepared
from siting.pipeline.provenance import input_files, versions
from siting.studies.resolve import SolveOutcome
from siting.studies.sweep import VaryAxis, frontier_row, variant_record

#: Version of the log's format, in its header.
LOG_FORMAT = 1
_HEADER_KEY = "siting_sweep_log"


def log_path(folder: Path) -> Path:
    """The progress log of a sweep writing to ``folder``: ``.<name>.variants.jsonl`` beside it."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}.variants.jsonl"


def sweep_identity(scenario: Scenario, axes: Sequence[VaryAxis], backend: str | None) -> dict[str, Any]:
    """What makes a sweep the same sweep: inputs' SHA-256 by role, the axes, the solver, the versions."""
    solver = backend or scenario.solver.backend
    return {
        "inputs": {role: sha256_file(p) for role, p in sorted(input_files(scenario).items())},
        "axes": [[a.field, list(a.values)] for a in axes],
        "solver": solver,
        "versions": versions(solver),
    }


def fingerprint(identity: dict[str, Any]) -> str:
    """SHA-256 of a sweep's identity (:func:`sweep_identity`)."""
    text = json.dumps({"log_format": LOG_FORMAT, **identity}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def log_header(identity: dict[str, Any], variants: int) -> dict[str, Any]:
    """The first line of a log."""
    return {_HEADER_KEY: LOG_FORMAT, "fingerprint": fingerprint(identity), "variants": variants,
            "identity": identity}


def log_entry(result: SolveOutcome, groups: Sequence[str]) -> dict[str, Any]:
    """A finished variant as a line of the log."""
    plan = result.plan
    entry: dict[str, Any] = {"variant": result.key, "record": variant_record(result),
                             "row": frontier_row(result, groups)}
    if plan is not None:  # the assignments are the plan's hosts, one row each
        entry["hosts"] = [[str(site), str(service)] for site, service in
                          zip(plan.assignments["site_id"], plan.assignments["service"], strict=True)]
    return entry


def _valid_entry(value: object) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("variant"), str)
            and isinstance(value.get("record"), dict) and isinstance(value.get("row"), dict)
            and isinstance(value.get("hosts", []), list))


@dataclass(frozen=True)
class LogState:
    """What a progress log holds.

    Attributes
    ----------
    path
        The log.
    exists
        Whether the file is there.
    header
        Its header, ``None`` when the file is empty, cut off in its first line or not a log.
    entries
        Finished variants by key, in the order written (the first record of a key wins).
    torn
        The last line was cut off mid-write (the sweep was killed while recording a variant).
    unreadable
        Complete lines after the header that are not a variant's record.
    foreign
        The first line is complete but not a header: the file is not a sweep's progress log.
    """

    path: Path
    exists: bool = False
    header: dict[str, Any] | None = None
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    torn: bool = False
    unreadable: int = 0
    foreign: bool = False

    @property
    def total(self) -> int | None:
        """Number of variants of the logged sweep."""
        n = self.header.get("variants") if self.header else None
        return n if isinstance(n, int) else None


def read_log(path: Path) -> LogState:
    """Read a progress log, tolerating a last line cut off by a kill."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return LogState(path)
    *complete, tail = data.split(b"\n")
    torn = bool(tail.strip())
    if not complete:
        return LogState(path, True, torn=torn)
    try:
        header = json.loads(complete[0])
    except ValueError:
        header = None
    if not (isinstance(header, dict) and header.get(_HEADER_KEY) == LOG_FORMAT
            and isinstance(header.get("fingerprint"), str)):
        return LogState(path, True, torn=torn, foreign=True)
    entries: dict[str, dict[str, Any]] = {}
    unreadable = 0
    for line in complete[1:]:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not _valid_entry(entry):
            unreadable += 1
            continue
        entries.setdefault(entry["variant"], entry)
    return LogState(path, True, header, entries, torn, unreadable)


def recorded(path: Path, header: dict[str, Any]) -> int:
    """How many finished variants of the sweep with this header the log on disk holds."""
    state = read_log(path)
    same = state.header is not None and state.header["fingerprint"] == header["fingerprint"]
    return len(state.entries) if same else 0


def _differences(logged: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """In planners' words, what differs between two sweeps' identities."""
    def part(name: str) -> dict[str, Any]:
        value = logged.get(name)
        return value if isinstance(value, dict) else {}

    out = []
    a, b = part("inputs"), current["inputs"]
    for role in sorted(set(a) | set(b)):
        if a.get(role) != b.get(role):
            out.append(f"the {role.replace('_', ' ')} file" if role in a and role in b
                       else f"the {role.replace('_', ' ')} file (in one sweep only)")
    if logged.get("axes") != current["axes"]:
        out.append("the --vary fields or values")
    if logged.get("solver") != current["solver"]:
        out.append(f"the solver ({logged.get('solver')} then, {current['solver']} now)")
    if logged.get("versions") != current["versions"]:
        old, new = part("versions"), current["versions"]
        out += [f"{k} {old.get(k, '–')} then, {new.get(k, '–')} now" for k in sorted(set(old) | set(new))
                if old.get(k) != new.get(k) and k != "solver"]
    return out


def resumable_entries(state: LogState, identity: dict[str, Any], keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The finished variants of ``state`` that a resumed sweep keeps, by key.

    Raises
    ------
    ResumeError
        When the log is not a sweep's progress log or belongs to a different sweep.
    """
    fix = f"drop --resume to start a fresh sweep, or remove {state.path}"
    if state.foreign:
        raise ResumeError(f"{state.path} is not the progress log of a siting sweep; {fix}")
    if state.header is None:
        return {}
    if state.header["fingerprint"] != fingerprint(identity):
        logged = state.header.get("identity")
        what = _differences(logged if isinstance(logged, dict) else {}, identity) or ["the sweep's settings"]
        raise ResumeError(f"{state.path} is the progress log of a different sweep: {'; '.join(what)} changed "
                          f"since it was written, so --resume cannot continue it; {fix}")
    wanted = set(keys)
    return {k: e for k, e in state.entries.items() if k in wanted}


def state_notes(state: LogState, *, resume: bool, current: str) -> list[str]:
    """What a sweep tells the planner about the log it found.

    Parameters
    ----------
    state
        The log found (:func:`read_log`).
    resume
        Whether the sweep resumes (``--resume``).
    current
        The fingerprint of the sweep starting.
    """
    notes = []
    if not state.exists:
        if resume:
            notes.append(f"no interrupted sweep found ({state.path} does not exist); solving every variant")
        return notes
    if resume:
        if state.torn:
            notes.append(f"the last line of {state.path} was cut off mid-write (the sweep was killed while "
                         f"recording a variant); it is ignored and its variant is solved again")
        if state.unreadable:
            notes.append(f"{state.unreadable} line(s) of {state.path} could not be read; "
                         f"their variants are solved again")
        if state.header is None and not state.foreign:
            notes.append(f"{state.path} holds no finished variant; solving every variant")
        return notes
    replaced = "this fresh sweep replaces that log when its first variant finishes"
    if state.foreign:
        notes.append(f"{state.path} is not a sweep's progress log; {replaced}")
    elif state.header is not None:
        done = f"{len(state.entries)} of {state.total or '?'} variants finished"
        if state.header["fingerprint"] == current:
            notes.append(f"an interrupted sweep of this scenario was found in {state.path} ({done}); rerun with "
                         f"--resume to continue it, or let this fresh sweep run: {replaced}")
        else:
            notes.append(f"an interrupted sweep with other settings (scenario files, data, --vary values or solver) "
                         f"was found in {state.path} ({done}); {replaced}")
    return notes


class ProgressLog:
    """The log a running sweep appends to; a context manager.

    Parameters
    ----------
    path
        The log (:func:`log_path`).
    header
        Its first line (:func:`log_header`).
    carried
        Finished variants kept from an interrupted sweep, written after the header.
    """

    def __init__(self, path: Path, header: dict[str, Any], carried: Sequence[dict[str, Any]] = ()) -> None:
        self.path = Path(path)
        self.new = self.path.with_name(self.path.name + ".new")
        self._lines = [header, *carried]
        self._fd: int | None = None
        self._in_place = False
        self.appended = 0

    def __enter__(self) -> ProgressLog:
        self._fd = os.open(self.new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        _write_line(self._fd, b"".join(_line(x) for x in self._lines))
        return self

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Write one finished variant to disk; return it as a resumed sweep would read it back."""
        if self._fd is None:
            raise RuntimeError("ProgressLog.append outside its with block")
        line = _line(entry)
        _write_line(self._fd, line)
        if not self._in_place:
            os.replace(self.new, self.path)
            fsync_dir(self.path.parent)
            self._in_place = True
        self.appended += 1
        read_back: dict[str, Any] = json.loads(line)
        return read_back

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if not self._in_place:
            self.new.unlink(missing_ok=True)


def _line(value: dict[str, Any]) -> bytes:
    # NaN and infinity as Python writes them: the log is read back only by siting, exactly
    return (json.dumps(value, ensure_ascii=False, allow_nan=True) + "\n").encode("utf-8")


def _write_line(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.fsync(fd)


def remove_log(path: Path) -> None:
    """Remove a finished sweep's log (once its outputs are in place)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".new").unlink(missing_ok=True)
    fsync_dir(path.parent)


def entry_hosts(entries: Sequence[dict[str, Any]], prepared: Prepared) -> list[np.ndarray]:
    """The plans' hosts (sites × services booleans) of the feasible logged variants.

    Raises
    ------
    ResumeError
        When a logged site or service is not in the district (a log of other data).
    """
    ids = pd.Index(prepared.district.sites.ids.astype(str))
    services = pd.Index([s.key for s in prepared.catalogue.services])
    shape = (len(ids), len(services))
    out = []
    for e in entries:
        if "hosts" not in e:
            continue
        pairs = e["hosts"]
        j = ids.get_indexer(pd.Index([str(p[0]) for p in pairs], dtype=object))
        s = services.get_indexer(pd.Index([str(p[1]) for p in pairs], dtype=object))
        if (j < 0).any() or (s < 0).any():
            raise ResumeError(f"variant {e['variant']} of the progress log names sites or services that are not in "
                              f"this district; remove the log and sweep afresh")
        hosts = np.zeros(shape, dtype=bool)
        hosts[j, s] = True
        out.append(hosts)
    return out


@dataclass(frozen=True)
class ResumePoint:
    """Where a sweep starts: its log, what that log holds, the finished variants it keeps.

    Attributes
    ----------
    log
        The progress log's path.
    header
        The header the sweep writes.
    state
        What the log held before the sweep started.
    done
        Finished variants kept (by key; empty without ``--resume``).
    notes
        What to tell the planner about the log found.
    """

    log: Path
    header: dict[str, Any]
    state: LogState
    done: dict[str, dict[str, Any]]
    notes: tuple[str, ...]


def resume_point(folder: Path, scenario: Scenario, axes: Sequence[VaryAxis], keys: Sequence[str], *,
                 backend: str | None, resume: bool) -> ResumePoint:
    """Read the log of a sweep writing to ``folder`` and decide what it keeps.

    Parameters
    ----------
    folder
        The sweep's output folder.
    scenario, axes, backend
        The sweep (its identity is recorded in, and checked against, the log's header).
    keys
        The sweep's variant keys.
    resume
        Keep the finished variants of an interrupted run of the same sweep (``--resume``).

    Raises
    ------
    ResumeError
        With ``resume``, when the log belongs to a different sweep or is not a progress log.
    """
    log = log_path(folder)
    identity = sweep_identity(scenario, axes, backend)
    state = read_log(log)
    done = resumable_entries(state, identity, keys) if resume else {}
    return ResumePoint(log, log_header(identity, len(keys)), state, done,
                       tuple(state_notes(state, resume=resume, current=fingerprint(identity))))


def sweep_outputs(keys: Sequence[str], entries: dict[str, dict[str, Any]], base: Prepared,
                  axes: Sequence[str], *, lower_is_better: bool = False,
                  ) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Frontier, robustness table and ``variants.jsonl`` records, from the log's entries in variant order.

    ``lower_is_better``: the objective is minimised (walking time, cost), see
    :func:`~siting.studies.sweep.frontier_table`.

    Built from the entries as written to (and read back from) the log, whether solved in this
    run or an interrupted one: a resumed sweep gives the same tables as an uninterrupted one.
    """
    from siting.studies.sweep import frontier_from_rows, robustness_from_hosts

    ordered = [entries[k] for k in keys]
    within = [f for f in axes if f != "budget"] if "budget" in axes else []
    frontier = frontier_from_rows([e["row"] for e in ordered], within, lower_is_better=lower_is_better)
    robustness = robustness_from_hosts(entry_hosts(ordered, base), base)
    return frontier, robustness, [e["record"] for e in ordered]


__all__ = ["LOG_FORMAT", "LogState", "ProgressLog", "ResumePoint", "entry_hosts", "fingerprint", "log_entry",
           "log_header", "log_path", "read_log", "recorded", "remove_log", "resumable_entries", "resume_point",
           "state_notes", "sweep_identity", "sweep_outputs"]
