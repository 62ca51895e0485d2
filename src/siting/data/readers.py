"""Read demand, site and existing-facility tables from the files a scenario names.

Tables come as CSV (coordinates in ``lon``/``lat`` or ``x``/``y`` columns) or as any vector
file GeoPandas reads (GeoPackage, GeoJSON, Shapefile; point geometries, or polygons whose
inner points are used). :func:`read_table` checks the file and its coordinates and returns a
:class:`PointTable`; the column helpers (:func:`require_columns`, :func:`numeric`,
:func:`ids`) check values. Every helper appends what it finds to a ``problems`` list, so that
the caller can report every problem of every file at once; the :mod:`siting.data.district` stage
projects the points to metres.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS
from pyproj.exceptions import CRSError

from siting.errors import DataError, SitingError, raise_problems, rows_text, where

VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml"}
SPREADSHEET_SUFFIXES = {".xlsx", ".xls", ".ods", ".et"}
#: Margin (degrees) around a CRS's area of use within which coordinates are still plausible.
AREA_OF_USE_MARGIN_DEG = 2.0


@dataclass(frozen=True)
class PointTable:
    """One table of points as read from a file, before any projection.

    Attributes
    ----------
    path
        The file.
    role
        What the table holds (``demand``, ``sites``, ``existing``), for messages.
    frame
        The attribute columns (no geometry), one row per point, index ``0..n-1``. Values of
        CSV files are kept as text until a column is read as numbers.
    points
        One point per row in :attr:`crs`, or ``None`` when some coordinates are unusable
        (those problems are reported).
    crs
        The CRS of :attr:`points`.
    layer
        The layer read from a multi-layer vector file.
    """

    path: Path
    role: str
    frame: pd.DataFrame
    points: gpd.GeoSeries | None
    crs: CRS | None
    layer: str | None = None

    def __len__(self) -> int:
        return len(self.frame)

    def place(self, column: str | None = None) -> str:
        """``file, layer 'l', column 'c'``: where a problem of this table is."""
        return where(self.path, layer=self.layer, column=column)

    def id_column(self) -> np.ndarray | None:
        """The ``id`` column as text (for naming rows in messages), or ``None``."""
        if "id" not in self.frame.columns:
            return None
        return self.frame["id"].astype("string").fillna("").to_numpy(dtype=object)


def parse_crs(value: str, *, origin: str, field: str = "data.crs") -> CRS:
    """A CRS from the text of a scenario field.

    Raises
    ------
    DataError
        When pyproj does not know the CRS.
    """
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise DataError(f"{where(origin, field)}: {value!r} is not a coordinate reference system pyproj knows; "
                        f"give an EPSG code such as 'EPSG:4326' (lon/lat) or 'EPSG:32648' (UTM 48N)") from None


def read_table(path: Path, *, role: str, crs: CRS | None, problems: list[SitingError],
               notes: list[str], crs_given: bool = False) -> PointTable | None:
    """Read a table of points, appending every problem found to ``problems``.

    Parameters
    ----------
    path
        CSV with ``lon``/``lat`` or ``x``/``y`` columns, or a vector file.
    role
        What the table holds (``demand``, ``sites``, ``existing``), for messages.
    crs
        The scenario's ``data.crs``: the CRS of ``x``/``y`` columns (and of ``lon``/``lat``
        when it is geographic, e.g. CGCS2000), or ``None``.
    problems
        Problems found are appended here.
    notes
        Things worth telling the planner that are not problems (an encoding guessed...).
    crs_given
        True when ``data.crs`` was set but could not be parsed (that problem is reported
        once, by the caller, not again for every table in ``x``/``y``).

    Returns
    -------
    PointTable or None
        ``None`` when the file cannot be read at all.
    """
    field = f"data.{role}"
    if not path.exists():
        problems.append(DataError(f"{role} file {path} not found; fix the path in the scenario's '{field}'"))
        return None
    if path.is_dir():
        problems.append(DataError(f"{role} file {path} is a folder, not a file; name the file itself in '{field}'"))
        return None
    suffix = path.suffix.lower()
    if suffix == ".csv" or suffix == ".txt":
        return _read_csv_table(path, role=role, crs=crs, problems=problems, notes=notes, crs_given=crs_given)
    if suffix in VECTOR_SUFFIXES:
        return _read_vector_table(path, role=role, problems=problems, notes=notes)
    hint = " (export the sheet as 'CSV UTF-8')" if suffix in SPREADSHEET_SUFFIXES else ""
    problems.append(DataError(f"{role} file {path}: unsupported format '{suffix}'{hint}; "
                              f"use CSV, GeoPackage, GeoJSON or Shapefile"))
    return None


def _read_csv_frame(path: Path, role: str, problems: list[SitingError], notes: list[str]) -> pd.DataFrame | None:
    kwargs = {"dtype": str, "keep_default_na": False, "na_filter": False, "skipinitialspace": True}
    try:
        if path.stat().st_size == 0:
            raise pd.errors.EmptyDataError
        try:
            df = pd.read_csv(path, encoding="utf-8-sig", **kwargs)  # type: ignore[call-overload]
        except UnicodeDecodeError:
            # spreadsheets on Chinese Windows save CSV as GB18030 (GBK)
            df = pd.read_csv(path, encoding="gb18030", **kwargs)  # type: ignore[call-overload]
            notes.append(f"{path} is not UTF-8; read it as GB18030 (Chinese Windows encoding). "
                         f"Save it as 'CSV UTF-8' to be sure every name reads right")
    except pd.errors.EmptyDataError:
        problems.append(DataError(f"{role} file {path} is empty; it needs a header row and data rows"))
        return None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError, OSError) as e:
        problems.append(DataError(f"{role} file {path} is not a readable CSV table: {e}; "
                                  f"save it as 'CSV UTF-8' with one header row"))
        return None
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    dup = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dup:
        problems.append(DataError(f"{where(path, column=dup[0])}: the header names column(s) {dup} more than once; "
                                  f"give every column its own name"))
        return None
    if df.empty:
        problems.append(DataError(f"{role} file {path} has a header but no data rows"))
        return None
    out: pd.DataFrame = df.reset_index(drop=True)
    return out


def _read_csv_table(path: Path, *, role: str, crs: CRS | None, problems: list[SitingError],
                    notes: list[str], crs_given: bool) -> PointTable | None:
    df = _read_csv_frame(path, role, problems, notes)
    if df is None:
        return None
    columns = set(df.columns)
    point_crs: CRS | None
    if {"lon", "lat"} <= columns:
        xcol, ycol = "lon", "lat"
        point_crs = crs if crs is not None and crs.is_geographic else CRS.from_epsg(4326)
        if crs is not None and not crs.is_geographic:
            notes.append(f"{path}: 'lon'/'lat' read as WGS84 degrees (data.crs {crs.to_string()} applies to "
                         f"'x'/'y' columns)")
    elif {"x", "y"} <= columns:
        xcol, ycol = "x", "y"
        point_crs = crs
        if crs is None and not crs_given:
            problems.append(DataError(
                f"{where(path, column='x/y')}: coordinates in 'x'/'y' need a CRS; set 'data.crs' in the scenario "
                f"(e.g. EPSG:32648 for UTM zone 48N), or give WGS84 degrees in 'lon'/'lat' columns"))
    else:
        problems.append(DataError(
            f"{where(path, column='lon/lat')}: no coordinate columns (the file has {list(df.columns)}); add 'lon' "
            f"and 'lat' (WGS84 degrees) or 'x' and 'y' with the scenario's 'data.crs'"))
        return PointTable(path, role, df, None, None)
    ids = df["id"].to_numpy(dtype=object) if "id" in columns else None
    x = numeric(df, xcol, path, problems=problems, ids=ids, what="a coordinate")
    y = numeric(df, ycol, path, problems=problems, ids=ids, what="a coordinate")
    frame = df.drop(columns=[xcol, ycol])
    if point_crs is None or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return PointTable(path, role, frame, None, point_crs)
    if not _plausible(x, y, point_crs, path, None, (xcol, ycol), ids, problems):
        return PointTable(path, role, frame, None, point_crs)
    return PointTable(path, role, frame, gpd.GeoSeries(gpd.points_from_xy(x, y), crs=point_crs), point_crs)


def _pick_layer(path: Path, role: str, problems: list[SitingError]) -> tuple[bool, str | None]:
    """The layer to read: the only one, or the one named like the role."""
    import pyogrio

    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as e:  # pyogrio raises several types for unreadable files
        problems.append(DataError(f"{role} file {path} cannot be read as a vector file: {e}"))
        return False, None
    if not layers:
        problems.append(DataError(f"{role} file {path} has no layers"))
        return False, None
    if len(layers) == 1:
        return True, None
    for name in layers:
        if name.lower() == role.lower():
            return True, name
    problems.append(DataError(
        f"{role} file {path} has {len(layers)} layers {layers} and none is named '{role}'; rename the layer "
        f"that holds the {role} to '{role}', or save it in a file of its own"))
    return False, None


def _read_vector_table(path: Path, *, role: str, problems: list[SitingError], notes: list[str]) -> PointTable | None:
    ok, layer = _pick_layer(path, role, problems)
    if not ok:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as e:  # pyogrio raises several types for unreadable files
        problems.append(DataError(f"{where(path, layer=layer)}: cannot be read as a vector layer: {e}"))
        return None
    if gdf.empty:
        problems.append(DataError(f"{where(path, layer=layer)}: no features; the {role} layer needs one per point"))
        return None
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    if gdf.crs is None:
        problems.append(DataError(f"{where(path, layer=layer)}: the layer has no CRS; set one in the file "
                                  f"(e.g. EPSG:4326 in QGIS: Layer > Assign projection), so that its "
                                  f"coordinates can be placed"))
        return PointTable(path, role, frame, None, None, layer)
    crs = CRS.from_user_input(gdf.crs)
    geom = gdf.geometry.reset_index(drop=True)
    ids = frame["id"].astype(str).to_numpy(dtype=object) if "id" in frame.columns else None
    empty = (geom.isna() | geom.is_empty).to_numpy()
    if empty.any():
        place = where(path, layer=layer, column="geometry")
        problems.append(DataError(f"{place}, {rows_text(np.flatnonzero(empty), ids)}: empty geometry; "
                                  f"give every feature a location"))
        return PointTable(path, role, frame, None, crs, layer)
    if not set(geom.geom_type) <= {"Point"}:
        notes.append(f"{where(path, layer=layer)}: non-point geometries; a point inside each is used")
        geom = geom.representative_point()
    x, y = geom.x.to_numpy(), geom.y.to_numpy()
    if not _plausible(x, y, crs, path, layer, ("x", "y"), ids, problems):
        return PointTable(path, role, frame, None, crs, layer)
    return PointTable(path, role, frame, gpd.GeoSeries(geom, crs=crs), crs, layer)


def _plausible(x: np.ndarray, y: np.ndarray, crs: CRS, path: Path, layer: str | None, cols: tuple[str, str],
               ids: np.ndarray | None, problems: list[SitingError]) -> bool:
    """Check that coordinates fit their CRS: degrees in range, not swapped, within its area of use."""
    place = where(path, layer=layer, column=f"{cols[0]}/{cols[1]}")
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
                hint = " (these look like metres: use 'x'/'y' columns with 'data.crs')"
            problems.append(DataError(
                f"{place}, {rows_text(bad, ids)}: ({x[i]:g}, {y[i]:g}) is outside the range of degrees{hint}; "
                f"give longitude in [-180, 180] and latitude in [-90, 90]"))
            return False
    elif np.all((np.abs(x) <= 180) & (np.abs(y) <= 90)):
        problems.append(DataError(
            f"{place}: every coordinate lies within ±180/±90, which looks like degrees, but the CRS "
            f"{crs.to_string()} is in metres; put degrees in 'lon'/'lat' columns (or set the file's CRS to "
            f"EPSG:4326), or fix 'data.crs'"))
        return False
    area = crs.area_of_use
    if area is None:
        return True
    if crs.is_geographic:
        lon, lat = x, y
    else:
        from pyproj import Transformer

        tx = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
        with np.errstate(all="ignore"):
            lon, lat = tx.transform(x, y)
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    m = AREA_OF_USE_MARGIN_DEG
    west, east = area.west - m, area.east + m
    lon_ok = (lon >= west) & (lon <= east) if west <= east else (lon >= west) | (lon <= east)  # across 180°
    outside = ~(np.isfinite(lon) & np.isfinite(lat) & lon_ok & (lat >= area.south - m) & (lat <= area.north + m))
    if outside.any():
        bad = np.flatnonzero(outside)
        i = int(bad[0])
        hint = ""
        if crs.is_geographic and area.west - m <= y[i] <= area.east + m and area.south - m <= x[i] <= area.north + m:
            hint = " (longitude and latitude look swapped)"
        problems.append(DataError(
            f"{place}, {rows_text(bad, ids)}: ({x[i]:g}, {y[i]:g}) lies outside the area where {crs.to_string()} "
            f"({crs.name}) is used (longitude {area.west:g}..{area.east:g}, latitude {area.south:g}..{area.north:g})"
            f"{hint}; correct the coordinates or the CRS"))
        return False
    return True


def read_points(path: Path, *, role: str, crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a table of points as a GeoDataFrame, raising on the first file with problems.

    Parameters
    ----------
    path
        CSV with ``lon``/``lat`` or ``x``/``y`` columns (``crs`` required for ``x``/``y``),
        or a vector file with point or polygon geometries.
    role
        What the table holds (``demand``, ``sites``, ``existing``), for messages.
    crs
        CRS of CSV coordinates, e.g. ``EPSG:4326`` or ``EPSG:32648``.

    Returns
    -------
    geopandas.GeoDataFrame
        One point per row, CRS set, attribute columns kept (CSV values as text).

    Raises
    ------
    SitingError
        Listing every problem of the file.
    """
    problems: list[SitingError] = []
    parsed = parse_crs(crs, origin=str(path)) if crs else None
    table = read_table(path, role=role, crs=parsed, problems=problems, notes=[])
    raise_problems(problems)
    assert table is not None and table.points is not None  # no problem means both are set
    return gpd.GeoDataFrame(table.frame, geometry=table.points.to_numpy(), crs=table.crs)


