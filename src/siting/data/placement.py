"""Do a table's coordinates fit its CRS? And if not, what mistake would explain them?

:func:`check_placement` checks degrees against their range and every point against the
CRS's area of use; when points fall outside it, it looks for the usual mistakes of survey
tables and says which one fits:

* X and Y swapped — Chinese surveyors write X for the northing (北) and Y for the easting;
* Gauss–Krüger eastings with the zone number in front (``36364000`` is zone 36, easting
  364,000 m) — which EPSG code expects that prefix, and which one does not;
* longitude and latitude swapped, metres in degree columns, degrees in metre columns.

:func:`neighbour_zone_hint` handles the mistake no single table shows: coordinates of the
neighbouring 3-degree zone (Jiangbei lies across 106.5° E, the boundary between the zones of
central meridians 105° E, EPSG:4544, and 108° E, EPSG:4545), found when a table lands far
from the others and the neighbouring zone puts it among them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pyproj import CRS, Transformer

from siting.errors import DataError, SitingError, rows_text, where

#: Margin (degrees) around a CRS's area of use within which coordinates are still plausible.
AREA_OF_USE_MARGIN_DEG = 2.0
#: Half-width (degrees) of the area of a Transverse Mercator CRS that names none (a PROJ string).
TMERC_HALF_WIDTH_DEG = 3.0

# CGCS2000 Gauss–Krüger families in the EPSG registry: first code, first zone, zone width.
_GK3_PREFIXED = (4513, 25)   # 3-degree, zone 25..45, false easting with the zone number
_GK3_CM = (4534, 25)         # 3-degree, CM 75E..135E, false easting 500,000 m
_GK6_PREFIXED = (4491, 13)   # 6-degree, zone 13..23
_GK6_CM = (4502, 13)         # 6-degree, CM 75E..135E


def gauss_kruger_epsg(zone: int, *, prefixed: bool) -> int | None:
    """EPSG code of the CGCS2000 Gauss–Krüger zone (3-degree zones 25–45, 6-degree zones 13–23)."""
    if 25 <= zone <= 45:
        first, z0 = _GK3_PREFIXED if prefixed else _GK3_CM
    elif 13 <= zone <= 23:
        first, z0 = _GK6_PREFIXED if prefixed else _GK6_CM
    else:
        return None
    return first + zone - z0


def _gauss_kruger_zone(crs: CRS) -> tuple[int, int, bool] | None:
    """(zone, width in degrees, prefixed) of a CGCS2000 Gauss–Krüger CRS, else ``None``."""
    code = crs.to_epsg()
    if code is None:
        return None
    for (first, z0), width, prefixed in ((_GK3_PREFIXED, 3, True), (_GK3_CM, 3, False),
                                         (_GK6_PREFIXED, 6, True), (_GK6_CM, 6, False)):
        last = first + (21 if width == 3 else 11) - 1
        if first <= code <= last:
            return z0 + code - first, width, prefixed
    return None


def _name(code: int) -> str:
    return f"EPSG:{code} ({CRS.from_epsg(code).name})"


def _area(crs: CRS) -> tuple[float, float, float, float, float] | None:
    """(west, south, east, north, margin) where the CRS is used: its area of use, or around the
    central meridian of a Transverse Mercator CRS that names none."""
    area = crs.area_of_use
    if area is not None:
        return area.west, area.south, area.east, area.north, AREA_OF_USE_MARGIN_DEG
    op = crs.coordinate_operation
    if crs.is_projected and op is not None and "transverse mercator" in op.method_name.lower():
        for p in op.params:
            if "longitude of natural origin" in p.name.lower():
                lon0 = float(p.value)
                return lon0 - TMERC_HALF_WIDTH_DEG, -84.0, lon0 + TMERC_HALF_WIDTH_DEG, 84.0, 0.0
    return None


def to_lonlat(x: np.ndarray, y: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of a CRS as longitudes and latitudes (``nan`` where they do not transform)."""
    if crs.is_geographic:
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    tx = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    with np.errstate(all="ignore"):
        lon, lat = tx.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _inside(x: np.ndarray, y: np.ndarray, crs: CRS) -> np.ndarray:
    """Which points lie within the CRS's area (with its margin); all of them when it has none."""
    box = _area(crs)
    if box is None:
        return np.ones(x.shape, dtype=bool)
    west, south, east, north, m = box
    lon, lat = to_lonlat(x, y, crs)
    w, e = west - m, east + m
    lon_ok = (lon >= w) & (lon <= e) if w <= e else (lon >= w) | (lon <= e)  # across 180°
    return np.asarray(np.isfinite(lon) & np.isfinite(lat) & lon_ok & (lat >= south - m) & (lat <= north + m))


