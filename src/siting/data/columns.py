"""Column mapping: the bureau's headers (Chinese, web-map exports, Shapefile-truncated) to siting's names.

A table's header goes through three steps, each reported:

1. the scenario's own mapping (``columns: {编号: id, ...}`` of the table);
2. the built-in recognition of usual headers (:data:`ALIASES`, per table role, plus the names
   of the catalogue's age groups for population columns), after normalising case, spaces and
   full-width brackets;
3. Shapefile-truncated names: a DBF field name stops at 10 characters, so ``floor_area``
   stands for ``floor_area_m2`` and ``retrofit_c`` for ``retrofit_cost``.

A unit in brackets after a header (``改造费用(万元)``, ``建筑面积（平方米）``) is kept as the
column's unit (:mod:`siting.data.units` converts it). Every recognition goes into one note per
table; a header two columns could claim, or a mapping naming a header the file lacks, is a
problem naming the file and the fix. ``docs/data-formats.md`` lists every name recognised here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from siting.errors import DataError, SitingError, where

#: A DBF (Shapefile) field name holds at most this many characters.
DBF_NAME_LENGTH = 10

#: Usual headers of every table, by siting's column name (compared after :func:`normalise`).
COMMON: dict[str, tuple[str, ...]] = {
    "id": ("编号", "序号", "代码", "编码", "ID号", "fid_id", "code", "identifier"),
    "name": ("名称", "名字", "标准名称", "title"),
    "lon": ("经度", "lng", "long", "longitude", "x经度", "gcj经度", "wgs84经度", "lon_wgs84", "lng_gcj02"),
    "lat": ("纬度", "latitude", "y纬度", "gcj纬度", "wgs84纬度", "lat_wgs84", "lat_gcj02"),
    "location": ("经纬度", "坐标", "位置", "lnglat", "lng_lat", "loc"),
    "x": ("X坐标", "X", "东坐标", "横坐标", "easting", "east", "E坐标"),
    "y": ("Y坐标", "Y", "北坐标", "纵坐标", "northing", "north", "N坐标"),
    "community": ("社区", "社区名称", "所属社区", "社区名", "社区代码", "社区编码", "居委会", "所属居委会",
                  "community_name"),
}
#: Usual headers of each table role, beside :data:`COMMON`.
BY_ROLE: dict[str, dict[str, tuple[str, ...]]] = {
    "demand": {
        "id": ("楼栋编号", "建筑编号", "楼号", "building_id"),
        "population": ("人口", "总人口", "常住人口", "人数", "居住人口", "pop", "total_population"),
        "households": ("户数", "住户数", "总户数", "household", "hh"),
        "floor_area_m2": ("建筑面积", "住宅面积", "面积", "floor_area", "area_m2", "area"),
    },
    "sites": {
        "id": ("资产编号", "闲置资产编号", "房屋编号", "site_id"),
        "name": ("资产名称", "闲置资产名称", "房屋名称", "地址", "site_name"),
        "kind": ("类型", "资产类型", "建筑类型", "房屋类型", "原用途", "现状用途", "type"),
        "floor_area_m2": ("建筑面积", "可用面积", "使用面积", "面积", "闲置面积", "floor_area", "area_m2", "area"),
        "retrofit_cost": ("改造费用", "改造成本", "改造投资", "预计改造费用", "估算投资", "投资", "费用", "cost",
                          "retrofit"),
        "fixed_cost": ("固定费用", "固定成本", "结构改造费用", "基础改造费用", "结构消防费用", "fixed"),
        "cost_per_m2": ("改造单价", "单价", "每平方米改造费用", "每平米改造费用", "平米造价", "unit_cost", "per_m2"),
        "allowed": ("可改造用途", "可改造为", "拟改造用途", "适宜用途", "可用于", "用途"),
    },
    "existing": {
        "id": ("设施编号", "poi_id", "uid"),
        "name": ("设施名称", "poi名称", "poi_name"),
        "service": ("服务", "服务类型", "设施类型", "设施种类"),
        "type": ("类型", "分类", "类别", "poi类型", "type_name", "typecode", "tag", "category", "大类", "小类"),
    },
    "census": {
        "population": ("人口", "总人口", "常住人口", "人数", "pop", "total_population"),
        "households": ("户数", "总户数"),
    },
    "needs": {
        "service": ("服务", "服务类型", "设施", "设施类型", "需求设施", "需求类型", "项目"),
        "need": ("需求", "需求数", "需求人数", "票数", "人次", "频次", "优先级", "优先度", "重要性", "priority",
                 "count", "votes", "score"),
    },
}

_BRACKETS = re.compile(r"^(?P<base>.*?)\s*[(（\[【]\s*(?P<unit>[^)）\]】]*)\s*[)）\]】]\s*$")
_SPACES = re.compile(r"[\s_\-/·.]+")


def normalise(header: str) -> str:
    """A header compared case- and space-insensitively (``'Floor Area'`` and ``floor_area`` match)."""
    return _SPACES.sub("", str(header).strip().lower().replace("\ufeff", ""))


def split_unit(header: str) -> tuple[str, str | None]:
    """``'改造费用(万元)'`` → ``('改造费用', '万元')``; a header without brackets has no unit."""
    m = _BRACKETS.match(str(header).strip())
    if m is None or not m.group("base").strip():
        return str(header).strip(), None
    return m.group("base").strip(), m.group("unit").strip() or None


@dataclass(frozen=True)
class Recognised:
    """A header after mapping.

    Attributes
    ----------
    frame
        The table with siting's column names.
    units
        Unit read from a header's brackets, by siting's column name (``{'retrofit_cost': '万元'}``).
    renamed
        Original header → siting's column, for every header that changed.
    """

    frame: pd.DataFrame
    units: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)


def aliases_for(role: str, extra: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
    """Normalised header → siting's column name, for one table role (role names win over common ones)."""
    table: dict[str, str] = {}
    groups: list[Mapping[str, Sequence[str]]] = [COMMON, BY_ROLE.get(role, {}), extra or {}]
    for group in groups:
        for column, names in group.items():
            for name in (column, *names):
                table[normalise(name)] = column
    return table


