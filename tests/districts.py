"""A small valid district as editable tables, written to files: the starting point of bad-input tests.

Tests take :func:`tables`, break one thing, write it with :func:`write` and check the answer.
Coordinates are WGS84 degrees near Chongqing (UTM zone 48N), so that CRS checks have something
real to work on.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

LON0, LAT0 = 106.533, 29.578
SERVICES = ("health_station", "canteen", "elderly_day_care")


@dataclass
class Tables:
    """The tables and scenario fields of a district, to be changed before writing."""

    demand: pd.DataFrame
    sites: pd.DataFrame
    existing: pd.DataFrame | None
    nodes: pd.DataFrame | None = None
    edges: pd.DataFrame | None = None
    scenario: dict[str, Any] = field(default_factory=dict)


def tables(seed: int = 0, n_demand: int = 15, n_sites: int = 6, network: bool = False) -> Tables:
    """A valid district: demand, sites, existing facilities (and a grid network) near Chongqing."""
    rng = np.random.default_rng(seed)
    deg = 1 / 111_000  # about a metre in degrees
    dlon = LON0 + rng.uniform(0, 800, n_demand) * deg
    dlat = LAT0 + rng.uniform(0, 800, n_demand) * deg
    demand = pd.DataFrame({
        "id": [f"B{i:03d}" for i in range(n_demand)], "lon": dlon.round(7), "lat": dlat.round(7),
        "children": rng.integers(5, 60, n_demand), "working": rng.integers(20, 200, n_demand),
        "elderly": rng.integers(5, 90, n_demand)})
    area = rng.choice([300.0, 450.0, 800.0], n_sites)
    sites = pd.DataFrame({
        "id": [f"S{j:02d}" for j in range(n_sites)], "name": [f"site {j}" for j in range(n_sites)],
        "kind": "shop", "lon": (LON0 + rng.uniform(0, 800, n_sites) * deg).round(7),
        "lat": (LAT0 + rng.uniform(0, 800, n_sites) * deg).round(7), "floor_area_m2": area,
        "retrofit_cost": np.round(area * 1200, -3), "allowed": ";".join(SERVICES)})
    existing = pd.DataFrame({"id": ["E1"], "name": ["health station"], "service": ["health_station"],
                             "lon": [LON0 + 400 * deg], "lat": [LAT0 + 400 * deg]})
    scenario: dict[str, Any] = {
        "name": f"small-{seed}", "services": list(SERVICES),
        "budget": float(sites["retrofit_cost"].sum() * 0.5), "walking": {"mode": "euclidean"},
        "solver": {"time_limit_s": 30, "mip_gap": 0.0}}
    out = Tables(demand, sites, existing, scenario=scenario)
    if network:
        k = 10  # a 10 × 10 grid of streets, 100 m apart, over the district
        ii, jj = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        out.nodes = pd.DataFrame({"id": [f"N{a}_{b}" for a, b in zip(ii.ravel(), jj.ravel(), strict=True)],
                                  "lon": (LON0 - 50 * deg + ii.ravel() * 100 * deg).round(7),
                                  "lat": (LAT0 - 50 * deg + jj.ravel() * 100 * deg).round(7),
                                  "elevation_m": 250.0})
        rows = [(a, b) for a in range(k) for b in range(k - 1)]
        cols = [(a, b) for a in range(k - 1) for b in range(k)]
        u = [f"N{a}_{b}" for a, b in rows] + [f"N{a}_{b}" for a, b in cols]
        v = [f"N{a}_{b + 1}" for a, b in rows] + [f"N{a + 1}_{b}" for a, b in cols]
        out.edges = pd.DataFrame({"u": u, "v": v, "highway": "residential"})
        out.scenario["walking"] = {"mode": "network", "snap_limit_m": 150}
    return out


def write(t: Tables, folder: Path, **scenario: Any) -> Path:
    """Write the tables as CSV and the scenario as YAML into ``folder``; return the scenario path."""
    folder.mkdir(parents=True, exist_ok=True)
    t.demand.to_csv(folder / "demand.csv", index=False)
    t.sites.to_csv(folder / "sites.csv", index=False)
    data: dict[str, Any] = {"demand": "demand.csv", "sites": "sites.csv"}
    if t.existing is not None:
        t.existing.to_csv(folder / "existing.csv", index=False)
        data["existing"] = "existing.csv"
    if t.nodes is not None and t.edges is not None:
        t.nodes.to_csv(folder / "nodes.csv", index=False)
        t.edges.to_csv(folder / "edges.csv", index=False)
        data["network"] = {"nodes": "nodes.csv", "edges": "edges.csv"}
    raw = {**t.scenario, **scenario}
    raw["data"] = {**data, **t.scenario.get("data", {}), **scenario.get("data", {})}
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Outcome:
    """What the command line answered."""

    code: int
    stdout: str
    stderr: str


def cli(*args: str) -> Outcome:
    """Run ``siting`` in this process (as the installed entry point does) and capture its answer.

    Anything but a clean exit — an exception escaping ``main`` — propagates and fails the test.
    """
    from siting import cli as cli_module

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    code = 0
    sys.argv = ["siting", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli_module.main()
            except SystemExit as e:
                code = int(e.code or 0)
    finally:
        sys.argv = argv
    return Outcome(code, out.getvalue(), err.getvalue())


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) and its bytes."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def unchanged(folder: Path) -> Iterator[None]:
    """Check that ``folder`` (and its parent's listing) is the same after the block as before."""
    before = snapshot(folder)
    existed = folder.exists()
    listing = sorted(p.name for p in folder.parent.iterdir()) if folder.parent.exists() else None
    yield
    assert folder.exists() == existed
    assert snapshot(folder) == before
    after = sorted(p.name for p in folder.parent.iterdir()) if folder.parent.exists() else None
    assert after == listing