def _zone_prefix_hint(x: np.ndarray, y: np.ndarray, crs: CRS, cols: tuple[str, str]) -> str:
    """Eastings with the Gauss–Krüger zone number in front, or a prefixed CRS given plain eastings."""
    for east, north, swapped in ((x, y, False), (y, x, True)):
        med = float(np.median(east))
        if not 1e7 <= med < 1e8:
            continue
        zone = int(med // 1e6)
        prefixed, plain = gauss_kruger_epsg(zone, prefixed=True), gauss_kruger_epsg(zone, prefixed=False)
        if prefixed is None or plain is None or not _inside(east, north, CRS.from_epsg(prefixed)).all():
            continue
        order = (f"; also, X and Y look swapped (northing first, as surveyors write): the zone number is in "
                 f"'{cols[1]}'" if swapped else "")
        return (f" (the eastings carry the Gauss–Krüger zone number {zone} in front: {med:,.0f} is zone {zone}, "
                f"easting {med - zone * 1e6:,.0f} m; that is {_name(prefixed)}, so set crs: EPSG:{prefixed}, or "
                f"subtract {zone * 1e6:,.0f} from the eastings and use {_name(plain)}{order})")
    info = _gauss_kruger_zone(crs)
    if info is not None and info[2]:
        zone = info[0]
        plain = gauss_kruger_epsg(zone, prefixed=False)
        if plain is not None and _inside(x, y, CRS.from_epsg(plain)).all():
            return (f" ({crs.to_string()} expects eastings with the zone number {zone} in front, and these have "
                    f"none: use {_name(plain)})")
    return ""


def _hint(x: np.ndarray, y: np.ndarray, crs: CRS, cols: tuple[str, str]) -> str:
    """The likeliest mistake behind points outside the CRS's area, or ''."""
    prefix = _zone_prefix_hint(x, y, crs, cols)
    if prefix:
        return prefix
    if _inside(y, x, crs).all():
        if crs.is_geographic:
            return " (longitude and latitude look swapped)"
        return (f" (X and Y look swapped: '{cols[0]}' holds northings, as surveyors write X for north; swap the "
                f"two columns, or map them in the scenario: columns: {{X坐标: y, Y坐标: x}})")
    return ""


def check_placement(x: np.ndarray, y: np.ndarray, crs: CRS, path: Path, layer: str | None, cols: tuple[str, str],
                    ids: np.ndarray | None, problems: list[SitingError], *, field: str = "data.crs") -> bool:
    """Check that coordinates fit their CRS: degrees in range, within the CRS's area of use.

    Parameters
    ----------
    x, y
        The coordinates, in ``crs``.
    path, layer, cols, ids
        Where they come from: file, layer, coordinate columns and the rows' ids, for messages.
    problems
        A problem is appended when they do not fit, with the likely mistake.
    field
        The scenario field that sets this table's CRS, for messages.

    Returns
    -------
    bool
        True when they fit.
    """
    place = where(path, layer=layer, column=f"{cols[0]}/{cols[1]}")
    if x.size == 0:
        return True
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        bad = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
        problems.append(DataError(f"{place}, {rows_text(bad, ids)}: coordinates are not finite numbers; correct them"))
        return False
    if crs.is_geographic:
        bad = np.flatnonzero((np.abs(x) > 180) | (np.abs(y) > 90))
        if bad.size:
            i = int(bad[0])
            swapped = bool(np.all((np.abs(y[bad]) <= 180) & (np.abs(x[bad]) <= 90)))
            hint = " (longitude and latitude look swapped)" if swapped else ""
            if not swapped and np.all(np.abs(x[bad]) > 1000):
                hint = (" (these look like metres: use 'x'/'y' columns (X坐标/Y坐标) with the table's 'crs' or "
                        "'data.crs')")
            problems.append(DataError(
                f"{place}, {rows_text(bad, ids)}: ({x[i]:g}, {y[i]:g}) is outside the range of degrees{hint}; "
                f"give longitude in [-180, 180] and latitude in [-90, 90]"))
            return False
    elif np.all((np.abs(x) <= 180) & (np.abs(y) <= 90)):
        problems.append(DataError(
            f"{place}: every coordinate lies within ±180/±90, which looks like degrees, but the CRS "
            f"{crs.to_string()} is in metres; put degrees in 'lon'/'lat' columns (经度/纬度, or set the file's CRS "
            f"to EPSG:4326), or fix '{field}'"))
        return False
    box = _area(crs)
    if box is None:
        return True
    outside = ~_inside(x, y, crs)
    if outside.any():
        bad = np.flatnonzero(outside)
        i = int(bad[0])
        west, south, east, north, _ = box
        what = "is used" if crs.area_of_use is not None else "can be used (around its central meridian)"
        shown = f"({x[i]:g}, {y[i]:g})" if crs.is_geographic else f"({x[i]:,.0f}, {y[i]:,.0f})"
        problems.append(DataError(
            f"{place}, {rows_text(bad, ids)}: {shown} lies outside the area where "
            f"{crs.to_string()} ({crs.name}) {what} (longitude {west:g}..{east:g}, latitude {south:g}..{north:g})"
            f"{_hint(x[bad], y[bad], crs, cols)}; correct the coordinates or the CRS ('{field}')"))
        return False
    return True


def neighbour_zone_hint(x: np.ndarray, y: np.ndarray, crs: CRS, centre: tuple[float, float],
                        limit_m: float) -> str:
    """A neighbouring Gauss–Krüger (or UTM) zone that puts far points near ``centre`` (lon, lat), or ''.

    Parameters
    ----------
    x, y
        The far table's coordinates in ``crs``.
    crs
        The CRS the table was read in.
    centre
        Longitude and latitude of the middle of the other points.
    limit_m
        How near the middle the points must land.
    """
    from pyproj import Geod

    candidates: list[tuple[int, str]] = []
    info = _gauss_kruger_zone(crs)
    if info is not None:
        zone, width, prefixed = info
        for step in (-1, 1):
            code = gauss_kruger_epsg(zone + step, prefixed=prefixed)
            if code is None:
                continue
            cm = (zone + step) * width if width == 3 else (zone + step) * 6 - 3
            edge = (zone + step / 2) * width if width == 3 else (zone + step / 2) * 6 - 3
            candidates.append((code, f"the neighbouring {width}-degree zone, central meridian {cm}° E; the zones "
                                     f"meet at {edge:g}° E, near this district"))
    code = crs.to_epsg()
    if code is not None and (32601 <= code <= 32660 or 32701 <= code <= 32760):
        candidates += [(code + step, "the neighbouring UTM zone") for step in (-1, 1)]
    geod = Geod(ellps="WGS84")
    px, py = np.array([float(np.median(x))]), np.array([float(np.median(y))])
    for candidate, why in candidates:
        lon, lat = to_lonlat(px, py, CRS.from_epsg(candidate))
        if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
            continue
        dist = float(geod.inv(float(lon[0]), float(lat[0]), centre[0], centre[1])[2])
        if dist <= limit_m:
            return (f"; read in {_name(candidate)} ({why}) they land {dist / 1000:,.1f} km from the middle of "
                    f"the others: is that their CRS?")
    return ""


__all__ = ["AREA_OF_USE_MARGIN_DEG", "check_placement", "gauss_kruger_epsg", "neighbour_zone_hint", "to_lonlat"]
