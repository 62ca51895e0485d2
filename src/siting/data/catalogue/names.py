"""Service names: keys, the catalogue's Chinese and English names, and the common short names of
``aliases.yaml``, all leading to the service key.

:class:`ServiceNames` answers "which service is ``幼儿园``?" wherever a service key is accepted
(the ledger's ``allowed``, existing facilities, the needs list, scenario fields) and, for an
unknown name, lists the closest known ones (``difflib``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from siting.data.catalogue.shipped import read_shipped_yaml

_BRACKETED = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")
_SPACES = re.compile(r"[\s_\-·/]+")


def normalise_name(name: str) -> str:
    """A name compared without case, spaces, underscores or hyphens (``Elderly day-care`` ~ ``elderly_day_care``)."""
    return _SPACES.sub("", str(name).strip().lower())


@cache
def default_aliases() -> dict[str, tuple[str, ...]]:
    """The shipped ``aliases.yaml``: service key → other names."""
    raw = read_shipped_yaml("aliases.yaml") or {}
    return {str(k): tuple(str(n) for n in v) for k, v in raw.items()}


class ServiceNames:
    """Every name of every service, leading to its key.

    Parameters
    ----------
    services
        ``(key, name_zh, name_en)`` of each service known (in play or not), first ones first
        when two share a name.
    aliases
        More names per key (default: the shipped ``aliases.yaml``).
    """

    def __init__(self, services: Iterable[tuple[str, str, str]],
                 aliases: Mapping[str, Sequence[str]] | None = None) -> None:
        aliases = default_aliases() if aliases is None else aliases
        self._by_name: dict[str, str] = {}
        self._labels: dict[str, str] = {}
        self._shown: dict[str, str] = {}
        for key, zh, en in services:
            if key in self._labels:
                continue
            self._labels[key] = f"{zh} ({key})" if zh else key
            for name in (key, zh, en, _BRACKETED.sub("", zh), *aliases.get(key, ())):
                if not name:
                    continue
                norm = normalise_name(name)
                self._by_name.setdefault(norm, key)
                self._shown.setdefault(norm, str(name))

    @classmethod
    def of(cls, *catalogues: Any) -> ServiceNames:
        """The names of the services of catalogues (objects with ``services``), first ones first."""
        return cls((s.key, s.name_zh, s.name_en) for c in catalogues for s in c.services)

    @property
    def keys(self) -> tuple[str, ...]:
        """Every service key known."""
        return tuple(self._labels)

    def key(self, name: str) -> str | None:
        """The key of the service called ``name`` (any of its names), or ``None``."""
        norm = normalise_name(name)
        found = self._by_name.get(norm)
        if found is None:
            found = self._by_name.get(normalise_name(_BRACKETED.sub("", str(name))))
        return found

    def closest(self, name: str, n: int = 3) -> list[str]:
        """The known services whose names are closest to ``name``, as ``'幼儿园 (kindergarten)'``."""
        names = list(self._by_name)
        found: list[str] = []
        for match in difflib.get_close_matches(normalise_name(name), names, n=12, cutoff=0.45):
            key = self._by_name[match]
            label = self._labels[key]
            shown = self._shown[match]
            text = label if shown in (key, label.split(" (")[0]) else f"{shown} → {label}"
            if all(not f.endswith(f"({key})") for f in found):
                found.append(text)
            if len(found) == n:
                break
        return found

    def unknown(self, name: str) -> str:
        """``unknown service '幼稚所'; closest: 幼儿园 (kindergarten), ...``."""
        close = self.closest(name)
        hint = f"closest known: {', '.join(close)}" if close else f"known services: {list(self._labels)}"
        return f"unknown service {name!r}; {hint} (siting catalog lists them all)"


__all__ = ["ServiceNames", "default_aliases", "normalise_name"]
