"""Where a run's numbers come from: every input file by role, and the versions that shape the numbers."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from siting._version import __version__
from siting.data.scenario import Scenario


def input_files(scenario: Scenario) -> dict[str, Path]:
    """Every file a run read, by role: the scenario (and each file it extends) and the data."""
    files: dict[str, Path] = {}
    chain = list(scenario.sources) or ([scenario.source] if scenario.source is not None else [])
    for i, p in enumerate(chain):
        files["scenario" if i == 0 else f"scenario_extends_{i}"] = Path(p)
    data = scenario.data
    files.update(data.paths())
    net = data.network
    if net is not None:
        for role, table in (("network_nodes", net.nodes), ("network_edges", net.edges)):
            if table is not None:
                files[role] = table
        if net.path is not None:
            from siting.walking.readers import resolve_network_path

            files["network"] = resolve_network_path(net.path)
    return {role: Path(p) for role, p in files.items() if p is not None and Path(p).is_file()}


def versions(solver: str) -> dict[str, str]:
    """Versions of siting, Python, the solver and the libraries that shape the numbers."""
    out = {"siting": __version__, "python": platform.python_version(), "solver": solver}
    for package in ("numpy", "scipy", "pandas", "pyproj", "geopandas", "highspy"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    try:
        import pyproj

        out["proj"] = pyproj.proj_version_str
    except ImportError:  # pragma: no cover - pyproj is a dependency
        pass
    return out


__all__ = ["input_files", "versions"]
