"""A cost matrix read instead of walking: walking metres from each demand point to each site.

``data.cost_matrix`` names a CSV or Parquet table of walking costs, *long* (one row per pair:
demand id, site id, cost) or *wide* (one row per demand id, one column per site id). Costs are
walking metres, or minutes converted to metres at the catalogue's reference speed (``unit:
min``). Existing facilities' costs come from the same table (``existing: true``: their ids
among the site ids) or from ``data.cost_matrix_existing``. A pair absent from a long table, or
an empty cell of a wide one, is beyond reach.

:func:`read_cost_matrix` reads each file through :mod:`siting.data.matrix_files` (its format,
its pairs given twice, its negative or non-numeric costs), checks every id of the matrix against
the district's tables, appends each problem to a list, notes the demand points, sites and
facilities the matrix leaves out, and returns the pairs as index arrays — vectorised, no Python
loop over pairs. The walking stage (:mod:`siting.walking.matrix`) turns them into reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from siting.data.matrix_files import LISTED, MatrixFile, read_matrix_file
from siting.data.scenario import CostMatrixTable, DataFiles
from siting.errors import DataError, SitingError, rows_text, where


@dataclass(frozen=True)
class PairCosts:
    """Walking metres of (demand point, destination) pairs, by position in two id arrays.

    Attributes
    ----------
    origin, destination
        Position of each pair's demand point in ``origin_ids`` and of its destination (a site
        or an existing facility) in ``destination_ids``; one entry per pair.
    metres
        Walking metres at the catalogue's reference speed.
    origin_ids, destination_ids
        The ids the positions refer to: the district's tables as read.
    """

    origin: np.ndarray
    destination: np.ndarray
    metres: np.ndarray
    origin_ids: np.ndarray
    destination_ids: np.ndarray

    def renumbered(self, origin_ids: np.ndarray,
                   destination_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pairs by position in other id arrays (unique ids), without the pairs whose ids are not there.

        A life circle holds part of the district's buildings and sites, and only the existing
        facilities of the services in play are kept: their pairs are found by id.

        Returns
        -------
        (origin, destination, metres)
        """
        o = _positions(self.origin_ids, origin_ids)[self.origin]
        d = _positions(self.destination_ids, destination_ids)[self.destination]
        keep = (o >= 0) & (d >= 0)
        return o[keep], d[keep], self.metres[keep]


@dataclass(frozen=True)
class CostMatrix:
    """The costs a scenario gives instead of walking: demand → candidate site, demand → existing facility."""

    sites: PairCosts
    existing: PairCosts