def require_columns(df: pd.DataFrame, columns: Sequence[str], path: Path,
                    problems: list[SitingError] | None = None, *, layer: str | None = None) -> bool:
    """Check that the table has the columns; name every missing one.

    Returns
    -------
    bool
        True when every column is there. Problems are appended to ``problems`` when given,
        raised otherwise.
    """
    missing = [c for c in columns if c not in df.columns]
    if not missing:
        return True
    have = [str(c) for c in df.columns if c != "geometry"]
    error = DataError(f"{where(path, layer=layer, column=missing[0])}: missing column(s) {missing}; "
                      f"the file has {have}; add {'it' if len(missing) == 1 else 'them'} or fix the header's spelling")
    if problems is None:
        raise error
    problems.append(error)
    return False


def numeric(df: pd.DataFrame, col: str, path: Path, *, minimum: float | None = None,
            positive: bool = False, maximum: float | None = None, problems: list[SitingError] | None = None,
            ids: np.ndarray | None = None, layer: str | None = None, what: str = "a number",
            fix: str = "correct it") -> np.ndarray:
    """A numeric column, checked: every value a finite number, within ``[minimum, maximum]``.

    Parameters
    ----------
    df, col, path
        The table, the column and the file it came from.
    minimum, positive
        Smallest allowed value; with ``positive`` the value must be greater than ``minimum``.
    maximum
        Largest plausible value (a larger one is reported as absurd).
    problems
        Problems are appended here when given (so that all are listed at once), raised otherwise.
    ids
        The table's ids, to name rows by id as well as by number.
    layer
        The layer of a multi-layer vector file.
    what, fix
        What the values are and how to correct out-of-range ones, for messages.

    Returns
    -------
    numpy.ndarray
        The values as floats (``nan`` where not a number).
    """
    raw = df[col]
    text = raw.astype("string").fillna("").str.strip()
    values = pd.to_numeric(text.str.replace(",", "", regex=False).where(text != "", None),
                           errors="coerce").to_numpy(dtype=float)
    place = where(path, layer=layer, column=col)
    found: list[SitingError] = []
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        blank = text.iloc[bad].eq("").to_numpy()
        first = text.iloc[bad[0]]
        shown = "empty" if first == "" else f"{first!r} is not a number"
        found.append(DataError(
            f"{place}, {rows_text(bad, ids)}: value {shown}"
            + (f" ({int(blank.sum())} of them empty)" if bad.size > 1 and blank.any() else "")
            + f"; give {what} in every row"))
    ok = np.isfinite(values)
    if minimum is not None:
        low = np.flatnonzero(ok & ((values <= minimum) if positive else (values < minimum)))
        if low.size:
            rel = "greater than" if positive else "at least"
            found.append(DataError(
                f"{place}, {rows_text(low, ids)}: value {values[low[0]]:g} must be {rel} {minimum:g}; {fix}"))
    if maximum is not None:
        high = np.flatnonzero(ok & (values > maximum))
        if high.size:
            found.append(DataError(
                f"{place}, {rows_text(high, ids)}: value {values[high[0]]:g} is implausibly large (more than "
                f"{maximum:,.0f}); check the unit and the decimal point"))
    if found:
        if problems is None:
            raise_problems(found)
        else:
            problems.extend(found)
    return values


