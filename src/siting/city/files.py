"""City files and the split of a city into life circles.

A city file is a scenario file (same fields, ``extends:`` works) with two more sections::

    extends: ../scenarios/jiangbei-yubei.yaml   # or data: {...} like any scenario
    name: jiangbei-4-circles
    budget: 30000000            # the city-wide budget, shared by every circle
    circles:
      boundaries: subdistricts.gpkg   # polygons, one per life circle (optional)
      layer: subdistricts             # layer of a GeoPackage (optional)
      id_field: name                  # column naming each circle (default: C1, C2, ...)
      count: 4                        # without boundaries: this many clusters of residents
      population_per_circle: 50000    # without boundaries or count: residents per circle
      seed: 0                         # seed of the clustering
    pricing:
      gap: 0.005                      # stop the price search at this relative gap
      max_rounds: 25                  # at most this many rounds of circle solves

A city file with ``phases:``, ``circles.settings`` (a theme, money and phase per circle) or
``themes:`` is a "1+6+N" city planned in phases (:mod:`siting.city.themes`,
:mod:`siting.city.phased`): each circle plans with its own money, and ``pricing`` is not used.

Paths under ``circles`` are relative to the city file. Without ``boundaries``, residential
buildings are grouped by a population-weighted k-means of their coordinates (k-means++
start drawn with ``seed``; the same file always gives the same circles); circles are
numbered from north-west to south-east. Candidate sites belong to the circle whose polygon
contains them (the nearest polygon when none does) or, without boundaries, to the circle
with the nearest centre. Existing facilities count for every circle, so a facility across
a circle's edge still covers the residents it reaches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy.spatial import cKDTree

from siting.city.themes import CircleSettings, Theme, theme_presets
from siting.data.district import District
from siting.data.scenario import Scenario, load_raw
from siting.errors import DataError, ScenarioError, where


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CircleOptions(_Strict):
    """How the city is split into life circles."""

    boundaries: Path | None = Field(default=None, description="Polygon layer, one polygon per life circle")
    layer: str | None = Field(default=None, description="Layer of the boundaries file, when it has several")
    id_field: str | None = Field(default=None, description="Column of the boundaries naming each circle")
    count: int | None = Field(default=None, ge=1, le=10_000, description="Number of circles (no boundaries)")
    population_per_circle: float = Field(default=50_000.0, gt=0, description="Residents per circle (no count)")
    seed: int = Field(default=0, ge=0, description="Seed of the k-means clustering")
    settings: dict[str, CircleSettings] = Field(
        default_factory=dict, description="Circle name -> its theme, money and phase (siting.city.themes)")


class PricingOptions(_Strict):
    """How the city-wide budget is shared among circles."""

    gap: float = Field(default=0.005, ge=0, lt=1, description="Stop at this relative gap to the bound")
    max_rounds: int = Field(default=25, ge=1, le=200, description="At most this many rounds of solves")


@dataclass(frozen=True)
class City:
    """A city file: the scenario for the whole city, how to split it, how to share the budget.

    ``themes`` holds every theme preset the file may name (built in and its own), by key and
    Chinese name.
    """

    scenario: Scenario
    circles: CircleOptions
    pricing: PricingOptions
    source: Path
    themes: dict[str, Theme] = field(default_factory=dict)
    own_themes: tuple[str, ...] = ()

    @property
    def phased(self) -> bool:
        """A "1+6+N" city in phases (phases, circle settings or own themes): :mod:`siting.city.phased`."""
        return bool(self.scenario.phases or self.circles.settings or self.own_themes)


def _validate(model: type[BaseModel], raw: Any, path: Path, prefix: str = "") -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join([prefix, *(str(p) for p in err["loc"])] if prefix else [str(p) for p in err["loc"]])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field; check its spelling (city files: scenario fields, circles, pricing)"
            elif err["type"] == "missing":
                msg = "required field is missing; add it"
            lines.append(f"{path}, field '{loc or '(top level)'}': {msg}")
        raise ScenarioError("\n".join(lines)) from None


def load_city(path: Path | str) -> City:
    """Load and validate a city file.

    Raises
    ------
    ScenarioError
        Naming the file and every field that is wrong.
    """
    path = Path(path).resolve()
    raw = load_raw(path)
    circles_raw = raw.pop("circles", None) or {}
    pricing_raw = raw.pop("pricing", None) or {}
    themes_raw = raw.pop("themes", None) or {}
    for name, value in (("circles", circles_raw), ("pricing", pricing_raw), ("themes", themes_raw)):
        if not isinstance(value, dict):
            raise ScenarioError(f"{path}, field '{name}': give a mapping of options (see siting.city.files)")
    if isinstance(circles_raw.get("boundaries"), str):
        circles_raw = {**circles_raw, "boundaries": str((path.parent / circles_raw["boundaries"]).resolve())}
    scenario = _validate(Scenario, raw, path).model_copy(update={"source": path})
    circles = _validate(CircleOptions, circles_raw, path, "circles")
    pricing = _validate(PricingOptions, pricing_raw, path, "pricing")
    if circles.boundaries is not None and circles.count is not None:
        raise ScenarioError(f"{path}, field 'circles': give either 'boundaries' or 'count', not both")
    city = City(scenario, circles, pricing, path, theme_presets(themes_raw, str(path)),
                tuple(str(k) for k in themes_raw))
    if not city.phased and scenario.objective.kind != "coverage":
        raise ScenarioError(f"{path}, field 'objective.kind': a city batch shares its budget by pricing coverage; "
                            f"'{scenario.objective.kind}' is not supported there; use kind 'coverage', or give "
                            f"the circles their own money (phases:, circles.settings: see docs/city.md)")
    return city


@dataclass(frozen=True)
class Circles:
    """The life circles of a city.

    Attributes
    ----------
    ids
        Circle names, in circle order.
    demand, sites
        Circle index of every demand point and every candidate site.
    centres
        A representative point per circle (metres), for maps.
    method
        How the circles were made, in words.
    notes
        What a planner should know (points outside every boundary, empty circles...).
    outlines
        Per circle, its outline in the district's metres (a closed ring, shape (k, 2)): the
        boundary polygon (the largest part of a multipolygon), or the hull of its buildings
        and sites; for maps.
    """

    ids: tuple[str, ...]
    demand: np.ndarray
    sites: np.ndarray
    centres: np.ndarray
    method: str
    notes: tuple[str, ...] = ()
    outlines: tuple[np.ndarray, ...] = ()

    def __len__(self) -> int:
        return len(self.ids)

    def members(self, of: str = "demand") -> list[np.ndarray]:
        """Per circle, the indices of its demand points (``of="demand"``) or sites (``of="sites"``), ascending."""
        labels = self.demand if of == "demand" else self.sites
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(len(self.ids) + 1))
        return [order[bounds[c]:bounds[c + 1]] for c in range(len(self.ids))]


def weighted_kmeans(xy: np.ndarray, weights: np.ndarray, k: int, *, seed: int,
                    max_iter: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Population-weighted k-means (Lloyd), k-means++ start; deterministic for a seed.

    Parameters
    ----------
    xy
        Coordinates, shape (n, 2).
    weights
        Non-negative weight per point (residents); all zero counts every point once.
    k
        Number of clusters (at most the number of distinct points).
    seed
        Seed of the k-means++ start.

    Returns
    -------
    labels, centres
        Cluster of every point, and the weighted centre of every cluster.
    """
    rng = np.random.default_rng(seed)
    w = np.asarray(weights, dtype=float)
    w = w if w.sum() > 0 else np.ones(len(xy))
    centres = np.empty((k, 2))
    centres[0] = xy[rng.choice(len(xy), p=w / w.sum())]
    d2 = ((xy - centres[0]) ** 2).sum(axis=1)
    for c in range(1, k):  # one draw per cluster, vectorised over points
        p = w * d2
        idx = rng.choice(len(xy), p=p / p.sum()) if p.sum() > 0 else int(np.argmax(d2))
        centres[c] = xy[idx]
        d2 = np.minimum(d2, ((xy - centres[c]) ** 2).sum(axis=1))
    labels = np.full(len(xy), -1)
    for _ in range(max_iter):
        new = cKDTree(centres).query(xy)[1]
        if np.array_equal(new, labels):
            break
        labels = new
        mass = np.bincount(labels, weights=w, minlength=k)
        sx = np.bincount(labels, weights=w * xy[:, 0], minlength=k)
        sy = np.bincount(labels, weights=w * xy[:, 1], minlength=k)
        filled = mass > 0
        centres[filled] = np.column_stack([sx[filled] / mass[filled], sy[filled] / mass[filled]])
    return labels, centres


