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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS
from pyproj.exceptions import CRSError

from siting.data.columns import recognise
from siting.data.placement import check_placement
from siting.data.scenario import Table
from siting.data.spreadsheets import SPREADSHEET_SUFFIXES, read_sheet
from siting.data.units import COLUMN_UNITS, unit_factor, unit_names
from siting.data.values import ids, numeric, require_columns, text_column
from siting.errors import DataError, SitingError, raise_problems, rows_text, where

VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml"}
#: A demand polygon larger than this is an area (a community, a block), not a building footprint
#: (chosen: the largest residential towers' footprints are a few thousand m²; a community covers
#: tens of hectares).
MAX_FOOTPRINT_M2 = 20_000.0


@dataclass(frozen=True)
class PointTable:
    """One table of points as read from a file, before any projection.

    Attributes
    ----------
    path
        The file.
    role
        What the table holds (``demand``, ``sites``, ``existing``...), for messages.
    frame
        The attribute columns (no geometry) under siting's names (:mod:`siting.data.columns`),
        one row per point, index ``0..n-1``. Values of CSV files and spreadsheets are kept as
        text until a column is read as numbers.
    points
        One point per row in :attr:`crs`, or ``None`` when some coordinates are unusable
        (those problems are reported) or the table has none.
    crs
        The CRS of :attr:`points`.
    layer
        The layer read from a multi-layer vector file.
    units
        Units read from the headers' brackets or the scenario's ``units:``, by column.
    sheet
        The sheet read from a spreadsheet.
    """

    path: Path
    role: str
    frame: pd.DataFrame
    points: gpd.GeoSeries | None
    crs: CRS | None
    layer: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    sheet: str | None = None

    def __len__(self) -> int:
        return len(self.frame)

    def place(self, column: str | None = None) -> str:
        """``file, sheet 's', column 'c'``: where a problem of this table is."""
        text = where(self.path, layer=self.layer)
        if self.sheet is not None:
            text += f", sheet '{self.sheet}'"
        return text + (f", column '{column}'" if column is not None else "")

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
                        f"give an EPSG code such as 'EPSG:4326' (lon/lat), 'EPSG:4545' (CGCS2000 3-degree "
                        f"Gauss-Kruger CM 108E) or 'EPSG:32648' (UTM 48N)") from None


def read_table(source: Path | Table, *, role: str, crs: CRS | None, problems: list[SitingError],
               notes: list[str], crs_given: bool = False, extra_columns: Mapping[str, Sequence[str]] | None = None,
               allow_empty: bool = False, coordinates: bool | Literal["optional"] = True) -> PointTable | None:
    """Read a table of points, appending every problem found to ``problems``.

    Parameters
    ----------
    source
        The file, or the scenario's table (file, sheet, layer, column mapping, units, CRS):
        CSV with ``lon``/``lat`` or ``x``/``y`` columns (or headers recognised as such), a
        spreadsheet, or a vector file.
    role
        What the table holds (``demand``, ``sites``, ``existing``, ``census``, ``needs``), for
        messages and for the headers recognised.
    crs
        The scenario's ``data.crs``: the CRS of ``x``/``y`` columns (and of ``lon``/``lat``
        when it is geographic, e.g. CGCS2000) unless the table names its own, or ``None``.
    problems
        Problems found are appended here.
    notes
        Things worth telling the planner that are not problems (an encoding guessed, headers
        recognised...).
    crs_given
        True when ``data.crs`` was set but could not be parsed (that problem is reported
        once, by the caller, not again for every table in ``x``/``y``).
    extra_columns
        More header names by siting's column (the catalogue's age groups).
    allow_empty
        A header without rows is a valid, empty table (existing facilities).
    coordinates
        Read coordinates (False for tables by community: census, needs); ``"optional"``: read
        them when the table has coordinate columns (a scenario with a cost matrix needs none).

    Returns
    -------
    PointTable or None
        ``None`` when the file cannot be read at all.
    """
    spec = source if isinstance(source, Table) else Table(path=Path(source))
    path = spec.path
    field_name = f"data.{role}"
    if not path.exists():
        problems.append(DataError(f"{role} file {path} not found; fix the path in the scenario's '{field_name}'"))
        return None
    if path.is_dir():
        problems.append(DataError(f"{role} file {path} is a folder, not a file; name the file itself in "
                                  f"'{field_name}'"))
        return None
    if spec.crs is not None:
        try:
            crs, crs_given = parse_crs(spec.crs, origin=str(path), field=f"data.{role}.crs"), True
        except DataError as e:
            problems.append(e)
            crs, crs_given = None, True
    suffix = path.suffix.lower()
    sheet = None
    if suffix in (".csv", ".txt"):
        df = read_csv_frame(path, role, problems, notes, allow_empty=allow_empty)
    elif suffix in SPREADSHEET_SUFFIXES:
        df, sheet = read_sheet(path, role=role, sheet=spec.sheet, problems=problems, notes=notes,
                               allow_empty=allow_empty)
    elif suffix in VECTOR_SUFFIXES:
        return _read_vector_table(spec, role=role, problems=problems, notes=notes, extra_columns=extra_columns,
                                  allow_empty=allow_empty)
    else:
        hint = " (save it as .xlsx, or export the sheet as 'CSV UTF-8')" if suffix == ".et" else ""
        problems.append(DataError(f"{role} file {path}: unsupported format '{suffix}'{hint}; use CSV, a spreadsheet "
                                  f"(.xlsx, .xls, .ods), GeoPackage, GeoJSON or Shapefile"))
        return None
    if df is None:
        return None
    found = recognise(df, role=role, path=path, mapping=spec.columns, extra=extra_columns, problems=problems,
                      notes=notes)
    units = _table_units(spec, found.units, found.renamed, path, role, problems, notes)
    df = found.frame
    if not coordinates:
        return PointTable(path, role, df, None, None, None, units, sheet)
    if coordinates == "optional" and not set(df.columns) & {"lon", "lat", "x", "y", "location"}:
        return PointTable(path, role, df, None, None, None, units, sheet)
    return _points_from_columns(df, path, role=role, crs=crs, crs_given=crs_given, problems=problems, notes=notes,
                                units=units, sheet=sheet, own_crs=spec.crs is not None)