def recognise(frame: pd.DataFrame, *, role: str, path: Path, mapping: Mapping[str, str],
              extra: Mapping[str, Sequence[str]] | None, problems: list[SitingError], notes: list[str],
              layer: str | None = None, shapefile: bool = False) -> Recognised:
    """Rename a table's columns to siting's names, reporting every recognition.

    Parameters
    ----------
    frame
        The table as read, original headers.
    role
        ``demand``, ``sites``, ``existing``, ``census`` or ``needs``: which usual headers apply.
    path, layer
        The file, for messages.
    mapping
        The scenario's ``columns:`` of this table: header in the file → siting's column.
    extra
        More names by siting's column (the catalogue's age groups: key → Chinese and English names).
    problems, notes
        Problems and notes found are appended here.
    shapefile
        The file is a Shapefile (or another DBF-based format): names cut at 10 characters are recognised.

    Returns
    -------
    Recognised
        The renamed table, units read from the headers and what was renamed.
    """
    headers = [str(c) for c in frame.columns]
    place = where(path, layer=layer, field=f"data.{role}.columns")
    rename: dict[str, str] = {}
    units: dict[str, str] = {}
    for source, target in mapping.items():
        if source in headers:
            rename[source] = target
            continue
        close = difflib.get_close_matches(source, headers, n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        problems.append(DataError(f"{place}: the file has no column {source!r}{hint}; its columns are {headers}; "
                                  f"fix the mapping or the header"))
    aliases = aliases_for(role, extra)
    canonical = set(aliases.values())
    truncated = {name[:DBF_NAME_LENGTH]: name for name in canonical if len(name) > DBF_NAME_LENGTH}
    taken = {h for h in headers if h in canonical and h not in rename} | set(rename.values())
    claims: dict[str, list[str]] = {}
    how: dict[str, str] = {}
    for h in headers:
        if h in rename or h in canonical:
            continue
        base, unit_text = split_unit(h)
        found = aliases.get(normalise(base)) or aliases.get(normalise(h))
        kind = "recognised"
        if found is None and shapefile and h in truncated:
            found, kind = truncated[h], "Shapefile-truncated"
        if found is None or found in taken:
            continue
        claims.setdefault(found, []).append(h)
        how[h] = kind
        if unit_text is not None:
            units[found] = unit_text
    for target, hs in claims.items():
        if len(hs) > 1:
            problems.append(DataError(
                f"{where(path, layer=layer, column=hs[0])}: columns {hs} could each be '{target}'; name the one to "
                f"use in the scenario, e.g. data.{role}: {{path: {path.name}, columns: {{{hs[0]}: {target}}}}}"))
            continue
        rename[hs[0]] = target
    if rename:
        auto = [f"{h} → {t}" + (f" (in {units[t]})" if t in units else "")
                + (" (Shapefile-truncated)" if how.get(h) == "Shapefile-truncated" else "")
                for h, t in rename.items() if h not in mapping]
        if auto:
            notes.append(f"{where(path, layer=layer)}: recognised the column(s) " + ", ".join(auto))
    out = frame.rename(columns=rename)
    dup = sorted({c for c in out.columns if list(out.columns).count(c) > 1})
    if dup:
        problems.append(DataError(
            f"{place}: after mapping, column(s) {dup} appear twice (a header is both mapped and already named so); "
            f"map only one of them"))
        out = out.loc[:, ~out.columns.duplicated()]
    return Recognised(out, units, rename)


__all__ = ["BY_ROLE", "COMMON", "DBF_NAME_LENGTH", "Recognised", "aliases_for", "normalise", "recognise",
           "split_unit"]
