"""The common district instance, read through siting's own scenario loader.

``../shared/benchmarks/district/generate.py`` writes a district-wide siting instance as CSV
files and a ``meta.json``. :func:`district_scenario` runs it once per size into a cache folder
(``benchmarks/.cache/``, git-ignored) and writes a scenario YAML beside the files, so that a
benchmark reads the instance exactly as a planner's scenario would be read:

- ``data.crs``: a metric CRS (the generator's coordinates are metres);
- ``walking: {mode: euclidean, detour: <meta detour>}``;
- its own catalogue (``replace: true``) from ``meta.json``: each service's walking limit, floor area and the age
  groups it serves, fit-out cost 0 (the instance has none), each age group's speed;
- the budget from ``meta.json``.

:func:`generator_coverage` recomputes coverage from the CSV files with the generator's own
definition (Euclidean distance × detour ≤ walk limit × 60 × speed), independently of siting's
stages, to check that siting reads the instance as its author meant.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import sparse
from scipy.spatial import cKDTree

CACHE = Path(__file__).resolve().parent / ".cache"
CRS = "EPSG:32648"  # WGS 84 / UTM zone 48N (Chongqing), metres


def _generator(shared: Path) -> ModuleType:
    path = shared / "district" / "generate.py"
    spec = importlib.util.spec_from_file_location("siting_bench_district_generate", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"district generator not found at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scenario_dict(meta: dict[str, Any], name: str) -> dict[str, Any]:
    """The scenario (as a mapping) of a generated instance folder, from its ``meta.json``."""
    services = meta["services"]
    return {
        "name": name,
        "title": f"district benchmark {name}",
        "data": {"demand": "demand.csv", "sites": "sites.csv", "existing": "existing.csv", "crs": CRS},
        "services": [s["key"] for s in services],
        "catalogue": {  # the instance's own model: its services and groups, limits in minutes at each speed
            "replace": True,
            "services": [{"key": s["key"], "name_zh": s["key"], "name_en": s["key"], "category": "basic",
                          "walk_limit_min": float(s["walk_min"]), "floor_area_m2": float(s["area_m2"]),
                          "serves": list(s["serves"]), "fitout_yuan_per_m2": 0.0} for s in services],
            "age_groups": [{"key": g, "name_zh": g, "name_en": g, "speed_m_s": float(v)}
                           for g, v in meta["speeds_m_per_s"].items()],
        },
        "objective": {"kind": "coverage"},  # the instance's objective: covered population summed
        "budget": float(meta["budget"]),
        "walking": {"mode": "euclidean", "detour": float(meta["detour"])},
        "solver": {"backend": "highs", "time_limit_s": 120, "mip_gap": 0.01, "threads": 1, "seed": 0},
    }


def district_scenario(shared: Path, demand: int = 20000, sites: int = 1000, seed: int = 7,
                      cache: Path = CACHE) -> Path:
    """Generate the district instance (once) and return the path of its scenario YAML.

    Parameters
    ----------
    shared
        The shared benchmark folder (holding ``district/generate.py``).
    demand, sites, seed
        The generator's arguments.
    cache
        Where generated instances are kept.
    """
    name = f"district-{demand}x{sites}-s{seed}-v2"  # v2: the instance's own catalogue (replace: true)
    folder = cache / name
    path = folder / "scenario.yaml"
    if not path.exists():
        gen = _generator(shared)
        tmp = cache / f".{name}.tmp"
        gen.write(gen.generate(demand, sites, seed), tmp)
        meta = json.loads((tmp / "meta.json").read_text())
        (tmp / "scenario.yaml").write_text(yaml.safe_dump(scenario_dict(meta, name), allow_unicode=True,
                                                          sort_keys=False))
        if folder.exists():  # a half-written folder of an interrupted run
            for f in folder.iterdir():
                f.unlink()
            folder.rmdir()
        tmp.rename(folder)
    return path


def generator_coverage(folder: Path) -> dict[tuple[str, str], tuple[sparse.csr_matrix, np.ndarray]]:
    """Coverage as the generator's docstring defines it, computed from its files alone.

    Returns
    -------
    dict
        Per (service key, age group): boolean csr demand × site (within the limit) and the
        boolean baseline (an existing facility of the service within the limit).
    """
    meta = json.loads((folder / "meta.json").read_text())
    dem = pd.read_csv(folder / "demand.csv")
    sit = pd.read_csv(folder / "sites.csv")
    ex = pd.read_csv(folder / "existing.csv")
    dxy = dem[["x", "y"]].to_numpy(float)
    tree = cKDTree(dxy)
    detour = float(meta["detour"])
    out = {}
    for s in meta["services"]:
        for g in s["serves"]:
            limit = s["walk_min"] * 60.0 * meta["speeds_m_per_s"][g]
            d = tree.sparse_distance_matrix(cKDTree(sit[["x", "y"]].to_numpy(float)), limit / detour,
                                            output_type="ndarray")
            ok = d["v"] * detour <= limit
            reach = sparse.csr_matrix((np.ones(int(ok.sum()), dtype=bool), (d["i"][ok], d["j"][ok])),
                                      shape=(len(dem), len(sit)))
            exy = ex.loc[ex["service"] == s["key"], ["x", "y"]].to_numpy(float)
            base = np.zeros(len(dem), dtype=bool)
            if len(exy):
                e = tree.sparse_distance_matrix(cKDTree(exy), limit / detour, output_type="ndarray")
                base[e["i"][e["v"] * detour <= limit]] = True
            out[s["key"], g] = (reach, base)
    return out