def _order_north_west(centres: np.ndarray) -> np.ndarray:
    """Circle order: north to south (in 500 m bands), then west to east."""
    band = -np.floor(centres[:, 1] / 500.0)
    return np.lexsort((centres[:, 0], band))


def split_by_clusters(district: District, options: CircleOptions) -> Circles:
    """Circles from clusters of residents (no boundaries given)."""
    xy = district.demand.xy
    pop = district.demand.population.sum(axis=1)
    n_distinct = len(np.unique(xy, axis=0))
    k = options.count or max(1, round(float(pop.sum()) / options.population_per_circle))
    notes = []
    if k > n_distinct:
        notes.append(f"asked for {k} circles but there are only {n_distinct} distinct residential locations; "
                     f"made {n_distinct}")
        k = n_distinct
    labels, centres = weighted_kmeans(xy, pop, k, seed=options.seed)
    order = _order_north_west(centres)
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    centres = centres[order]
    width = len(str(k))
    ids = tuple(f"C{i + 1:0{width}d}" for i in range(k))
    sites = cKDTree(centres).query(district.sites.xy)[1] if len(district.sites) else np.zeros(0, dtype=np.int64)
    how = "count" if options.count else f"one per {options.population_per_circle:,.0f} residents"
    method = (f"{k} clusters of residential buildings ({how}): population-weighted k-means, seed {options.seed}; "
              f"sites join the circle with the nearest centre")
    site_of = np.asarray(sites, dtype=np.int64)
    outlines = tuple(_hull(np.vstack([xy[rank[labels] == c], district.sites.xy[site_of == c]])) for c in range(k))
    return Circles(ids, rank[labels], site_of, centres, method, tuple(notes), outlines)