def _table_units(spec: Table, from_headers: dict[str, str], renamed: dict[str, str], path: Path, role: str,
                 problems: list[SitingError], notes: list[str]) -> dict[str, str]:
    """The unit of each column: the scenario's ``units:`` (by siting's name or the file's header) over the headers'."""
    units = dict(from_headers)
    for column, unit in spec.units.items():
        target = renamed.get(column, column)
        if unit_factor(unit, target) is None:
            known = unit_names(target)
            fix = f"use one of {known}" if known else f"units apply to {sorted(COLUMN_UNITS)}"
            problems.append(DataError(f"{where(path, field=f'data.{role}.units.{column}')}: {unit!r} is not a unit "
                                      f"of '{target}'; {fix}"))
            continue
        if target in from_headers and from_headers[target] != unit:
            notes.append(f"{path}: column '{target}' read in {unit} (data.{role}.units), not in {from_headers[target]} "
                         f"as its header says")
        units[target] = unit
    for column, unit in from_headers.items():
        if column in COLUMN_UNITS and unit_factor(unit, column) is None and column not in spec.units:
            problems.append(DataError(f"{where(path, column=column)}: the header's unit {unit!r} is not one siting "
                                      f"knows for '{column}'; use one of {unit_names(column)}, or give the unit in "
                                      f"the scenario: data.{role}.units"))
    return units


def read_csv_frame(path: Path, role: str, problems: list[SitingError], notes: list[str],
                   allow_empty: bool = False) -> pd.DataFrame | None:
    """A CSV file as text columns (UTF-8, else GB18030 with a note), ``None`` when it cannot be read.

    Every problem (empty file, no rows, a header named twice, not a CSV) is appended to ``problems``.
    """
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
    if df.empty and not allow_empty:
        problems.append(DataError(f"{role} file {path} has a header but no data rows"))
        return None
    out: pd.DataFrame = df.reset_index(drop=True)
    return out


def _split_location(df: pd.DataFrame, path: Path, problems: list[SitingError], notes: list[str]) -> pd.DataFrame:
    """A web-map ``location`` column (``'106.53,29.58'``, longitude first) as ``lon`` and ``lat``."""
    parts = df["location"].astype(str).str.replace("，", ",", regex=False).str.split(",", n=1, expand=True)
    if parts.shape[1] < 2:
        problems.append(DataError(f"{where(path, column='location')}: give 'longitude,latitude' in each cell, e.g. "
                                  f"'106.53,29.58'"))
        return df
    notes.append(f"{path}: column 'location' split into lon, lat (longitude first, as web maps write it)")
    return df.drop(columns=["location"]).assign(lon=parts[0].str.strip(), lat=parts[1].fillna("").str.strip())


