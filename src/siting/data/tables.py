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
    """Building ids and residents per age group (n × groups)."""
    df, path, layer = t.frame, t.path, t.layer
    ok = io.require_columns(df, ["id"], path, problems, layer=layer)
    d_ids = io.ids(df, path, problems, layer=layer) if ok else np.full(len(df), "", dtype=object)
    ids = t.id_column()
    groups = catalogue.group_keys
    missing_groups = [g for g in groups if g not in df.columns]
    fix = "residents cannot be negative; correct the count"
    if missing_groups and "population" in df.columns:
        total = io.numeric(df, "population", path, minimum=0, problems=problems, ids=ids, layer=layer,
                           what="a number of residents", fix=fix)
        shares = np.array([catalogue.group(g).census_share or 0.0 for g in groups])
        if shares.sum() <= 0:
            problems.append(DataError(
                f"{t.place('population')}: only a 'population' column, and the age groups have no census_share "
                f"to split it; add columns {list(groups)}"))
        pop = np.outer(total, shares / max(shares.sum(), 1e-12))
    elif missing_groups:
        problems.append(DataError(
            f"{t.place(missing_groups[0])}: missing population column(s) {missing_groups}, one per age group "
            f"(or a single 'population' column split by census shares, or a census by community: data.census); "
            f"the file has {list(df.columns)}"))
        return None
    else:
        pop = np.column_stack([io.numeric(df, g, path, minimum=0, problems=problems, ids=ids, layer=layer,
                                          what="a number of residents", fix=fix) for g in groups])
    return d_ids, check_population(t, pop, catalogue, problems, missing=bool(missing_groups))


def check_population(t: io.PointTable, pop: np.ndarray, catalogue: Catalogue, problems: list[SitingError], *,
                     missing: bool = False) -> np.ndarray:
    """Report absurd residents at one point, or none at all."""
    groups = catalogue.group_keys
    total = pop.sum(axis=1)
    fine = np.isfinite(total)
    absurd = np.flatnonzero(fine & (total > MAX_RESIDENTS_PER_POINT))
    if absurd.size:
        problems.append(DataError(
            f"{t.place('/'.join(groups) if not missing else 'population')}, {rows_text(absurd, t.id_column())}: "
            f"{total[absurd[0]]:,.0f} residents at one point is implausible (more than "
            f"{MAX_RESIDENTS_PER_POINT:,}); check the unit (people, not density) or split the block into buildings"))
    if fine.all() and (pop >= 0).all() and total.sum() <= 0:
        problems.append(DataError(f"{t.place()}: every population count is zero; give the residents of each "
                                  f"building (columns {list(groups)})"))
    return pop


def site_columns(t: io.PointTable, catalogue: Catalogue, names: ServiceNames, problems: list[SitingError],
                 notes: list[str]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Ids, names, kinds, floor areas (m²), retrofit costs (yuan) and allowed services of the ledger."""
    df, path, layer = t.frame, t.path, t.layer
    ok = io.require_columns(df, ["id", "floor_area_m2", "retrofit_cost"], path, problems, layer=layer)
    if not ok:  # still check the columns that are there
        for col in ("floor_area_m2", "retrofit_cost"):
            if col in df.columns:
                io.numeric(df, col, path, minimum=0, positive=True, problems=problems, ids=t.id_column(),
                           layer=layer)
        if "id" in df.columns:
            io.ids(df, path, problems, layer=layer)
        return None
    ids = t.id_column()
    s_ids = io.ids(df, path, problems, layer=layer)
    area_unit = t.units.get("floor_area_m2", "m²")
    cost_unit = t.units.get("retrofit_cost", "元")
    area = io.numeric(df, "floor_area_m2", path, minimum=0, positive=True, problems=problems, ids=ids, layer=layer,
                      what=f"the usable floor area (in {area_unit})",
                      fix="a site without floor area can host nothing: give its usable area, or remove it")
    cost = io.numeric(df, "retrofit_cost", path, minimum=0, positive=True, problems=problems, ids=ids, layer=layer,
                      what=f"the retrofit cost (in {cost_unit})",
                      fix="a conversion that costs nothing is almost always a blank exported as 0: "
                          "give the retrofit cost")
    area = converted(t, "floor_area_m2", area, notes)
    cost = converted(t, "retrofit_cost", cost, notes)
    for values, col, limit, unit in ((area, "floor_area_m2", MAX_FLOOR_AREA_M2, "m²"),
                                     (cost, "retrofit_cost", MAX_RETROFIT_COST, "yuan")):
        high = np.flatnonzero(np.isfinite(values) & (values > limit))
        if high.size:
            problems.append(DataError(
                f"{t.place(col)}, {rows_text(high, ids)}: value {values[high[0]]:,.0f} {unit} is implausibly large "
                f"(more than {limit:,.0f}); check the unit and the decimal point"))
    fine = np.isfinite(area) & np.isfinite(cost) & (area <= MAX_FLOOR_AREA_M2) & (cost <= MAX_RETROFIT_COST)
    problems += cost_per_m2_problems(np.where(fine, cost, np.nan), np.where(fine, area, np.nan),
                                     place=t.place("retrofit_cost"), ids=ids, unit=cost_unit)
    labels = io.text_column(df, "name", default=s_ids)
    kinds = io.text_column(df, "kind")
    allowed = allowed_matrix(t, catalogue.service_keys, names, problems, notes)
    return s_ids, labels, kinds, area, cost, allowed


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


__all__ = ["MAX_FLOOR_AREA_M2", "MAX_RESIDENTS_PER_POINT", "MAX_RETROFIT_COST", "allowed_matrix", "check_population",
           "converted", "demand_columns", "existing_columns", "site_columns"]