def _positions(ids: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Position of each of ``ids`` in ``within`` (unique), ``-1`` where absent."""
    if len(ids) == len(within) and np.array_equal(ids, within):
        return np.arange(len(ids), dtype=np.int64)
    return np.asarray(pd.Index(within).get_indexer(ids), dtype=np.int64)


@dataclass(frozen=True)
class _Tables:
    """The district's ids the matrix is checked against."""

    demand: np.ndarray
    sites: np.ndarray
    existing: np.ndarray
    existing_in_play: np.ndarray
    files: dict[str, str]  # role -> file name, for messages


def _unique(ids: np.ndarray | None) -> np.ndarray | None:
    """The ids, or ``None`` when they are not usable as keys (blank or repeated: reported by their table)."""
    if ids is None:
        return None
    index = pd.Index(ids)
    return ids if index.is_unique and not (index == "").any() else None


def _destination_kinds(read: MatrixFile, tables: _Tables, holds: tuple[str, ...],
                       problems: list[SitingError]) -> tuple[np.ndarray, np.ndarray]:
    """Position of each destination among the sites and among the existing facilities (``-1``: not one)."""
    in_sites = _positions(read.destinations, tables.sites)
    in_existing = _positions(read.destinations, tables.existing)
    role, spec = read.role, read.spec
    unknown = (in_sites < 0) & (in_existing < 0) & (read.destinations != "")  # blank ids are reported as such
    if unknown.any():
        first = str(read.destinations[np.flatnonzero(unknown)[0]])
        tables_named = " nor ".join(f"data.{h} ({tables.files[h]}, column 'id')" for h in holds)
        hint = (" (read as a wide table: one column per site id; for a long table say format: long and name its "
                "columns)" if read.format == "wide" and spec.format is None else "")
        problems.append(DataError(
            f"{read.destination_place(unknown)}: id {first!r} is not in {tables_named}{hint}; use the ids of that "
            f"table (the same text: '007' is not '7'), or remove {'these rows' if read.format == 'long' else 'them'}"))
    if "existing" not in holds:
        wrong = (in_sites < 0) & (in_existing >= 0)
        if wrong.any():
            problems.append(DataError(
                f"{read.destination_place(wrong)}: {str(read.destinations[np.flatnonzero(wrong)[0]])!r} is an "
                f"existing facility of {tables.files['existing']}; to read existing facilities' costs from this "
                f"table set data.{role}.existing: true, or give them in data.cost_matrix_existing"))
    if "sites" not in holds:
        wrong = (in_sites >= 0) & (in_existing < 0)
        if wrong.any():
            problems.append(DataError(
                f"{read.destination_place(wrong)}: {str(read.destinations[np.flatnonzero(wrong)[0]])!r} is a "
                f"candidate site of {tables.files['sites']}; give the sites' costs in data.cost_matrix"))
    if holds == ("sites", "existing"):
        both = (in_sites >= 0) & (in_existing >= 0)
        if both.any():
            problems.append(DataError(
                f"{read.destination_place(both)}: {str(read.destinations[np.flatnonzero(both)[0]])!r} is the id of "
                f"a candidate site and of an existing facility, so this table cannot tell which it means; give the "
                f"existing facilities' costs in data.cost_matrix_existing instead (existing: false)"))
    none = np.full(len(in_sites), -1, dtype=np.int64)
    if holds == ("sites", "existing"):
        return np.where(in_existing < 0, in_sites, -1), np.where(in_sites < 0, in_existing, -1)
    return (in_sites, none) if holds == ("sites",) else (none, in_existing)


def _missing_note(ids: np.ndarray, positions: np.ndarray, what: str, consequence: str, file: Path,
                  notes: list[str], among: np.ndarray | None = None) -> None:
    """Note the ids no entry of the matrix names (``positions``: of the matrix's ids among ``ids``, -1: none);
    ``among``: the ids that count (existing facilities of the services in play)."""
    absent = np.ones(len(ids), dtype=bool)
    absent[positions[positions >= 0]] = False
    if among is not None:
        ids, absent = ids[among], absent[among]
    if absent.any():
        shown = ", ".join(str(i) for i in ids[absent][:LISTED])
        more = f" and {int(absent.sum()) - LISTED} more" if absent.sum() > LISTED else ""
        notes.append(f"{int(absent.sum())} of {len(ids)} {what} are not in the cost matrix {file.name} and "
                     f"{consequence}: {shown}{more}")


def _pairs(read: MatrixFile, demand_pos: np.ndarray, dest_pos: np.ndarray, factor: float,
           origin_ids: np.ndarray, destination_ids: np.ndarray) -> PairCosts:
    o = demand_pos[read.row_demand[read.entry_row]]
    d = dest_pos[read.entry_dest]
    keep = (o >= 0) & (d >= 0)
    return PairCosts(o[keep], d[keep], read.cost[keep] * factor, origin_ids, destination_ids)


def read_cost_matrix(data: DataFiles, *, demand_ids: np.ndarray | None, site_ids: np.ndarray | None,
                     existing_ids: np.ndarray | None, existing_in_play: np.ndarray | None,
                     reference_speed_m_s: float, problems: list[SitingError], notes: list[str]) -> CostMatrix | None:
    """Read ``data.cost_matrix`` (and ``data.cost_matrix_existing``), every id and cost checked.

    Parameters
    ----------
    data
        The scenario's data files (the matrices and the tables' names, for messages).
    demand_ids, site_ids, existing_ids
        The ids of the district's tables as read (no existing facilities: an empty array);
        ``None`` when a table could not be read (its problems are already reported; the matrix's
        ids are then not checked against it).
    existing_in_play
        Which existing facilities offer a service in play (those the matrix must give).
    reference_speed_m_s
        The catalogue's reference speed: minutes × 60 × this are walking metres.
    problems, notes
        Problems found and things the planner should know are appended here.

    Returns
    -------
    CostMatrix or None
        ``None`` when any problem was found.
    """
    before = len(problems)
    files = {role: (p.name if (p := data.path(role)) is not None else role) for role in ("demand", "sites", "existing")}
    n_existing = len(existing_ids) if existing_ids is not None else 0
    usable_d, usable_s, usable_e = _unique(demand_ids), _unique(site_ids), _unique(existing_ids)
    none = np.zeros(0, dtype=object)
    in_play = existing_in_play if existing_in_play is not None else np.ones(n_existing, dtype=bool)
    tables = _Tables(none if usable_d is None else usable_d, none if usable_s is None else usable_s,
                     none if usable_e is None else usable_e, in_play, files)
    checked = {"demand": usable_d is not None, "sites": usable_s is not None, "existing": usable_e is not None}
    main = data.matrix("cost_matrix")
    assert main is not None
    other = data.matrix("cost_matrix_existing")
    reads: list[tuple[MatrixFile, tuple[str, ...]]] = []
    files_read: list[tuple[str, CostMatrixTable | None, tuple[str, ...]]] = [
        ("cost_matrix", main, ("sites", "existing") if main.existing else ("sites",)),
        ("cost_matrix_existing", other, ("existing",))]
    for role, spec, holds in files_read:
        if spec is None:
            continue
        read = read_matrix_file(spec, role, problems, notes)
        if read is not None:
            reads.append((read, holds))
    main_read = [read for read, _ in reads if read.role == "cost_matrix"]
    names_existing = any((_positions(read.destinations, tables.existing) >= 0).any() for read in main_read)
    if (n_existing and tables.existing_in_play.any() and not main.existing and other is None and main_read
            and not names_existing):  # (existing ids among the sites are reported with this fix below)
        problems.append(DataError(
            f"{where(data.path('existing'))}: {int(tables.existing_in_play.sum())} existing facilities, but the cost "
            f"matrix gives no costs to them; set data.cost_matrix.existing: true if their ids are among the site ids "
            f"of {main.path.name}, or give their costs in data.cost_matrix_existing"))
    found = [(read, holds, _demand_positions(read, tables, problems) if checked["demand"] else None,
              _destination_kinds(read, tables, holds, problems) if checked["sites"] and checked["existing"] else None)
             for read, holds in reads]  # every unknown id named, against the tables that could be read
    if not all(checked.values()) or len(problems) > before:
        return None
    sites: PairCosts | None = None
    existing = PairCosts(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), tables.demand,
                         tables.existing)
    for read, holds, demand_pos, kinds in found:
        assert demand_pos is not None and kinds is not None
        to_site, to_existing = kinds
        factor = _unit_factor(read, reference_speed_m_s, notes)
        _missing_note(tables.demand, demand_pos, "demand points", "reach nothing from it", read.path, notes)
        if "sites" in holds:
            sites = _pairs(read, demand_pos, to_site, factor, tables.demand, tables.sites)
            _missing_note(tables.sites, to_site, "candidate sites", "cover no one", read.path, notes)
        if "existing" in holds:
            existing = _pairs(read, demand_pos, to_existing, factor, tables.demand, tables.existing)
            _missing_note(tables.existing, to_existing, "existing facilities", "cover no one", read.path, notes,
                          among=tables.existing_in_play)
    if sites is None:
        return None
    notes.append(f"walking costs read from {main.path.name}"
                 + (f" and {other.path.name}" if other is not None else "")
                 + f" instead of walking: {sites.metres.size:,} pairs to candidate sites, {existing.metres.size:,} to "
                   f"existing facilities; the catalogue's radii apply to them as walking metres")
    return CostMatrix(sites, existing)