def _points_from_columns(df: pd.DataFrame, path: Path, *, role: str, crs: CRS | None, crs_given: bool,
                         problems: list[SitingError], notes: list[str], units: dict[str, str],
                         sheet: str | None, own_crs: bool) -> PointTable:
    columns = set(df.columns)
    if "location" in columns and not ({"lon", "lat"} <= columns or {"x", "y"} <= columns):
        df = _split_location(df, path, problems, notes)
        columns = set(df.columns)
    point_crs: CRS | None
    if {"lon", "lat"} <= columns:
        xcol, ycol = "lon", "lat"
        point_crs = crs if crs is not None and crs.is_geographic else CRS.from_epsg(4326)
        if crs is not None and not crs.is_geographic:
            notes.append(f"{path}: 'lon'/'lat' read as WGS84 degrees (the CRS {crs.to_string()} applies to "
                         f"'x'/'y' columns)")
    elif {"x", "y"} <= columns:
        xcol, ycol = "x", "y"
        point_crs = crs
        if crs is None and not crs_given:
            problems.append(DataError(
                f"{where(path, column='x/y')}: coordinates in 'x'/'y' need a CRS; set 'data.crs' in the scenario, "
                f"or the table's own: data.{role}: {{path: {path.name}, crs: EPSG:4545}} (CGCS2000 3-degree "
                f"Gauss-Kruger CM 108E; EPSG:32648 for UTM zone 48N), or give WGS84 degrees in 'lon'/'lat' columns"))
    else:
        problems.append(DataError(
            f"{where(path, column='lon/lat')}: no coordinate columns (the file has {list(df.columns)}); add 'lon' "
            f"and 'lat' (经度/纬度, WGS84 degrees) or 'x' and 'y' (X坐标/Y坐标) with the scenario's 'data.crs', or "
            f"map your headers: data.{role}: {{path: {path.name}, columns: {{your_header: lon, ...}}}}"))
        return PointTable(path, role, df, None, None, None, units, sheet)
    ids = df["id"].to_numpy(dtype=object) if "id" in columns else None
    x = numeric(df, xcol, path, problems=problems, ids=ids, what="a coordinate")
    y = numeric(df, ycol, path, problems=problems, ids=ids, what="a coordinate")
    frame = df.drop(columns=[xcol, ycol])
    if point_crs is None or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return PointTable(path, role, frame, None, point_crs, None, units, sheet)
    if not check_placement(x, y, point_crs, path, None, (xcol, ycol), ids, problems, field=_crs_field(role, own_crs)):
        return PointTable(path, role, frame, None, point_crs, None, units, sheet)
    return PointTable(path, role, frame, gpd.GeoSeries(gpd.points_from_xy(x, y), crs=point_crs), point_crs, None,
                      units, sheet)


def _crs_field(role: str, own: bool) -> str:
    return f"data.{role}.crs" if own else "data.crs"


def pick_layer(path: Path, role: str, problems: list[SitingError], layer: str | None = None) -> tuple[bool, str | None]:
    """The layer to read: the one named, the only one, or the one named like the role."""
    import pyogrio

    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as e:  # pyogrio raises several types for unreadable files
        problems.append(DataError(f"{role} file {path} cannot be read as a vector file: {e}"))
        return False, None
    if not layers:
        problems.append(DataError(f"{role} file {path} has no layers"))
        return False, None
    if layer is not None:
        if layer in layers:
            return True, layer
        problems.append(DataError(f"{where(path, field=f'data.{role}.layer')}: no layer named {layer!r}; the file "
                                  f"has {layers}"))
        return False, None
    if len(layers) == 1:
        return True, None
    for name in layers:
        if name.lower() == role.lower():
            return True, name
    problems.append(DataError(
        f"{role} file {path} has {len(layers)} layers {layers} and none is named '{role}'; rename the layer "
        f"that holds the {role} to '{role}', name it in the scenario (data.{role}: {{path: {path.name}, "
        f"layer: {layers[0]}}}), or save it in a file of its own"))
    return False, None


def read_vector(spec: Table, *, role: str, problems: list[SitingError], notes: list[str],
                extra_columns: Mapping[str, Sequence[str]] | None = None,
                allow_empty: bool = False) -> tuple[gpd.GeoDataFrame, str | None, dict[str, str]] | None:
    """A vector layer with siting's column names (``None`` when it cannot be read; the problem is appended).

    Returns
    -------
    (GeoDataFrame, layer, units) or None
    """
    path = spec.path
    ok, layer = pick_layer(path, role, problems, spec.layer)
    if not ok:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as e:  # pyogrio raises several types for unreadable files
        problems.append(DataError(f"{where(path, layer=layer)}: cannot be read as a vector layer: {e}"))
        return None
    if gdf.empty and not allow_empty:
        problems.append(DataError(f"{where(path, layer=layer)}: no features; the {role} layer needs one per point"))
        return None
    geometry = gdf.geometry.name
    attrs = pd.DataFrame(gdf.drop(columns=geometry)).reset_index(drop=True)
    attrs.columns = [str(c).strip() for c in attrs.columns]
    found = recognise(attrs, role=role, path=path, mapping=spec.columns, extra=extra_columns, problems=problems,
                      notes=notes, layer=layer, shapefile=path.suffix.lower() in (".shp", ".dbf"))
    units = _table_units(spec, found.units, found.renamed, path, role, problems, notes)
    out = gpd.GeoDataFrame(found.frame, geometry=gdf.geometry.reset_index(drop=True).to_numpy(), crs=gdf.crs)
    return out, layer, units


