"""Points of interest from web maps (Gaode/AMap, Baidu, Tencent) as existing facilities.

A POI export has a type (高德 ``type`` such as ``科教文化服务;学校;幼儿园``, 百度 ``tag`` such as
``教育培训;幼儿园``) instead of a service key. :func:`poi_services` maps each type to a service:

1. the scenario's own table (``data.existing.types``: inline ``{type: service}`` or a
   two-column file of type and service), which wins;
2. the built-in :data:`DEFAULT_TYPES` for common Gaode/Baidu categories;
3. any name of a service (:class:`~siting.data.catalogue.ServiceNames`: 幼儿园, 社区食堂...).

A type is tried whole, then segment by segment from the most specific (the last). POIs whose
type maps to nothing are left out, and their types are listed in a note with their counts, so
that a planner can map them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from siting.data.catalogue import ServiceNames
from siting.data.catalogue.names import normalise_name
from siting.errors import DataError, SitingError, where

#: Built-in Gaode/Baidu POI categories (the most specific segment) → service key. Categories that
#: only look alike are left out on purpose: a 诊所 (private clinic) is not a community health
#: station, a 养老院 (nursing home) is not a day care centre, a 小学 is no kindergarten.
DEFAULT_TYPES: dict[str, str] = {
    "幼儿园": "kindergarten", "托儿所": "childcare", "托育机构": "childcare", "早教中心": "childcare",
    "社区卫生服务中心": "health_station", "社区卫生服务站": "health_station", "卫生服务站": "health_station",
    "卫生院": "health_station", "社区医疗": "health_station",
    "老年人日间照料中心": "elderly_day_care", "日间照料中心": "elderly_day_care", "社区养老服务站": "elderly_day_care",
    "养老服务中心": "elderly_day_care",
    "社区食堂": "canteen", "老年食堂": "canteen", "长者食堂": "canteen", "助餐点": "canteen",
    "文化宫": "culture_station", "文化活动中心": "culture_station", "文化活动站": "culture_station",
    "文化馆": "culture_station", "综合文化站": "culture_station",
    "图书馆": "study_room", "城市书房": "study_room", "阅览室": "study_room",
    "体育场馆": "sports_space", "综合体育馆": "sports_space", "健身中心": "sports_space", "运动场所": "sports_space",
    "全民健身中心": "sports_space",
    "社区服务中心": "service_station", "社区中心": "service_station", "居委会": "service_station",
    "社区服务站": "service_station", "党群服务中心": "service_station",
    "老年大学": "night_school", "社区学校": "night_school", "夜校": "night_school",
    "众创空间": "coworking", "孵化器": "coworking", "共享办公": "coworking", "联合办公": "coworking",
    "菜市场": "fresh_market", "农贸市场": "fresh_market", "生鲜超市": "fresh_market", "综合市场": "fresh_market",
    "便利店": "convenience_services", "维修站点": "convenience_services", "家政服务": "convenience_services",
    "快递服务": "convenience_services", "裁缝店": "convenience_services",
    "健身广场": "outdoor_fitness", "户外健身": "outdoor_fitness",
}
_SEGMENTS = re.compile(r"[;；|｜/>,，]+")


def read_type_table(path: Path, rows: list[list[str]], problems: list[SitingError]) -> dict[str, str]:
    """A two-column mapping table (type, service) as a dict; the header row is skipped."""
    out: dict[str, str] = {}
    for i, row in enumerate(rows[1:], start=1):
        cells = [c.strip() for c in row if c is not None]
        if len(cells) < 2 or not cells[0]:
            if any(cells):
                problems.append(DataError(f"{where(path, row=i)}: give a POI type and a service in the first two "
                                          f"columns"))
            continue
        out[cells[0]] = cells[1]
    return out


def poi_services(types: np.ndarray, *, names: ServiceNames, mapping: Mapping[str, str], place: str,
                 problems: list[SitingError], notes: list[str], known: frozenset[str]) -> np.ndarray:
    """The service key of every POI from its type ('' where no service matches).

    Parameters
    ----------
    types
        The POIs' type text, one per row.
    names
        Every service's names.
    mapping
        The scenario's type → service (key or any name), over the defaults.
    place
        The file and column, for messages.
    problems, notes
        A mapping to an unknown service is a problem; unmapped types are listed in a note.
    known
        Service keys a mapping may name (in play or in the default catalogue).

    Returns
    -------
    numpy.ndarray
        Service key per POI, '' where its type maps to no service.
    """
    table: dict[str, str] = {normalise_name(k): v for k, v in DEFAULT_TYPES.items()}
    for type_name, service in mapping.items():
        key = names.key(service)
        if key is None or key not in known:
            problems.append(DataError(f"{place}: the type mapping sends {type_name!r} to {names.unknown(service)}"))
            continue
        table[normalise_name(type_name)] = key
    out = np.full(len(types), "", dtype=object)
    cache: dict[str, str] = {}
    for i, text in enumerate(types):  # one pass over the POIs
        t = str(text)
        if t not in cache:
            cache[t] = _service_of(t, table, names)
        out[i] = cache[t]
    unmapped = Counter(str(t) for t, k in zip(types, out, strict=True) if not k)
    mapped = Counter(f"{t} → {k}" for t, k in zip(types, out, strict=True) if k)
    if mapped:
        notes.append(f"{place}: POI types read as services: " + ", ".join(f"{t} ({n})" for t, n in
                                                                         sorted(mapped.items())))
    if unmapped:
        shown = ", ".join(f"{t or '(empty)'} ({n})" for t, n in unmapped.most_common(12))
        more = f" and {len(unmapped) - 12} more types" if len(unmapped) > 12 else ""
        notes.append(f"{place}: {sum(unmapped.values())} POI(s) of {len(unmapped)} type(s) match no service and are "
                     f"left out: {shown}{more}; to count them, map their types in the scenario: "
                     f"data.existing.types: {{type: service}}")
    return out


def _service_of(text: str, table: Mapping[str, str], names: ServiceNames) -> str:
    """The service of one type text: whole, then by segment from the most specific."""
    for candidate in (text, *reversed(_SEGMENTS.split(text))):
        norm = normalise_name(candidate)
        if not norm:
            continue
        if norm in table:
            return table[norm]
        key = names.key(candidate)
        if key is not None:
            return key
    return ""


__all__ = ["DEFAULT_TYPES", "poi_services", "read_type_table"]
