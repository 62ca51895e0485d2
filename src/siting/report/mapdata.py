"""Plain data for the report's interactive map: points, plans, reach areas, streets, in lon/lat.

The map is drawn by Leaflet in the browser from one JSON document embedded in the page
(:func:`map_json` escapes it so that no data string can close the script element). There is
no basemap (no tile server offline): the district's streets, or its outline, are drawn as
vector layers instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from pyproj import Transformer
from scipy import sparse

from siting.coverage import Coverage
from siting.data.catalogue import Catalogue
from siting.data.district import District
from siting.pipeline.plan import Plan

REACH_BUFFER_M = 25.0


def _lonlat(crs: str) -> Transformer:
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def _latlon(tx: Transformer, xy: np.ndarray, digits: int = 6) -> list[list[float]]:
    if len(xy) == 0:
        return []
    lon, lat = tx.transform(xy[:, 0], xy[:, 1])
    out: list[list[float]] = np.column_stack([np.round(lat, digits), np.round(lon, digits)]).tolist()
    return out


def lonlat_transformer(crs: str) -> Transformer:
    """A transformer from the district's CRS to WGS84 longitude / latitude."""
    return _lonlat(crs)


def latlon(tx: Transformer, xy: np.ndarray, digits: int = 6) -> list[list[float]]:
    """Points in the district's metres as ``[lat, lon]`` pairs, rounded (Leaflet's order)."""
    return _latlon(tx, xy, digits)


def coverage_shares(coverage: Coverage, hosts: np.ndarray | None) -> dict[str, np.ndarray]:
    """Per demand point, the share of services it reaches, per age group and for all ages.

    For an age group: the services serving that group that reach the point, over the number
    of services serving it. For all ages: the same counts weighted by the point's residents
    of each group. ``hosts=None`` gives the baseline (existing facilities only).
    """
    covered = list(coverage.baseline) if hosts is None else coverage.covered(hosts)
    n, G = coverage.population.shape
    num = np.zeros((n, G))
    den = np.zeros(G)
    for (_s, g), cov in zip(coverage.pairs, covered, strict=True):
        num[:, g] += cov
        den[g] += 1
    share = np.divide(num, den[None, :], out=np.zeros_like(num), where=den[None, :] > 0)
    pop = coverage.population * (den[None, :] > 0)
    w_num = (num * coverage.population).sum(axis=1)
    w_den = (pop * den[None, :]).sum(axis=1)
    out = {"all": np.divide(w_num, w_den, out=np.zeros(n), where=w_den > 0)}
    for g, key in enumerate(coverage.group_keys):
        if den[g] > 0:
            out[key] = share[:, g]
    return out


def _reach_polygon(points: np.ndarray) -> np.ndarray:
    import shapely

    hull = shapely.convex_hull(shapely.multipoints(points)).buffer(REACH_BUFFER_M, quad_segs=4)
    return np.asarray(hull.exterior.coords)


def plan_layer(name: str, plan: Plan, district: District, coverage: Coverage, catalogue: Catalogue,
               tx: Transformer, reach_csc: Sequence[sparse.csc_matrix]) -> dict[str, Any]:
    """Chosen sites with their services, and each service's reach area, of one plan."""
    sites = district.sites
    sites_out = []
    reach_out = []
    used = np.flatnonzero(plan.hosts.any(axis=1))
    latlon = _latlon(tx, sites.xy[used])
    cost = plan.assignments.groupby("site_id")["cost"].sum()
    for k, j in enumerate(used):
        services = []
        for s in np.flatnonzero(plan.hosts[j]):
            svc = catalogue.services[s]
            services.append({"key": svc.key, "zh": svc.name_zh, "en": svc.name_en})
            # the reach of the service for its slowest age group: everyone inside reaches it
            cand = [p for p, (ps, _g) in enumerate(coverage.pairs) if ps == s]
            if not cand:
                continue
            p = min(cand, key=lambda q: coverage.limit_m[q])
            col = reach_csc[p]
            rows = col.indices[col.indptr[j]:col.indptr[j + 1]]
            pts = np.vstack([district.demand.xy[rows], sites.xy[j:j + 1]])
            group = catalogue.age_groups[coverage.pairs[p][1]]
            reach_out.append({"site": str(sites.ids[j]), "service": f"{svc.name_zh} {svc.name_en}",
                              "group": f"{group.name_zh} {group.name_en}",
                              "limit": svc.limit_text, "reach_m": round(float(coverage.limit_m[p]), 1),
                              "polygon": _latlon(tx, _reach_polygon(pts), 5)})
        sites_out.append({"id": str(sites.ids[j]), "name": str(sites.names[j]), "kind": str(sites.kinds[j]),
                          "lat": latlon[k][0], "lon": latlon[k][1], "services": services,
                          "cost": round(float(cost.get(str(sites.ids[j]), 0.0)), 0)})
    return {"name": name, "sites": sites_out, "reach": reach_out}


