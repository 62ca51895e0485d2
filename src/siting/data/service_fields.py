"""Service names in a scenario's fields: 幼儿园, 日间照料 or "Community canteen" wherever a service key is.

The scenario loader applies :func:`service_keys_in_fields` to the raw scenario before
validation (files, ``extends:``, ``--vary``, variants alike), so that every stage below sees keys.
"""

from __future__ import annotations

from typing import Any

from siting.data.catalogue import ServiceNames, default_catalogue


def _renamed(mapping: Any, names: ServiceNames, skip: frozenset[str] = frozenset()) -> Any:
    """A mapping whose keys that name a service (and are not in ``skip``) become the service's key."""
    if not isinstance(mapping, dict):
        return mapping
    out: dict[Any, Any] = {}
    for k, v in mapping.items():
        key = names.key(k) if isinstance(k, str) and k not in skip else None
        out[key if key is not None and key not in mapping else k] = v
    return out


def service_keys_in_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """The scenario's service fields with Chinese and short service names turned into keys.

    ``services``, ``weights.services``, ``requirements.min_sites`` / ``max_sites`` and the
    service keys of ``objective`` (``floors``, ``targets``, ``p``) accept any name of
    :class:`~siting.data.catalogue.ServiceNames`; services a scenario's ``catalogue:`` adds are
    known by their ``name_zh`` and ``name_en``. An unknown name is left as it is, for the checks
    that name it with the closest known ones.
    """
    catalogue = raw.get("catalogue")
    extra = catalogue.get("services") if isinstance(catalogue, dict) else None
    entries = [e for e in (extra if isinstance(extra, list) else []) if isinstance(e, dict)]
    added = [(str(e["key"]), str(e.get("name_zh", "")), str(e.get("name_en", "")))
             for e in entries if isinstance(e.get("key"), str)]
    defaults = default_catalogue()
    names = ServiceNames([*added, *((s.key, s.name_zh, s.name_en) for s in defaults.services)])
    groups = catalogue.get("age_groups") if isinstance(catalogue, dict) else None
    added_groups = [str(g.get("key")) for g in (groups if isinstance(groups, list) else []) if isinstance(g, dict)]
    group_keys = frozenset([*defaults.group_keys, *added_groups])
    out = dict(raw)
    services = out.get("services")
    if isinstance(services, list):
        out["services"] = [names.key(k) or k if isinstance(k, str) else k for k in services]
    for section, fields in (("weights", ("services",)), ("requirements", ("min_sites", "max_sites")),
                            ("objective", ("floors", "targets", "p"))):
        block = out.get(section)
        if isinstance(block, dict):
            out[section] = {**block, **{f: _renamed(block[f], names, group_keys if f == "floors" else frozenset())
                                        for f in fields if f in block}}
    return out


__all__ = ["service_keys_in_fields"]