def _unit_factor(read: MatrixFile, reference_speed_m_s: float, notes: list[str]) -> float:
    """Metres per unit of the matrix's costs: 1, or 60 × the reference speed for minutes (noted)."""
    if read.spec.unit == "min":
        factor = 60.0 * reference_speed_m_s
        notes.append(f"{read.path.name}: costs read in minutes and converted to walking metres at the catalogue's "
                     f"reference speed, {reference_speed_m_s:g} m/s (× {factor:g} m per minute)")
        return factor
    if len(read.cost) and float(np.nanmax(read.cost)) <= 60:
        notes.append(f"{read.path.name}: every cost is at most {float(np.nanmax(read.cost)):g} metres; if they are "
                     f"minutes, say unit: min")
    return 1.0


def _demand_positions(read: MatrixFile, tables: _Tables, problems: list[SitingError]) -> np.ndarray:
    """Position of each distinct demand id of the matrix among the district's demand points; unknown ids reported."""
    pos = _positions(read.demand_ids, tables.demand)
    unknown = (pos < 0) & (read.demand_ids != "")  # blank ids are reported as such
    if unknown.any():
        rows = np.flatnonzero(unknown[read.row_demand])
        first = str(read.demand_ids[read.row_demand[rows[0]]])
        problems.append(DataError(
            f"{read.place(read.spec.demand)}, {rows_text(rows, read.row_ids())}: demand id {first!r} is not in "
            f"data.demand ({tables.files['demand']}, column 'id'); use the ids of the demand table (the same text: "
            f"'007' is not '7'), or remove these rows"))
    return pos


__all__ = ["CostMatrix", "PairCosts", "read_cost_matrix"]