def ids(df: pd.DataFrame, path: Path, problems: list[SitingError] | None = None, *,
        layer: str | None = None) -> np.ndarray:
    """The ``id`` column as strings, checked for blanks and duplicates."""
    col = df["id"].astype("string").str.strip()
    found: list[SitingError] = []
    place = where(path, layer=layer, column="id")
    blank = np.flatnonzero(col.isna().to_numpy() | (col == "").fillna(True).to_numpy())
    if blank.size:
        found.append(DataError(f"{place}, {rows_text(blank)}: empty id; give every row a unique id"))
    dup = (col.duplicated(keep=False) & col.notna() & (col != "")).fillna(False).to_numpy()
    if dup.any():
        values = col[dup]
        first = str(values.iloc[0])
        rows = np.flatnonzero(dup & (col == first).fillna(False).to_numpy())
        n_ids = values.nunique()
        found.append(DataError(
            f"{place}, {rows_text(rows)}: duplicate id {first!r}"
            + (f" ({n_ids} ids are used more than once)" if n_ids > 1 else "") + "; ids must be unique"))
    if found:
        if problems is None:
            raise_problems(found)
        else:
            problems.extend(found)
    return col.fillna("").to_numpy(dtype=object)


def text_column(df: pd.DataFrame, col: str, default: np.ndarray | None = None) -> np.ndarray:
    """A text column (names, kinds), blanks as empty strings; ``default`` when absent."""
    if col not in df.columns:
        return default.copy() if default is not None else np.full(len(df), "", dtype=object)
    return df[col].astype("string").fillna("").str.strip().to_numpy(dtype=object)
