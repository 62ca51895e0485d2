"""The columns of each table, checked and converted: buildings' residents, the ledger, existing facilities.

Each function takes a :class:`~siting.data.readers.PointTable` whose headers are already
siting's names (:mod:`siting.data.columns`) and returns plain arrays; every problem is appended
to ``problems`` and every conversion (units, Chinese service names, POI types) is reported in
``notes``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from siting.data import readers as io
from siting.data.age_bands import band_sources
from siting.data.catalogue import Catalogue, ServiceNames
from siting.data.pois import poi_services
from siting.data.units import COLUMN_UNITS, cost_per_m2_problems, unit_factor
from siting.errors import DataError, SitingError, rows_text

#: More residents than this at one demand point (a building or a block) is implausible.
MAX_RESIDENTS_PER_POINT = 100_000
#: More floor area than this in one idle building is implausible (a unit mistake).
MAX_FLOOR_AREA_M2 = 1_000_000
#: A retrofit cost above this for one building is implausible (a unit mistake), in yuan.
MAX_RETROFIT_COST = 10_000_000_000


def converted(t: io.PointTable, column: str, values: np.ndarray, notes: list[str]) -> np.ndarray:
    """A column's values in siting's unit (yuan, m²), from the unit the table gives it; noted when converted."""
    unit = t.units.get(column)
    if unit is None:
        return values
    factor = unit_factor(unit, column)
    if factor is None or factor == 1.0:
        return values
    notes.append(f"{t.place(column)}: read in {unit}, converted to {COLUMN_UNITS[column][0]} (× {factor:,.6g})")
    return values * factor


def demand_columns(t: io.PointTable, catalogue: Catalogue, problems: list[SitingError],
                   notes: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Building ids and residents per age band (n × bands).

    A column per band, or coarser counts (``children``, ``working``, ``elderly``, one
    ``population`` column) split into the bands by their census shares, with a note
    (:func:`siting.data.age_bands.band_sources`).
    """
    df, path, layer = t.frame, t.path, t.layer
    ok = io.require_columns(df, ["id"], path, problems, layer=layer)
    d_ids = io.ids(df, path, problems, layer=layer) if ok else np.full(len(df), "", dtype=object)
    ids = t.id_column()
    groups = catalogue.group_keys
    found = band_sources(list(df.columns), catalogue, file=path.name)
    if found.missing:
        missing = list(found.missing)
        fits = [k for k, v in catalogue.aggregates.items() if k not in groups and set(v) == set(missing)]
        instead = (f"add column '{fits[0]}' (split into {missing} by census shares) or one column per band "
                   f"{missing}" if fits else f"add one column per band {missing}")
        problems.append(DataError(
            f"{t.place()}: missing population column(s) for age band(s) {missing}: {instead}; the bands are "
            f"{list(groups)}, and coarser counts ({sorted(set(catalogue.aggregates) - set(groups))}) are split by "
            f"census shares (or give a census by community: data.census); the file has {list(df.columns)}"))
        return None
    fix = "residents cannot be negative; correct the count"
    counts = np.column_stack([io.numeric(df, c, path, minimum=0, problems=problems, ids=ids, layer=layer,
                                         what="a number of residents", fix=fix) for c in found.columns])
    notes += found.notes
    return d_ids, check_population(t, counts @ found.split, catalogue, problems, columns=found.columns)


def check_population(t: io.PointTable, pop: np.ndarray, catalogue: Catalogue, problems: list[SitingError], *,
                     columns: tuple[str, ...] | None = None) -> np.ndarray:
    """Report absurd residents at one point, or none at all (``columns``: where they were read)."""
    groups = columns or catalogue.group_keys
    total = pop.sum(axis=1)
    fine = np.isfinite(total)
    absurd = np.flatnonzero(fine & (total > MAX_RESIDENTS_PER_POINT))
    if absurd.size:
        problems.append(DataError(
            f"{t.place('/'.join(groups))}, {rows_text(absurd, t.id_column())}: "
            f"{total[absurd[0]]:,.0f} residents at one point is implausible (more than "
            f"{MAX_RESIDENTS_PER_POINT:,}); check the unit (people, not density) or split the block into buildings"))
    if fine.all() and (pop >= 0).all() and total.sum() <= 0:
        problems.append(DataError(f"{t.place()}: every population count is zero; give the residents of each "
                                  f"building (columns {list(groups)})"))
    return pop


#: Cost columns of the ledger: one cost paid once, or a fixed part and a part per m² converted.
SINGLE_COST, FIXED_COST, COST_PER_M2 = "retrofit_cost", "fixed_cost", "cost_per_m2"


