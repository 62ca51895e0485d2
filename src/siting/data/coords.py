"""Chinese web-map coordinates (GCJ-02, BD-09) to WGS84, and the UTM zone of a place.

Maps and points of interest from Chinese web services come in GCJ-02 (the national
"offset" datum used by AutoNavi/Gaode and Tencent) or BD-09 (Baidu, a further offset of
GCJ-02). Both shift points by a few hundred metres from their WGS84 position, enough to put
a building on the wrong side of a street, so ``siting`` converts them to WGS84 before
projecting to metres.

The forward transforms are the published public algorithms; their inverses have no closed
form and are solved here by fixed-point iteration to well below a millimetre. Outside
mainland China GCJ-02 applies no offset (the usual rectangular test), so points abroad pass
through unchanged.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

CoordinateSystem = Literal["wgs84", "gcj02", "bd09"]
COORDINATE_SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # semi-major axis of the Krasovsky ellipsoid, used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0  # BD-09's angular constant
_TOLERANCE_DEG = 1e-12  # about 0.1 micrometre
_MAX_ITERATIONS = 30


def _as_arrays(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def out_of_china(lon: np.ndarray | float, lat: np.ndarray | float) -> np.ndarray:
    """Where GCJ-02 applies no offset: outside the rectangle 72.004–137.8347 E, 0.8293–55.8271 N."""
    x, y = _as_arrays(lon, lat)
    return np.asarray((x < 72.004) | (x > 137.8347) | (y < 0.8293) | (y > 55.8271))


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 minus WGS84, in degrees, at a WGS84 position."""
    x = lon - 105.0
    y = lat - 35.0
    sq = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * np.pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 → GCJ-02 (the published forward algorithm)."""
    x, y = _as_arrays(lon, lat)
    dlon, dlat = _offset(x, y)
    return x + dlon, y + dlat


def gcj02_to_wgs84(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS84, the exact inverse of :func:`wgs84_to_gcj02`.

    Solves ``wgs84_to_gcj02(w) = g`` for ``w`` by the fixed-point iteration
    ``w ← w − (wgs84_to_gcj02(w) − g)``, which converges because the offset changes by less
    than a thousandth of a degree per degree; it stops when every point moved by less than
    1e-12 degrees.
    """
    gx, gy = _as_arrays(lon, lat)
    wx, wy = gx.copy(), gy.copy()
    for _ in range(_MAX_ITERATIONS):
        fx, fy = wgs84_to_gcj02(wx, wy)
        ex, ey = fx - gx, fy - gy
        wx, wy = wx - ex, wy - ey
        if float(np.max(np.abs(ex), initial=0.0)) < _TOLERANCE_DEG and \
                float(np.max(np.abs(ey), initial=0.0)) < _TOLERANCE_DEG:
            break
    return wx, wy


def gcj02_to_bd09(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → BD-09 (the published forward algorithm)."""
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → GCJ-02, the exact inverse of :func:`gcj02_to_bd09` (fixed-point iteration)."""
    bx, by = _as_arrays(lon, lat)
    # the usual closed-form approximation as the starting point
    x, y = bx - 0.0065, by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    gx, gy = z * np.cos(theta), z * np.sin(theta)
    for _ in range(_MAX_ITERATIONS):
        fx, fy = gcj02_to_bd09(gx, gy)
        ex, ey = fx - bx, fy - by
        gx, gy = gx - ex, gy - ey
        if float(np.max(np.abs(ex), initial=0.0)) < _TOLERANCE_DEG and \
                float(np.max(np.abs(ey), initial=0.0)) < _TOLERANCE_DEG:
            break
    return gx, gy


def bd09_to_wgs84(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → WGS84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: np.ndarray | float, lat: np.ndarray | float,
             system: str) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes given in ``system`` (wgs84, gcj02, bd09) as WGS84.

    Raises
    ------
    ValueError
        For an unknown coordinate system.
    """
    if system == "wgs84":
        return _as_arrays(lon, lat)
    if system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise ValueError(f"unknown coordinate system {system!r}; use one of {COORDINATE_SYSTEMS}")


def utm_epsg(lon: np.ndarray | float, lat: np.ndarray | float) -> int:
    """EPSG code of the WGS84 / UTM zone holding the mean of the points (32648 for Chongqing)."""
    x, y = _as_arrays(lon, lat)
    mx, my = float(np.mean(x)), float(np.mean(y))
    zone = int(np.floor((mx + 180.0) / 6.0)) % 60 + 1
    return (32600 if my >= 0 else 32700) + zone