def _read_vector_table(spec: Table, *, role: str, problems: list[SitingError], notes: list[str],
                       extra_columns: Mapping[str, Sequence[str]] | None, allow_empty: bool) -> PointTable | None:
    read = read_vector(spec, role=role, problems=problems, notes=notes, extra_columns=extra_columns,
                       allow_empty=allow_empty)
    if read is None:
        return None
    gdf, layer, units = read
    path = spec.path
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
    crs_text = spec.crs
    if gdf.crs is None and crs_text is None:
        problems.append(DataError(f"{where(path, layer=layer)}: the layer has no CRS; set one in the file "
                                  f"(e.g. EPSG:4326 in QGIS: Layer > Assign projection), or name it in the scenario "
                                  f"(data.{role}: {{path: {path.name}, crs: EPSG:4545}}), so that its coordinates "
                                  f"can be placed"))
        return PointTable(path, role, frame, None, None, layer, units)
    if crs_text is not None:
        try:
            crs = parse_crs(crs_text, origin=str(path), field=f"data.{role}.crs")
        except DataError as e:
            problems.append(e)
            return PointTable(path, role, frame, None, None, layer, units)
        if gdf.crs is not None and CRS.from_user_input(gdf.crs) != crs:
            notes.append(f"{where(path, layer=layer)}: the file says its CRS is {CRS.from_user_input(gdf.crs).name}; "
                         f"read as {crs.name} (data.{role}.crs), as the scenario says")
    else:
        crs = CRS.from_user_input(gdf.crs)
    geom = gpd.GeoSeries(gdf.geometry.to_numpy(), crs=crs).reset_index(drop=True)
    if geom.empty:
        return PointTable(path, role, frame, geom, crs, layer, units)
    ids = frame["id"].astype(str).to_numpy(dtype=object) if "id" in frame.columns else None
    empty = (geom.isna() | geom.is_empty).to_numpy()
    if empty.any():
        place = where(path, layer=layer, column="geometry")
        problems.append(DataError(f"{place}, {rows_text(np.flatnonzero(empty), ids)}: empty geometry; "
                                  f"give every feature a location"))
        return PointTable(path, role, frame, None, crs, layer, units)
    if not set(geom.geom_type) <= {"Point"}:
        if role == "demand" and not _footprints(geom, crs, path, layer, ids, problems):
            return PointTable(path, role, frame, None, crs, layer, units)
        notes.append(f"{where(path, layer=layer)}: non-point geometries; a point inside each is used")
        geom = geom.representative_point()
    x, y = geom.x.to_numpy(), geom.y.to_numpy()
    if not check_placement(x, y, crs, path, layer, ("x", "y"), ids, problems, field=_crs_field(role, bool(crs_text))):
        return PointTable(path, role, frame, None, crs, layer, units)
    return PointTable(path, role, frame, gpd.GeoSeries(geom, crs=crs), crs, layer, units)


def _footprints(geom: gpd.GeoSeries, crs: CRS, path: Path, layer: str | None, ids: np.ndarray | None,
                problems: list[SitingError]) -> bool:
    """Demand polygons must be building footprints: areas (communities, blocks) are refused with the fix."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            metric = geom.to_crs(geom.estimate_utm_crs()) if crs.is_geographic else geom
            area = metric.area.to_numpy()
        except Exception:  # a CRS pyproj cannot move to UTM: the placement check reports it
            return True
    big = np.flatnonzero(area > MAX_FOOTPRINT_M2)
    if not big.size:
        return True
    problems.append(DataError(
        f"{where(path, layer=layer, column='geometry')}, {rows_text(big, ids)}: polygons of up to "
        f"{area[big].max() / 10_000:,.1f} ha are areas (communities, blocks), not buildings (more than "
        f"{MAX_FOOTPRINT_M2:,.0f} m²); one point each would put every resident at the middle of the area. Give the "
        f"residential buildings as data.demand and these areas as the census: data.census: {{path: <population by "
        f"community>, areas: {path.name}}} — siting then spreads each area's residents over its buildings"))
    return False


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


__all__ = ["MAX_FOOTPRINT_M2", "VECTOR_SUFFIXES", "PointTable", "ids", "numeric", "parse_crs", "pick_layer",
           "read_csv_frame", "read_points", "read_table", "read_vector", "require_columns", "text_column"]
