"""Census by community, spread onto residential buildings (dasymetric mapping).

A census table gives residents per community (社区) — one column per age group, or a total
split by the catalogue's census shares — and no coordinates. :func:`spread_census` joins it to
the buildings of ``data.demand`` by their ``community`` column, or by the community polygons
of ``data.census.areas`` the buildings stand in, and spreads each community's residents over
its buildings in proportion to their floor area (``floor_area_m2``) or households
(``households``)::

    residents[b, g] = census[c(b), g] × w[b] / Σ_{b' in c(b)} w[b']

Nothing is lost and nothing guessed silently: a community of the census without buildings, a
building in no community of the census, or a building outside every polygon is a problem
naming the rows; the note gives the totals before and after the spread, per age group.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.data import readers as io
from siting.data.catalogue import Catalogue
from siting.data.scenario import CensusTable, Table
from siting.errors import DataError, SitingError, rows_text, where


@dataclass(frozen=True)
class Spread:
    """Residents per building from the census.

    Attributes
    ----------
    population
        Residents per building and age group, shape (n, groups), catalogue order.
    community
        The community of every building.
    """

    population: np.ndarray
    community: np.ndarray


def group_columns(catalogue: Catalogue) -> dict[str, tuple[str, ...]]:
    """Header names of each age group's population column: its Chinese and English names and ages."""
    out: dict[str, tuple[str, ...]] = {}
    for g in catalogue.age_groups:
        ages = g.ages.replace("-", "–")
        names = [g.name_zh, g.name_en, g.ages, ages, f"{ages}岁", f"{g.ages}岁"]
        if g.ages.endswith("+"):
            names += [f"{g.ages[:-1]}岁及以上", f"{g.ages[:-1]}岁以上"]
        out[g.key] = tuple(n for n in names if n)
    return out


