"""``siting.locate``: the classic models on a cost matrix, against brute force, spopt and their own data."""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist

import siting
from siting.errors import DataError
from siting.locate import lscp, mclp, mclp_from_geodataframe, p_median, p_median_from_geodataframe
from siting.solvers.base import Status

SF_COVERED = 875_247  # spopt's own test: MCLP on the SF tracts, 5,000 m, p = 4


def _sf_data() -> Path:
    spopt = pytest.importorskip("spopt", reason="spopt (a dev dependency) ships the San Francisco data")
    folder = Path(spopt.__file__).parent / "tests" / "test_locate" / "data"
    if not (folder / "SF_network_distance_candidateStore_16_censusTract_205_new.csv").is_file():
        pytest.skip(f"spopt {spopt.__version__} does not ship the San Francisco files in {folder}")
    return folder


def _sf_matrix(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    dist = pd.read_csv(folder / "SF_network_distance_candidateStore_16_censusTract_205_new.csv",
                       dtype={"DestinationName": str})
    cost = dist.pivot_table(values="distance", index="DestinationName", columns="name")
    demand = pd.read_csv(folder / "SF_demand_205_centroid_uniform_weight.csv", dtype={"NAME": str}).sort_values("NAME")
    assert list(cost.index.astype(str)) == list(demand["NAME"])
    stores = sorted(cost.columns, key=lambda s: int(str(s).rsplit("_", 1)[-1]))
    return cost[stores].to_numpy(dtype=np.float64), demand["POP2000"].to_numpy(dtype=np.float64), stores


def test_mclp_on_spopts_san_francisco_data_equals_spopt_with_cbc() -> None:
    folder = _sf_data()
    cost, weights, stores = _sf_matrix(folder)
    ours = siting.locate.mclp(cost, weights, radius=5000, p=4, site_ids=stores)
    assert ours.status is Status.OPTIMAL and ours.gap <= 1e-9
    assert ours.objective == SF_COVERED
    assert len(ours.chosen) == 4 and set(ours.chosen) <= set(stores)
    assert float(weights[ours.covered].sum()) == SF_COVERED

    import pulp
    from spopt.locate import MCLP

    theirs = MCLP.from_cost_matrix(cost, weights, service_radius=5000, p_facilities=4)
    theirs = theirs.solve(pulp.PULP_CBC_CMD(msg=False))
    assert theirs.problem.status == 1
    covered = sum(weights[i] for i, sites in enumerate(theirs.cli2fac) if sites)
    assert covered == pytest.approx(ours.objective)


def _sf_frames(folder: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    demand = pd.read_csv(folder / "SF_demand_205_centroid_uniform_weight.csv")
    stores = pd.read_csv(folder / "SF_store_site_16_longlat.csv")
    d = gpd.GeoDataFrame(demand, geometry=gpd.points_from_xy(demand["long"], demand["lat"]), crs="EPSG:4326")
    s = gpd.GeoDataFrame(stores, geometry=gpd.points_from_xy(stores["long"], stores["lat"]), crs="EPSG:4326")
    return d.to_crs("EPSG:32610"), s.to_crs("EPSG:32610")  # UTM 10N: metres


def test_geodataframes_give_the_cost_matrix_answer_and_spopts() -> None:
    demand, stores = _sf_frames(_sf_data())
    cost = cdist(np.column_stack([demand.geometry.x, demand.geometry.y]),
                 np.column_stack([stores.geometry.x, stores.geometry.y]))
    by_matrix = mclp(cost, demand["POP2000"], radius=2500, p=4, site_ids=list(stores["NAME"]))
    by_frames = mclp_from_geodataframe(demand, stores, weight_col="POP2000", id_col="NAME", radius=2500, p=4)
    assert by_frames.status is Status.OPTIMAL
    assert by_frames.objective == by_matrix.objective
    assert list(by_frames.chosen) == list(by_matrix.chosen)

    import pulp
    from spopt.locate import MCLP

    theirs = MCLP.from_geodataframe(demand, stores, "geometry", "geometry", "POP2000", service_radius=2500,
                                    p_facilities=4, distance_metric="euclidean")
    theirs = theirs.solve(pulp.PULP_CBC_CMD(msg=False))
    covered = sum(demand["POP2000"].iloc[i] for i, sites in enumerate(theirs.cli2fac) if sites)
    assert covered == pytest.approx(by_frames.objective)

    median = p_median_from_geodataframe(demand, stores, weight_col="POP2000", p=3)
    assert median.status is Status.OPTIMAL and median.assignment is not None
    walked = cost[np.arange(len(cost)), median.assignment]
    assert median.objective == pytest.approx(float(demand["POP2000"].to_numpy() @ walked))
    assert median.objective == pytest.approx(p_median(cost, demand["POP2000"], p=3).objective)


def _brute(c: np.ndarray, p: int, value) -> float:
    return max(value(list(s)) for s in itertools.combinations(range(c.shape[1]), p))


@pytest.mark.parametrize("seed", range(12))
def test_the_three_models_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 14, 7
    c = rng.uniform(0, 1000, (n, m))
    w = rng.integers(1, 9, n).astype(float)
    p = int(rng.integers(1, 4))
    r = mclp(c, w, radius=300, p=p)
    assert r.status is Status.OPTIMAL
    assert r.objective == _brute(c, p, lambda s: float(w[(c[:, s] <= 300).any(axis=1)].sum()))
    assert r.bound >= r.objective - 1e-6

    med = p_median(c, w, p=p)
    best = -_brute(c, p, lambda s: -float(w @ c[:, s].min(axis=1)))
    assert med.objective == pytest.approx(best)
    assert med.bound <= med.objective + 1e-6
    assert med.objective == pytest.approx(float(w @ c[np.arange(n), med.assignment]))

    cover = lscp(c, radius=450)
    reachable = (c <= 450).any(axis=1)
    fewest = next(k for k in range(m + 1)
                  if any(((c[:, list(s)] <= 450).any(axis=1) | ~reachable).all()
                         for s in itertools.combinations(range(m), k)))
    assert cover.objective == fewest
    assert list(cover.uncoverable) == list(np.flatnonzero(~reachable))
    assert cover.covered is not None and cover.covered[reachable].all()


def test_budgeted_mclp_with_site_costs_and_forced_sites() -> None:
    c = np.array([[0, 900, 900], [900, 0, 900], [900, 900, 0], [900, 0, 900]], dtype=float)
    w = np.array([10, 4, 6, 3], dtype=float)
    # site 1 (covers 7) costs 3, site 0 (covers 10) costs 5, site 2 (covers 6) costs 2; budget 5
    r = mclp(c, w, radius=100, budget=5, site_costs=[5, 3, 2])
    assert r.objective == 13 and sorted(r.chosen) == [1, 2]
    forced = mclp(c, w, radius=100, budget=5, site_costs=[5, 3, 2], forced=[0])
    assert forced.objective == 10 and list(forced.chosen) == [0]


def test_mistakes_are_named() -> None:
    with pytest.raises(DataError, match="demand × site matrix"):
        mclp(np.zeros(3), radius=1, p=1)
    with pytest.raises(DataError, match="NaN"):
        mclp(np.array([[np.nan]]), radius=1, p=1)
    with pytest.raises(DataError, match="weights: expected 2 values"):
        mclp(np.zeros((2, 2)), [1, 2, 3], radius=1, p=1)
    with pytest.raises(DataError, match="give p"):
        mclp(np.zeros((2, 2)), radius=1)
    with pytest.raises(DataError, match="p must lie between 1 and"):
        p_median(np.zeros((2, 2)), p=3)
    with pytest.raises(DataError, match="no finite cost"):
        p_median(np.array([[np.inf, np.inf], [1.0, 2.0]]), p=1)


def test_the_package_exports_its_api() -> None:
    assert siting.locate.mclp is mclp
    assert siting.Status is Status
    assert callable(siting.load_scenario) and callable(siting.run_scenario)
    with pytest.raises(AttributeError):
        _ = siting.no_such_name  # type: ignore[attr-defined]
    assert (Path(siting.__file__).parent / "py.typed").is_file()
