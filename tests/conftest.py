"""Shared fixtures: tiny districts written as scenario files, the shared benchmark folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import legacy_catalogue

ROOT = Path(__file__).resolve().parents[1]

# Independent solves run in this process unless a test asks for workers (tests that exercise the
# execution layer set a scheduler themselves): CLI tests then start no worker processes.
os.environ.setdefault("SITING_SCHEDULER", "sync")
DEFAULT_SCENARIO = ROOT / "scenarios" / "jiangbei-yubei.yaml"


def shared_benchmarks() -> Path:
    """The shared benchmark folder (``SITING_BENCHMARKS`` or ``../shared/benchmarks``)."""
    return Path(os.environ.get("SITING_BENCHMARKS", ROOT.parent / "shared" / "benchmarks"))


@pytest.fixture
def benchmarks_dir() -> Path:
    """The shared benchmark instances; skips the test with a clear message when absent."""
    path = shared_benchmarks()
    if not path.is_dir():
        pytest.skip(f"shared benchmark folder {path} not found (set SITING_BENCHMARKS to its location)")
    return path


TinyWriter = Callable[..., Path]


@pytest.fixture
def write_tiny(tmp_path: Path) -> TinyWriter:
    """Write a tiny random district (x/y metres, Euclidean walking) and its scenario file.

    Returns a function ``(seed, n_demand, n_sites, services, budget_share, **scenario) -> path``.
    """

    def write(seed: int = 0, n_demand: int = 12, n_sites: int = 5,
              services: tuple[str, ...] = ("health_station", "canteen", "elderly_day_care"),
              budget_share: float = 0.45, existing: bool = True, **extra: object) -> Path:
        rng = np.random.default_rng(seed)
        folder = tmp_path / f"tiny-{seed}"
        folder.mkdir(exist_ok=True)
        side = 900.0
        dxy = rng.uniform(0, side, (n_demand, 2))
        pd.DataFrame({
            "id": [f"D{i}" for i in range(n_demand)],
            "x": dxy[:, 0].round(1), "y": dxy[:, 1].round(1),
            "children": rng.integers(0, 60, n_demand),
            "working": rng.integers(0, 200, n_demand),
            "elderly": rng.integers(0, 90, n_demand),
        }).to_csv(folder / "demand.csv", index=False)
        sxy = rng.uniform(0, side, (n_sites, 2))
        area = rng.choice([150.0, 300.0, 420.0, 700.0], n_sites)
        cost = np.round(area * rng.uniform(800, 1600, n_sites), -3)
        allowed = [";".join(s for s in services if rng.random() < 0.75) or services[0] for _ in range(n_sites)]
        pd.DataFrame({
            "id": [f"S{j}" for j in range(n_sites)], "name": [f"site {j}" for j in range(n_sites)],
            "x": sxy[:, 0].round(1), "y": sxy[:, 1].round(1),
            "floor_area_m2": area, "retrofit_cost": cost, "allowed": allowed,
        }).to_csv(folder / "sites.csv", index=False)
        exy = rng.uniform(0, side, (2, 2))
        pd.DataFrame({"id": ["E0", "E1"], "service": [services[0], services[-1]],
                      "x": exy[:, 0].round(1), "y": exy[:, 1].round(1)}).to_csv(folder / "existing.csv", index=False)
        scenario = {
            "name": f"tiny-{seed}",
            "data": {"demand": "demand.csv", "sites": "sites.csv", "crs": "EPSG:32648",
                     **({"existing": "existing.csv"} if existing else {})},
            "services": list(services),
            "budget": float(max(cost.min() + 600_000, budget_share * cost.sum())),
            "walking": {"mode": "euclidean", "detour": 1.3},
            "solver": {"time_limit_s": 30, "mip_gap": 0.0},
            **legacy_catalogue.scenario_fields(services),  # the engine's tests: three groups, minutes, coverage
        }
        for key, value in extra.items():
            scenario[key] = value
        path = folder / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario, allow_unicode=True))
        return path

    return write


@pytest.fixture(scope="session")
def local_cluster():  # type: ignore[no-untyped-def]
    """A Dask LocalCluster of 2 worker processes on 127.0.0.1, no dashboard; closed after the session."""
    from siting.execution import Executor

    executor = Executor("local:2")
    executor.start()
    try:
        yield executor
    finally:
        executor.close()