def census_counts(table: io.PointTable, catalogue: Catalogue, problems: list[SitingError],
                  notes: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Communities and their residents per age group, from the census table."""
    df = table.frame
    groups = catalogue.group_keys
    if not io.require_columns(df, ["community"], table.path, problems, layer=table.layer):
        return None
    names = io.text_column(df, "community")
    blank = np.flatnonzero(names == "")
    if blank.size:
        problems.append(DataError(f"{table.place('community')}, {rows_text(blank)}: empty community; name each one"))
    dup = pd.Series(names).duplicated(keep=False).to_numpy() & (names != "")
    if dup.any():
        problems.append(DataError(f"{table.place('community')}, {rows_text(np.flatnonzero(dup))}: community "
                                  f"{names[np.flatnonzero(dup)[0]]!r} is listed more than once; give one row per "
                                  f"community"))
    fix = "residents cannot be negative; correct the count"
    if all(g in df.columns for g in groups):
        counts = np.column_stack([io.numeric(df, g, table.path, minimum=0, problems=problems, layer=table.layer,
                                             what="a number of residents", fix=fix) for g in groups])
    elif "population" in df.columns:
        total = io.numeric(df, "population", table.path, minimum=0, problems=problems, layer=table.layer,
                           what="a number of residents", fix=fix)
        shares = np.array([catalogue.group(g).census_share or 0.0 for g in groups])
        if shares.sum() <= 0:
            problems.append(DataError(f"{table.place('population')}: only a total, and the age groups have no "
                                      f"census_share to split it; add a column per age group {list(groups)}"))
            return None
        shares = shares / shares.sum()
        counts = np.outer(total, shares)
        notes.append(f"{table.place('population')}: each community's total split by the catalogue's census shares "
                     f"(" + ", ".join(f"{g} {s:.2%}" for g, s in zip(groups, shares, strict=True)) + ")")
    else:
        problems.append(DataError(
            f"{table.place()}: no population columns; give one per age group {list(groups)} (or their Chinese "
            f"names), or a total 'population' (人口); the file has {list(df.columns)}"))
        return None
    return names, counts


def _areas_community(demand: io.PointTable, areas: Table, problems: list[SitingError],
                     notes: list[str]) -> np.ndarray | None:
    """The community of every building from the polygons it stands in."""
    read = io.read_vector(areas, role="census", problems=problems, notes=notes)
    if read is None or demand.points is None:
        return None
    polys, layer, _ = read
    place = where(areas.path, layer=layer)
    if polys.crs is None:
        problems.append(DataError(f"{place}: the community areas have no CRS; set one in the file"))
        return None
    if not io.require_columns(polys, ["community"], areas.path, problems, layer=layer):
        return None
    pts = gpd.GeoDataFrame(geometry=demand.points.to_crs(polys.crs).to_numpy(), crs=polys.crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joined = gpd.sjoin(pts, polys[["community", polys.geometry.name]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")].sort_index()
    community: np.ndarray = joined["community"].astype("string").fillna("").str.strip().to_numpy(dtype=object)
    outside = np.flatnonzero(community == "")
    if outside.size:
        problems.append(DataError(
            f"{demand.place()}, {rows_text(outside, demand.id_column())}: {outside.size} building(s) lie in no "
            f"community area of {areas.path.name}; their residents cannot be counted — correct their coordinates "
            f"or the areas"))
    notes.append(f"{demand.place()}: every building joined to the community area of {areas.path.name} it stands in")
    return community


def spread_census(demand: io.PointTable, census: io.PointTable, spec: CensusTable, catalogue: Catalogue,
                  problems: list[SitingError], notes: list[str]) -> Spread | None:
    """Spread the census onto the buildings (see the module docstring).

    Parameters
    ----------
    demand
        The residential buildings: ``community`` (unless ``spec.areas`` is given) and
        ``floor_area_m2`` or ``households``.
    census
        The census table, read without coordinates.
    spec
        The scenario's ``data.census``: ``spread`` (floor_area or households) and ``areas``.
    catalogue
        The age groups.
    problems, notes
        Problems and the note with the totals are appended here.
    """
    start = len(problems)
    counts = census_counts(census, catalogue, problems, notes)
    weight_col = "floor_area_m2" if spec.spread == "floor_area" else "households"
    df = demand.frame
    have_groups = [g for g in catalogue.group_keys if g in df.columns] + (["population"] if "population" in df else [])
    if have_groups:
        problems.append(DataError(
            f"{demand.place(have_groups[0])}: the buildings have population columns {have_groups} and a census is "
            f"given too; give the residents once — remove data.census, or the population columns"))
        return None
    if spec.areas is not None:
        areas = spec.areas if isinstance(spec.areas, Table) else Table(path=spec.areas)
        community = _areas_community(demand, areas, problems, notes)
    elif "community" in df.columns:
        community = io.text_column(df, "community")
    else:
        problems.append(DataError(
            f"{demand.place('community')}: the census is by community, and the buildings have no community column; "
            f"add one (社区) or give the community polygons: data.census: {{path: {census.path.name}, areas: "
            f"<communities file>}}"))
        community = None
    if not io.require_columns(df, [weight_col], demand.path, problems, layer=demand.layer):
        return None
    w = io.numeric(df, weight_col, demand.path, minimum=0, problems=problems, ids=demand.id_column(),
                   layer=demand.layer, what=f"the building's {weight_col.replace('_m2', '')}")
    if counts is None or community is None:
        return None
    names, table = counts
    index = {n: i for i, n in enumerate(names)}
    c_of = np.array([index.get(c, -1) for c in community], dtype=np.int64)
    blank = np.flatnonzero(community == "")
    if blank.size and spec.areas is None:
        problems.append(DataError(f"{demand.place('community')}, {rows_text(blank, demand.id_column())}: empty "
                                  f"community; name the community of every building"))
    missing = np.flatnonzero((c_of < 0) & (community != ""))
    for name in sorted(set(community[missing])):
        rows = missing[community[missing] == name]
        close = difflib.get_close_matches(str(name), [str(n) for n in names], n=3, cutoff=0.5)
        hint = f" (closest: {', '.join(close)})" if close else ""
        problems.append(DataError(
            f"{demand.place('community')}, {rows_text(rows, demand.id_column())}: community {name!r} is not in the "
            f"census {census.path.name}{hint}; its buildings would get no residents — add it to the census or "
            f"correct the name"))
    k = len(names)
    known = c_of >= 0
    w_known = np.where(known & np.isfinite(w), w, 0.0)
    total_w = np.bincount(c_of[known], weights=w_known[known], minlength=k)
    empty = np.flatnonzero((total_w <= 0) & (np.nan_to_num(table).sum(axis=1) > 0))
    if empty.size:
        lost = np.nan_to_num(table[empty]).sum()
        problems.append(DataError(
            f"{census.place('community')}, {rows_text(empty)}: {len(empty)} communit(ies) "
            f"({', '.join(names[empty][:5])}) have {lost:,.0f} residents but no building with {weight_col} in "
            f"{demand.path.name}; they would be lost — add their buildings, or correct the names"))
    if len(problems) > start or not np.isfinite(w).all() or not np.isfinite(table).all():
        return None
    share = w / total_w[c_of]
    population = table[c_of] * share[:, None]
    before, after = table.sum(axis=0), population.sum(axis=0)
    how = "floor area" if spec.spread == "floor_area" else "households"
    notes.append(
        f"{census.path.name}: {before.sum():,.0f} residents of {k} communities spread over {len(w)} buildings by "
        f"{how}; totals before {before.sum():,.0f} and after {after.sum():,.0f} ("
        + ", ".join(f"{g} {b:,.0f} → {a:,.0f}" for g, b, a in zip(catalogue.group_keys, before, after, strict=True))
        + ")")
    return Spread(population, community)


__all__ = ["Spread", "census_counts", "group_columns", "spread_census"]