def _hull(points: np.ndarray) -> np.ndarray:
    """The convex hull of points, 60 m wider, as a closed ring."""
    import shapely

    shape = shapely.convex_hull(shapely.multipoints(points)).buffer(60.0, quad_segs=4)
    return np.asarray(shape.exterior.coords)


def split_by_boundaries(district: District, options: CircleOptions, origin: Path) -> Circles:
    """Circles from a polygon layer (sub-district boundaries)."""
    import geopandas as gpd

    path = options.boundaries
    assert path is not None
    if not path.exists():
        raise DataError(f"{origin}, field 'circles.boundaries': file {path} not found; fix the path")
    try:
        polys = gpd.read_file(path, layer=options.layer) if options.layer else gpd.read_file(path)
    except Exception as e:  # pyogrio raises several types for unreadable files
        raise DataError(f"{path} cannot be read as a polygon layer: {e}") from None
    if polys.empty:
        raise DataError(f"{path} has no features; give one polygon per life circle")
    if polys.crs is None:
        raise DataError(f"{path} has no CRS; set one in the file (e.g. EPSG:4326)")
    bad = np.flatnonzero(~polys.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy())
    if bad.size:
        raise DataError(f"{where(path, 'geometry', int(bad[0]) + 1)}: a {polys.geom_type.iloc[bad[0]]}, "
                        f"not a polygon; give sub-district boundaries as polygons")
    if options.id_field is not None:
        if options.id_field not in polys.columns:
            raise DataError(f"{path}: no column '{options.id_field}' (circles.id_field); the layer has "
                            f"{[c for c in polys.columns if c != 'geometry']}")
        names = polys[options.id_field].astype("string").fillna("").str.strip()
        dup = names.duplicated() | (names == "")
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise DataError(f"{where(path, options.id_field, i + 1)}: name {names.iloc[i]!r} is empty or repeated; "
                            f"give every circle its own name")
        ids = tuple(str(v) for v in names)
    else:
        ids = tuple(f"C{i + 1:0{len(str(len(polys)))}d}" for i in range(len(polys)))
    polys = polys.to_crs(district.crs).reset_index(drop=True)
    notes: list[str] = []

    def locate(xy: np.ndarray, what: str) -> np.ndarray:
        if len(xy) == 0:
            return np.zeros(0, dtype=np.int64)
        pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=district.crs)
        hit = gpd.sjoin(pts, polys[["geometry"]], predicate="within", how="left")
        first = hit.groupby(level=0)["index_right"].min()  # overlapping polygons: the first one
        out = first.reindex(range(len(xy))).to_numpy(dtype=float, copy=True)
        outside = np.flatnonzero(np.isnan(out))
        if outside.size:
            near = gpd.sjoin_nearest(pts.iloc[outside], polys[["geometry"]], how="left")
            out[outside] = near.groupby(level=0)["index_right"].min().reindex(outside).to_numpy()
            notes.append(f"{outside.size} {what} lie outside every boundary of {path.name}; "
                         f"each joins the nearest circle")
        return np.asarray(out, dtype=np.int64)

    demand = locate(district.demand.xy, "residential buildings")
    sites = locate(district.sites.xy, "candidate sites")
    rep = polys.geometry.representative_point()
    centres = np.column_stack([rep.x.to_numpy(), rep.y.to_numpy()])
    method = f"{len(ids)} life circles from the polygons of {path.name}; buildings and sites by location"
    outlines = tuple(np.asarray((max(g.geoms, key=lambda part: part.area) if g.geom_type == "MultiPolygon"
                                 else g).exterior.coords)[:, :2] for g in polys.geometry)
    return Circles(ids, demand, sites, centres, method, tuple(notes), outlines)


def split_city(district: District, options: CircleOptions, origin: Path) -> Circles:
    """Split a city into life circles: by the given boundaries, else by clusters of residents."""
    if len(district.demand) == 0:
        raise DataError(f"{origin}: the demand file has no residential buildings to split into circles")
    if not district.located:
        raise DataError(f"{origin}: a city is split into life circles by where its buildings and sites are, and "
                        f"its tables have no coordinates; give demand, sites and existing facilities lon/lat or "
                        f"x/y columns")
    if options.boundaries is not None:
        return split_by_boundaries(district, options, origin)
    return split_by_clusters(district, options)


__all__ = ["CircleOptions", "Circles", "City", "PricingOptions", "load_city", "split_by_boundaries",
           "split_by_clusters", "split_city", "weighted_kmeans"]