def site_costs(t: io.PointTable, area: np.ndarray, problems: list[SitingError],
               notes: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """(cost paid once if the site is used, cost per m² of floor area the plan converts), in yuan.

    A ledger gives ``retrofit_cost`` (the whole conversion, paid once), or ``fixed_cost``
    (structure, fire safety: paid once if the building is used) and ``cost_per_m2`` (per m² the
    plan converts), so that a large building may be converted in part. Either way the cost per
    m² of the whole building is checked for plausibility (:func:`~siting.data.units.cost_per_m2_problems`).
    """
    df, path, layer, ids = t.frame, t.path, t.layer, t.id_column()
    split = [c for c in (FIXED_COST, COST_PER_M2) if c in df.columns]
    if SINGLE_COST in df.columns and split:
        problems.append(DataError(f"{t.place(SINGLE_COST)}: give either '{SINGLE_COST}' (the whole conversion, "
                                  f"paid once) or '{FIXED_COST}' and '{COST_PER_M2}' (a fixed part and a part per m² "
                                  f"converted), not both"))
        return None
    if SINGLE_COST in df.columns or not split:
        if not io.require_columns(df, [SINGLE_COST], path, problems, layer=layer):
            return None
        unit = t.units.get(SINGLE_COST, "元")
        cost = io.numeric(df, SINGLE_COST, path, minimum=0, positive=True, problems=problems, ids=ids, layer=layer,
                          what=f"the retrofit cost (in {unit})",
                          fix="a conversion that costs nothing is almost always a blank exported as 0: "
                              "give the retrofit cost")
        cost = converted(t, SINGLE_COST, cost, notes)
        _plausible(t, SINGLE_COST, cost, area, unit, problems)
        return cost, np.zeros(len(df))
    unit = t.units.get(FIXED_COST, "元")
    fixed = (converted(t, FIXED_COST, io.numeric(df, FIXED_COST, path, minimum=0, problems=problems, ids=ids,
                                                 layer=layer, what=f"the fixed conversion cost (in {unit})"), notes)
             if FIXED_COST in df.columns else np.zeros(len(df)))
    per_m2 = (converted(t, COST_PER_M2, io.numeric(df, COST_PER_M2, path, minimum=0, problems=problems, ids=ids,
                                                   layer=layer, what="the conversion cost per m² converted"), notes)
              if COST_PER_M2 in df.columns else np.zeros(len(df)))
    free = np.flatnonzero(np.isfinite(fixed) & np.isfinite(per_m2) & (fixed + per_m2 <= 0))
    if free.size:
        problems.append(DataError(f"{t.place('/'.join(split))}, {rows_text(free, ids)}: a conversion that costs "
                                  f"nothing is almost always a blank exported as 0; give the fixed cost or the "
                                  f"cost per m²"))
    _plausible(t, "/".join(split), fixed + per_m2 * area, area, unit, problems, fix_column=split[0])
    return fixed, per_m2


def _plausible(t: io.PointTable, column: str, cost: np.ndarray, area: np.ndarray, unit: str,
               problems: list[SitingError], *, fix_column: str = SINGLE_COST) -> None:
    """Implausibly large figures and implausible costs per m² of the whole building."""
    ids = t.id_column()
    for values, col, limit, what in ((area, "floor_area_m2", MAX_FLOOR_AREA_M2, "m²"),
                                     (cost, column, MAX_RETROFIT_COST, "yuan")):
        high = np.flatnonzero(np.isfinite(values) & (values > limit))
        if high.size:
            problems.append(DataError(
                f"{t.place(col)}, {rows_text(high, ids)}: value {values[high[0]]:,.0f} {what} is implausibly large "
                f"(more than {limit:,.0f}); check the unit and the decimal point"))
    fine = np.isfinite(area) & np.isfinite(cost) & (area <= MAX_FLOOR_AREA_M2) & (cost <= MAX_RETROFIT_COST)
    problems += cost_per_m2_problems(np.where(fine, cost, np.nan), np.where(fine, area, np.nan),
                                     place=t.place(column), ids=ids, unit=unit, column=fix_column)


def site_columns(t: io.PointTable, catalogue: Catalogue, names: ServiceNames, problems: list[SitingError],
                 notes: list[str]) -> tuple[np.ndarray, ...] | None:
    """Ids, names, kinds, floor areas (m²), costs paid once (yuan), allowed services and costs per m² converted."""
    df, path, layer = t.frame, t.path, t.layer
    ok = io.require_columns(df, ["id", "floor_area_m2"], path, problems, layer=layer)
    if not ok:  # still check the columns that are there
        for col in ("floor_area_m2", SINGLE_COST, FIXED_COST, COST_PER_M2):
            if col in df.columns:
                io.numeric(df, col, path, minimum=0, positive=col in ("floor_area_m2", SINGLE_COST),
                           problems=problems, ids=t.id_column(), layer=layer)
        if "id" in df.columns:
            io.ids(df, path, problems, layer=layer)
        return None
    ids = t.id_column()
    s_ids = io.ids(df, path, problems, layer=layer)
    area_unit = t.units.get("floor_area_m2", "m²")
    area = io.numeric(df, "floor_area_m2", path, minimum=0, positive=True, problems=problems, ids=ids, layer=layer,
                      what=f"the usable floor area (in {area_unit})",
                      fix="a site without floor area can host nothing: give its usable area, or remove it")
    area = converted(t, "floor_area_m2", area, notes)
    costs = site_costs(t, area, problems, notes)
    if costs is None:
        return None
    labels = io.text_column(df, "name", default=s_ids)
    kinds = io.text_column(df, "kind")
    allowed = allowed_matrix(t, catalogue.service_keys, names, problems, notes)
    return s_ids, labels, kinds, area, costs[0], allowed, costs[1]


def _service_keys(values: np.ndarray, names: ServiceNames) -> tuple[np.ndarray, dict[str, str]]:
    """Service keys of names (one lookup per distinct name); '' where unknown. Also the names translated."""
    lookup = {str(v): names.key(str(v)) or "" for v in set(values.tolist())}
    translated = {v: k for v, k in lookup.items() if k and k != v}
    return np.array([lookup[str(v)] for v in values], dtype=object), translated


def existing_columns(t: io.PointTable, catalogue: Catalogue, names: ServiceNames, types: Mapping[str, str] | None,
                     problems: list[SitingError],
                     notes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Ids, names and service index (catalogue order; -1: a service not in play) of existing facilities.

    The service is the ``service`` column (any name of a service), or the POI ``type`` column of a
    web-map export mapped by :func:`siting.data.pois.poi_services` (POIs of unmapped types dropped).
    """
    df, path, layer = t.frame, t.path, t.layer
    ids = t.id_column()
    known = frozenset(names.keys)
    if "service" not in df.columns and "type" in df.columns:
        keys = poi_services(io.text_column(df, "type"), names=names, mapping=types or {}, place=t.place("type"),
                            problems=problems, notes=notes, known=known)
        if "id" not in df.columns:
            df = df.assign(id=[f"POI{i + 1}" for i in range(len(df))])
            notes.append(f"{t.place()}: no id column; the POIs are numbered POI1, POI2, ... in file order")
    else:
        if not io.require_columns(df, ["id", "service"], path, problems, layer=layer):
            return None
        text = io.text_column(df, "service")
        keys, translated = _service_keys(text, names)
        if translated:
            notes.append(f"{t.place('service')}: service names read as keys: "
                         + ", ".join(f"{a} → {b}" for a, b in sorted(translated.items())))
        blank = np.flatnonzero(text == "")
        if blank.size:
            problems.append(DataError(f"{t.place('service')}, {rows_text(blank, ids)}: empty service; give the "
                                      f"service each facility offers (a key or a name such as 幼儿园)"))
        unknown = np.flatnonzero((text != "") & (keys == ""))
        for name in sorted(set(text[unknown])):
            rows = unknown[text[unknown] == name]
            problems.append(DataError(f"{t.place('service')}, {rows_text(rows, ids)}: {names.unknown(name)}"))
    if not io.require_columns(df, ["id"], path, problems, layer=layer):
        return None
    e_ids = io.ids(df, path, problems, layer=layer)
    e_names = io.text_column(df, "name", default=e_ids)
    index = {k: i for i, k in enumerate(catalogue.service_keys)}
    e_service = np.array([index.get(k, -1) if k else -2 for k in keys], dtype=np.int64)
    return e_ids, e_names, e_service


def allowed_matrix(t: io.PointTable, services: tuple[str, ...], names: ServiceNames, problems: list[SitingError],
                   notes: list[str]) -> np.ndarray:
    """Boolean (sites × services): the ``allowed`` column, ';'-separated service names, empty = any."""
    m = len(t)
    if "allowed" not in t.frame.columns:
        return np.ones((m, len(services)), dtype=bool)
    index = {k: i for i, k in enumerate(services)}
    out = np.zeros((m, len(services)), dtype=bool)
    unknown: dict[str, list[int]] = {}
    translated: dict[str, str] = {}
    cells = io.text_column(t.frame, "allowed")
    for row, cell in enumerate(cells):  # one pass over sites, not over pairs
        text = str(cell)
        for sep in (",", "，", "；", "、", "|", "/"):
            text = text.replace(sep, ";")
        given = [k.strip() for k in text.split(";") if k.strip()]
        if not given:
            out[row, :] = True
            continue
        for name in given:
            key = names.key(name)
            if key is None:
                unknown.setdefault(name, []).append(row)
                continue
            if key != name:
                translated[name] = key
            if key in index:
                out[row, index[key]] = True
    if translated:
        notes.append(f"{t.place('allowed')}: service names read as keys: "
                     + ", ".join(f"{a} → {b}" for a, b in sorted(translated.items())))
    for k, rows in sorted(unknown.items()):
        problems.append(DataError(f"{t.place('allowed')}, {rows_text(rows, t.id_column())}: {names.unknown(k)}"))
    return out


__all__ = ["COST_PER_M2", "FIXED_COST", "MAX_FLOOR_AREA_M2", "MAX_RESIDENTS_PER_POINT", "MAX_RETROFIT_COST",
           "SINGLE_COST", "allowed_matrix", "check_population", "converted", "demand_columns", "existing_columns",
           "site_columns", "site_costs"]
