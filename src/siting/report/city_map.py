"""The interactive map of a city report: the same Leaflet map as ``siting run``'s, with circles as layers.

The payload has the shape of :func:`siting.report.mapdata.map_data` (buildings coloured by the
share of their residents' service needs within reach, idle sites, existing facilities,
converted sites as layers) plus ``circles``: each life circle's outline, name, theme, first
phase and whether it is a pilot — one layer of outlines and one layer per theme. For a city in
phases, the converted sites are one layer per phase (the sites that phase converts or adds
services to) and the buildings' colours one base layer per phase (within reach by the end of
it). No reach areas: a city's circles are prepared on workers and their coverage stays there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely

from siting.city.files import Circles
from siting.data.catalogue import Catalogue
from siting.data.district import District
from siting.errors import SitingError
from siting.report.charts import PALETTE
from siting.report.mapdata import latlon as _latlon
from siting.report.mapdata import lonlat_transformer as _lonlat

#: Colour of each built-in theme on the map (own themes take the palette's colours in turn).
THEME_COLOURS = {"comprehensive": "#1f4e9c", "kangyang": "#c2255c", "jinrong": "#e67700", "chanye": "#5c5f66",
                 "wenti": "#2f9e44", "chuangye": "#7048e8", "yinling": "#0c8599"}


def _district_lonlat(district: District) -> Any:
    """The district's transformer to lon/lat (a city is split by circle outlines, so it always has a CRS)."""
    if district.crs is None:
        raise SitingError("a city's map needs coordinates: give the city's tables lon/lat or x/y columns")
    return _lonlat(district.crs)


def site_layer(name: str, assignments: pd.DataFrame, district: District, catalogue: Catalogue, *,
               show: bool = False) -> dict[str, Any]:
    """A layer of converted sites from assignment rows (``site_id``, ``service``, ``cost``)."""
    tx = _district_lonlat(district)
    index = {str(sid): j for j, sid in enumerate(district.sites.ids)}
    out = []
    rows = assignments[assignments["service"].astype(str) != ""] if len(assignments) else assignments
    for sid, group in (rows.groupby("site_id", sort=True) if len(rows) else []):
        j = index[str(sid)]
        lat, lon = _latlon(tx, district.sites.xy[j:j + 1])[0]
        services = [{"key": str(k), "zh": catalogue.service(str(k)).name_zh, "en": catalogue.service(str(k)).name_en}
                    for k in group["service"]]
        out.append({"id": str(sid), "name": str(district.sites.names[j]), "kind": str(district.sites.kinds[j]),
                    "lat": lat, "lon": lon, "services": services, "cost": round(float(group["cost"].sum()), 0)})
    return {"name": name, "sites": out, "reach": [], "show": show}


def circle_entries(circles: Circles, district: District, info: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The circles' outlines (lat/lon) with their name, theme, first phase and pilot flag.

    ``info`` has one mapping per circle, in circle order: ``theme`` (label, ``""`` without),
    ``theme_key``, ``phase`` (``""``: from the first), ``pilot``.
    """
    tx = _district_lonlat(district)
    own = [c for c in dict.fromkeys(str(i.get("theme_key", "")) for i in info) if c and c not in THEME_COLOURS]
    colours = {**THEME_COLOURS, **{k: PALETTE[n % len(PALETTE)] for n, k in enumerate(own)}}
    out = []
    for c, cid in enumerate(circles.ids):
        ring = circles.outlines[c] if c < len(circles.outlines) else np.zeros((0, 2))
        if len(ring) < 3:
            continue
        inner = shapely.Polygon(ring).representative_point()
        meta = info[c] if c < len(info) else {}
        out.append({"name": str(cid), "theme": str(meta.get("theme", "")), "phase": str(meta.get("phase", "")),
                    "pilot": bool(meta.get("pilot", False)),
                    "colour": colours.get(str(meta.get("theme_key", "")), "#868e96"),
                    "polygon": _latlon(tx, np.asarray(ring), 5),
                    "label_at": _latlon(tx, np.array([[inner.x, inner.y]]))[0]})
    return out


def city_map_payload(district: District, catalogue: Catalogue, circles: Circles, *, shares: dict[str, np.ndarray],
                     before: np.ndarray, layers: Sequence[dict[str, Any]], info: Sequence[dict[str, Any]],
                     synthetic: bool, base_label: str = "after the plan: ") -> dict[str, Any]:
    """Everything the city's interactive map draws, as plain JSON-able data (module docstring).

    Parameters
    ----------
    district, catalogue, circles
        The city's data and its split.
    shares
        Base layer label → share of needs within reach per residential building (``nan``
        outside every plan: drawn as 0), in the city's demand order.
    before
        The same before any plan.
    layers
        Converted-site layers (:func:`site_layer`), the first shown.
    info
        Per circle: its theme, first phase, pilot flag (:func:`circle_entries`).
    synthetic
        The data are synthetic (the legend says so).
    base_label
        Prefix of the base layers' names.
    """
    tx = _district_lonlat(district)
    dxy = district.demand.xy
    all_xy = np.vstack([dxy, district.sites.xy, district.existing.xy]) if len(district.existing) else \
        np.vstack([dxy, district.sites.xy])
    lo, hi = all_xy.min(axis=0), all_xy.max(axis=0)
    outline = shapely.convex_hull(shapely.multipoints(all_xy)).buffer(60.0, quad_segs=4)
    demand_ll = _latlon(tx, dxy)
    keys = [f"k{i}" for i in range(len(shares))]
    return {
        "synthetic": synthetic,
        "bounds": _latlon(tx, np.array([lo - 50.0, hi + 50.0])),
        "outline": _latlon(tx, np.asarray(outline.exterior.coords), 5),
        "streets": [],
        "base_label": base_label,
        "groups": [{"key": k, "label": label} for k, label in zip(keys, shares, strict=True)],
        "demand": {
            "id": [str(i) for i in district.demand.ids],
            "lat": [p[0] for p in demand_ll], "lon": [p[1] for p in demand_ll],
            "residents": np.round(district.demand.population.sum(axis=1)).astype(int).tolist(),
            "after": {k: np.round(np.nan_to_num(v), 3).tolist() for k, v in zip(keys, shares.values(), strict=True)},
            "before": np.round(np.nan_to_num(before), 3).tolist(),
        },
        "candidates": [{"id": str(i), "name": str(n), "lat": ll[0], "lon": ll[1]} for i, n, ll in
                       zip(district.sites.ids, district.sites.names, _latlon(tx, district.sites.xy), strict=True)],
        "existing": [{"id": str(i), "name": str(n), "service": catalogue.services[s].label if s >= 0 else "",
                      "lat": ll[0], "lon": ll[1]} for i, n, s, ll in
                     zip(district.existing.ids, district.existing.names, district.existing.service,
                         _latlon(tx, district.existing.xy), strict=True)],
        "circles": circle_entries(circles, district, info),
        "plans": list(layers),
    }


__all__ = ["THEME_COLOURS", "circle_entries", "city_map_payload", "site_layer"]
