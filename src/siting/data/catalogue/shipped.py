"""The YAML files shipped beside the catalogue (services, age groups, aliases, themes), read once each."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

#: libyaml's safe loader where PyYAML was built with it, else the pure-Python one (both safe).
_ShippedLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_shipped_yaml(name: str) -> Any:
    """Parse one of the catalogue's own YAML files (``services.yaml``, ``age_groups.yaml``, ...).

    These files are part of ``siting``, not user input: they are parsed with libyaml's safe
    loader where PyYAML was built with it (the same values, about five times faster than the
    pure-Python loader: some 50 ms of every run), else with the pure-Python safe loader.
    """
    text = resources.files("siting.data.catalogue").joinpath(name).read_text(encoding="utf-8")
    return yaml.load(text, Loader=_ShippedLoader)


__all__ = ["read_shipped_yaml"]
