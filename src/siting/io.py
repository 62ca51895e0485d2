"""Read demand, site and existing-facility tables from the files a scenario names.

Tables come as CSV (coordinates in ``lon``/``lat`` or ``x``/``y`` columns) or as any vector
file GeoPandas reads (GeoPackage, GeoJSON, Shapefile; point geometries, or polygons whose
centroids are used). Each reader checks the columns it needs and returns a GeoDataFrame of
points with its CRS set; the :mod:`siting.district` stage projects them to metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.errors import DataError, SitingError, ValidationErrors, where

VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml"}


def read_points(path: Path, *, role: str, crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a table of points.

    Parameters
    ----------
    path
        CSV with ``lon``/``lat`` (WGS84 unless ``crs`` says otherwise) or ``x``/``y`` columns
        (``crs`` required), or a vector file with point or polygon geometries.
    role
        What the table holds (``demand``, ``sites``, ``existing``), for messages.
    crs
        CRS of CSV coordinates, e.g. ``EPSG:4326`` or ``EPSG:32648``.

    Returns
    -------
    geopandas.GeoDataFrame
        One point per row, CRS set, original columns kept.

    Raises
    ------
    DataError
        When the file is missing, empty, unreadable or has no usable coordinates.
    """
    if not path.exists():
        raise DataError(f"{role} file {path} not found; fix the path in the scenario's 'data.{role}'")
    if path.is_dir():
        raise DataError(f"{role} file {path} is a folder, not a file; name the file itself")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv_points(path, role=role, crs=crs)
    if suffix in VECTOR_SUFFIXES:
        return _read_vector_points(path, role=role)
    raise DataError(
        f"{role} file {path}: unsupported format '{suffix}'; use CSV, GeoPackage, GeoJSON or Shapefile"
    )


def _read_csv_points(path: Path, *, role: str, crs: str | None) -> gpd.GeoDataFrame:
    try:
        df = pd.read_csv(path, dtype={"id": str}, keep_default_na=True, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(f"{role} file {path} is empty; it needs a header row and data rows") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as e:
        raise DataError(f"{role} file {path} is not a readable UTF-8 CSV: {e}") from None
    if df.empty:
        raise DataError(f"{role} file {path} has a header but no data rows")
    df.columns = [str(c).strip() for c in df.columns]
    if {"lon", "lat"} <= set(df.columns):
        xcol, ycol, default_crs = "lon", "lat", "EPSG:4326"
    elif {"x", "y"} <= set(df.columns):
        xcol, ycol, default_crs = "x", "y", None
    else:
        raise DataError(
            f"{where(path, 'lon/lat')}: no coordinate columns; add 'lon' and 'lat' (WGS84 degrees) "
            f"or 'x' and 'y' with the scenario's 'data.crs'"
        )
    crs = crs or default_crs
    if crs is None:
        raise DataError(
            f"{path}: coordinates in 'x'/'y' need a CRS; set 'data.crs' in the scenario "
            f"(e.g. EPSG:32648 for UTM zone 48N)"
        )
    x = _numeric_column(df, xcol, path)
    y = _numeric_column(df, ycol, path)
    geom = gpd.points_from_xy(x, y)
    return gpd.GeoDataFrame(df.drop(columns=[xcol, ycol]), geometry=geom, crs=crs)


def _read_vector_points(path: Path, *, role: str) -> gpd.GeoDataFrame:
    try:
        gdf = gpd.read_file(path)
    except Exception as e:  # pyogrio raises several types for unreadable files
        raise DataError(f"{role} file {path} cannot be read as a vector layer: {e}") from None
    if gdf.empty:
        raise DataError(f"{role} file {path} has no features")
    if gdf.crs is None:
        raise DataError(f"{role} file {path} has no CRS; set one in the file (e.g. EPSG:4326)")
    if gdf.geometry.isna().any():
        row = int(np.flatnonzero(gdf.geometry.isna().to_numpy())[0]) + 1
        raise DataError(f"{where(path, 'geometry', row)}: empty geometry; give every feature a location")
    types = set(gdf.geom_type)
    if not types <= {"Point"}:
        gdf = gdf.set_geometry(gdf.geometry.representative_point())
    return gdf


def _numeric_column(df: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0]) + 1
        raise DataError(
            f"{where(path, col, row)}: value {df[col].iloc[bad[0]]!r} is not a number"
            + (f" ({bad.size} rows in all)" if bad.size > 1 else "")
            + "; give a number"
        )
    return values


def require_columns(df: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    """Raise a :class:`DataError` naming every missing column."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; the file has {list(df.columns.drop('geometry', errors='ignore'))}"
        )


def numeric(df: pd.DataFrame, col: str, path: Path, *, minimum: float | None = None,
            positive: bool = False, problems: list[SitingError] | None = None) -> np.ndarray:
    """A numeric column, checked: every value a finite number, not below ``minimum``.

    Problems are appended to ``problems`` when given (so that all are listed at once),
    raised otherwise.
    """
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    found: list[SitingError] = []
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        found.append(DataError(
            f"{where(path, col, int(bad[0]) + 1)}: value {df[col].iloc[bad[0]]!r} is not a number"
            + (f" ({bad.size} rows in all)" if bad.size > 1 else "") + "; give a number"))
    ok = np.isfinite(values)
    if minimum is not None:
        low = np.flatnonzero(ok & ((values <= minimum) if positive else (values < minimum)))
        if low.size:
            rel = "greater than" if positive else "at least"
            found.append(DataError(
                f"{where(path, col, int(low[0]) + 1)}: value {values[low[0]]:g} must be {rel} {minimum:g}"
                + (f" ({low.size} rows in all)" if low.size > 1 else "") + "; correct it"))
    if found:
        if problems is None:
            raise found[0] if len(found) == 1 else ValidationErrors(found)
        problems.extend(found)
    return values


def ids(df: pd.DataFrame, path: Path, problems: list[SitingError] | None = None) -> np.ndarray:
    """The ``id`` column as strings, checked for blanks and duplicates."""
    col = df["id"].astype("string")
    found: list[SitingError] = []
    blank = np.flatnonzero(col.isna().to_numpy() | (col.str.strip() == "").fillna(True).to_numpy())
    if blank.size:
        found.append(DataError(f"{where(path, 'id', int(blank[0]) + 1)}: empty id; give every row a unique id"))
    dup = col.duplicated(keep="first").fillna(False).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        found.append(DataError(f"{where(path, 'id', i + 1)}: duplicate id {col.iloc[i]!r}; ids must be unique"))
    if found:
        if problems is None:
            raise found[0]
        problems.extend(found)
    return col.fillna("").to_numpy(dtype=object)