def map_data(district: District, coverage: Coverage, catalogue: Catalogue,
             plans: Sequence[tuple[str, Plan]], *, streets: np.ndarray | None = None,
             plan_coverages: Sequence[Coverage] | None = None, synthetic: bool = False) -> dict[str, Any]:
    """Everything the interactive map draws, as plain JSON-able data.

    Parameters
    ----------
    district, coverage, catalogue
        The prepared district.
    plans
        ``(name, plan)`` pairs; the first one colours the demand points.
    streets
        Street segments in the district's metres, shape (k, 2, 2), or ``None`` (then the
        district's outline is drawn).
    plan_coverages
        Coverage of each plan's own scenario (for its reach areas), default ``coverage``.

    Raises
    ------
    ValueError
        When the district has no coordinates (see :attr:`District.located`): callers show a note.
    """
    import shapely

    if district.crs is None:
        raise ValueError("map_data needs a district with coordinates (District.located)")
    tx = _lonlat(district.crs)
    dxy = district.demand.xy
    all_xy = np.vstack([dxy, district.sites.xy, district.existing.xy]) if len(dxy) else district.sites.xy
    lo, hi = all_xy.min(axis=0), all_xy.max(axis=0)
    bounds = _latlon(tx, np.array([lo - 50.0, hi + 50.0]))
    outline = shapely.convex_hull(shapely.multipoints(all_xy)).buffer(60.0, quad_segs=4)
    street_lines = []
    if streets is not None and len(streets):
        a = _latlon(tx, streets[:, 0, :], 6)
        b = _latlon(tx, streets[:, 1, :], 6)
        street_lines = [[p, q] for p, q in zip(a, b, strict=True)]
    groups = [{"key": "all", "label": "所有年龄 All ages"}]
    groups += [{"key": g.key, "label": f"{g.name_zh} {g.name_en}"} for g in catalogue.age_groups
               if any(catalogue.group_keys[pg] == g.key for _s, pg in coverage.pairs)]
    main = plans[0][1] if plans else None
    after = coverage_shares(coverage, main.hosts if main is not None else None)
    before = coverage_shares(coverage, None)
    covs = list(plan_coverages) if plan_coverages is not None else [coverage] * len(plans)
    csc: dict[int, list[sparse.csc_matrix]] = {}
    for c in covs:
        csc.setdefault(id(c), [r.tocsc() for r in c.reach])
    demand_ll = _latlon(tx, dxy)
    return {
        "synthetic": synthetic,
        "bounds": bounds,
        "outline": _latlon(tx, np.asarray(outline.exterior.coords), 5),
        "streets": street_lines,
        "groups": groups,
        "demand": {
            "id": [str(i) for i in district.demand.ids],
            "lat": [p[0] for p in demand_ll], "lon": [p[1] for p in demand_ll],
            "residents": np.round(coverage.population.sum(axis=1)).astype(int).tolist(),
            "after": {k: np.round(v, 3).tolist() for k, v in after.items()},
            "before": np.round(before["all"], 3).tolist(),
        },
        "candidates": [{"id": str(i), "name": str(n), "lat": ll[0], "lon": ll[1]} for i, n, ll in
                       zip(district.sites.ids, district.sites.names, _latlon(tx, district.sites.xy), strict=True)],
        "existing": [{"id": str(i), "name": str(n), "service": catalogue.services[s].label if s >= 0 else "",
                      "lat": ll[0], "lon": ll[1]} for i, n, s, ll in
                     zip(district.existing.ids, district.existing.names, district.existing.service,
                         _latlon(tx, district.existing.xy), strict=True)],
        "plans": [plan_layer(name, plan, district, c, catalogue, tx, csc[id(c)])
                  for (name, plan), c in zip(plans, covs, strict=True)],
    }


def map_json(data: dict[str, Any]) -> str:
    """JSON safe to place inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e``, ``\\u0026`` (and the line
    separators U+2028/9 escaped), so no data string can end the script element or open a
    comment; ``JSON.parse`` reads them back unchanged.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


#: What the reports say instead of a map when the tables have no coordinates.
NO_MAP_NOTE = ("No map: the tables have no coordinates (the walking costs come from the cost matrix); give "
               "demand, sites and existing facilities lon/lat or x/y columns to draw one.")


__all__ = ["NO_MAP_NOTE", "coverage_shares", "latlon", "lonlat_transformer", "map_data", "map_json", "plan_layer"]
