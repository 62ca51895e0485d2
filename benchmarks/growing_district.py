"""A synthetic district of any size, written as a scenario, and its plain MIP.

:func:`write_district` writes ``demand.csv``, ``sites.csv``, ``existing.csv`` and a scenario
YAML that ``siting`` loads like any planner's scenario: residential buildings clustered in
compounds at a constant density (about 500 buildings per km², so the district's area grows
with the number of buildings), an idle-asset ledger of one site per 20 buildings (factory
halls, vacant shops, other buildings, with floor area, retrofit cost and allowed services),
existing facilities, a budget of 8 % of the ledger's retrofit cost, straight-line walking
with a detour factor of 1.3. Synthetic; age shares of Chongqing's 7th census, 2.45 persons
per household. Same size and seed, same files.

:func:`plain_covering_model` is the budgeted multi-service covering model of
:mod:`siting.model.covering` written out directly: one coverage row per (demand point,
service, age group), no merging of identical rows, no warm start — the plain MIP that shows
what ``siting``'s reductions gain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import sparse

from siting.coverage import Coverage
from siting.model.milp import MilpModel, Sense
from siting.model.rules import PlanningRules, SiteData

DENSITY_PER_KM2 = 500.0
BUILDINGS_PER_SITE = 20
ORIGIN = (600_000.0, 3_270_000.0)  # UTM zone 48N (EPSG:32648), near Chongqing
SHARES = (0.1591, 0.6222, 0.2187)  # children, working, elderly (Chongqing, 7th census)
ALLOWED = {
    "factory": ["elderly_day_care", "health_station", "kindergarten", "childcare", "canteen", "culture_station",
                "study_room", "sports_space", "night_school", "coworking", "service_station"],
    "shop": ["health_station", "childcare", "canteen", "study_room", "elderly_day_care", "service_station"],
    "other": ["elderly_day_care", "childcare", "culture_station", "study_room", "night_school", "coworking",
              "canteen", "sports_space"],
}
EXISTING_SERVICES = ("elderly_day_care", "health_station", "kindergarten", "canteen", "culture_station")


def write_district(folder: Path, n_demand: int, *, seed: int = 0, time_limit_s: float = 60.0) -> Path:
    """Write a synthetic district of ``n_demand`` buildings and its scenario; return the scenario path."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    side = 1000.0 * np.sqrt(n_demand / DENSITY_PER_KM2)
    n_compounds = max(1, n_demand // 300)
    centres = rng.uniform(0.05 * side, 0.95 * side, (n_compounds, 2))
    c = rng.integers(0, n_compounds, n_demand)
    xy = np.clip(centres[c] + rng.normal(0, 120.0, (n_demand, 2)), 0, side)
    persons = np.round(rng.integers(20, 200, n_demand) * 2.45)
    elderly_share = rng.uniform(0.15, 0.32, n_compounds)[c]
    children = np.round(persons * SHARES[0] * (1 - elderly_share) / (1 - SHARES[2]))
    elderly = np.round(persons * elderly_share)
    pd.DataFrame({
        "id": [f"B{i:06d}" for i in range(n_demand)],
        "x": (xy[:, 0] + ORIGIN[0]).round(1), "y": (xy[:, 1] + ORIGIN[1]).round(1),
        "children": children, "working": np.maximum(persons - children - elderly, 0), "elderly": elderly,
    }).to_csv(folder / "demand.csv", index=False)

    m = max(10, n_demand // BUILDINGS_PER_SITE)
    n_fac = max(1, m // 25)
    n_shop = int(0.7 * m)
    n_other = m - n_fac - n_shop
    kinds = np.array(["factory"] * n_fac + ["shop"] * n_shop + ["other"] * n_other)
    sxy = np.clip(np.vstack([
        rng.uniform(0, side, (n_fac, 2)),
        centres[rng.integers(0, n_compounds, n_shop)] + rng.normal(0, 200.0, (n_shop, 2)),
        rng.uniform(0, side, (n_other, 2)),
    ]), 0, side)
    area = np.concatenate([rng.uniform(2000, 8000, n_fac), rng.uniform(100, 450, n_shop),
                           rng.uniform(300, 1500, n_other)]).round(0)
    cost = np.round(area * np.concatenate([rng.uniform(1500, 3000, n_fac), rng.uniform(800, 1500, n_shop),
                                           rng.uniform(1000, 2000, n_other)]), -3)
    allowed = [";".join(k for k in ALLOWED[kind] if rng.random() < 0.8) or ALLOWED[kind][0] for kind in kinds]
    pd.DataFrame({
        "id": [f"S{j:05d}" for j in range(m)], "name": [f"{k} {j}" for j, k in enumerate(kinds)], "kind": kinds,
        "x": (sxy[:, 0] + ORIGIN[0]).round(1), "y": (sxy[:, 1] + ORIGIN[1]).round(1),
        "floor_area_m2": area, "retrofit_cost": cost, "allowed": allowed,
    }).to_csv(folder / "sites.csv", index=False)

    per_service = max(1, n_demand // 2000)
    exy = rng.uniform(0, side, (per_service * len(EXISTING_SERVICES), 2))
    services = np.repeat(EXISTING_SERVICES, per_service)
    pd.DataFrame({
        "id": [f"E{k:05d}" for k in range(len(services))], "name": [f"existing {s}" for s in services],
        "service": services, "x": (exy[:, 0] + ORIGIN[0]).round(1), "y": (exy[:, 1] + ORIGIN[1]).round(1),
    }).to_csv(folder / "existing.csv", index=False)

    scenario = {
        "name": f"synthetic-{n_demand}",
        "title": f"Synthetic district, {n_demand:,} buildings, {m:,} idle sites",
        "data": {"demand": "demand.csv", "sites": "sites.csv", "existing": "existing.csv", "crs": "EPSG:32648"},
        "budget": float(round(0.08 * cost.sum(), -4)),
        "walking": {"mode": "euclidean", "detour": 1.3},
        "objective": {"kind": "coverage"},  # measured against the plain covering MIP
        "solver": {"backend": "highs", "time_limit_s": float(time_limit_s), "mip_gap": 1e-4, "threads": 1, "seed": 0},
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def plain_covering_model(coverage: Coverage, sites: SiteData, rules: PlanningRules) -> MilpModel:
    """The budgeted multi-service covering MIP with one row per (demand point, service, age group).

    Same objective and constraints as :func:`siting.model.covering.build_covering_model`
    (see its module docstring), written without any reduction: every (site, service) the site
    allows is a variable, every demand point not already covered by an existing facility is a
    coverage row of each (service, age group) pair, even when it reaches no site.
    """
    m = len(sites.floor_area)
    S = len(coverage.service_keys)
    x_site, x_service = np.nonzero(sites.allowed)  # every allowed pair, fitting or not
    fits = rules.service_area[x_service] <= sites.floor_area[x_site] + 1e-9
    K = x_site.size
    col = np.full((m, S), -1, dtype=np.int64)
    col[x_site, x_service] = np.arange(K)
    blocks, weights = [], []
    for p, (s, g) in enumerate(coverage.pairs):
        keep = ~coverage.baseline[p]
        R = coverage.reach[p][keep].tocoo()
        k = col[R.col, s]
        ok = k >= 0
        blocks.append(sparse.csr_matrix((np.ones(int(ok.sum())), (R.row[ok], k[ok])), shape=(R.shape[0], K)))
        weights.append(coverage.population[keep, g] * rules.service_weight[s] * rules.group_weight[g])
    Rx = sparse.vstack(blocks, format="csr")
    w = np.concatenate(weights)
    nz = Rx.shape[0]
    n = K + m + nz
    cover = sparse.hstack([-Rx, sparse.csr_matrix((nz, m)), sparse.identity(nz, format="csr")], format="csr")
    link = sparse.hstack([sparse.identity(K, format="csr"),
                          -sparse.csr_matrix((np.ones(K), (np.arange(K), x_site)), shape=(K, m)),
                          sparse.csr_matrix((K, nz))], format="csr")
    area = sparse.hstack([sparse.csr_matrix((rules.service_area[x_service], (x_site, np.arange(K))), shape=(m, K)),
                          -sparse.diags(sites.floor_area, format="csr"), sparse.csr_matrix((m, nz))], format="csr")
    budget = sparse.csr_matrix(np.concatenate([rules.service_fitout[x_service], sites.retrofit_cost,
                                               np.zeros(nz)])[None, :])
    count = sparse.csr_matrix((np.ones(K), (x_service, np.arange(K))), shape=(S, n))
    A = sparse.vstack([cover, link, area, budget, count], format="csr")
    col_lower = np.zeros(n)
    col_lower[K:K + m] = rules.force_in
    col_upper = np.ones(n)
    col_upper[:K] = fits  # a service that does not fit is fixed at zero, not removed
    col_upper[K:K + m] = ~rules.force_out
    integer = np.zeros(n, dtype=bool)
    integer[:K + m] = True
    return MilpModel(
        name="plain budgeted multi-service covering", sense=Sense.MAXIMIZE,
        objective=np.concatenate([np.zeros(K + m), w]), A=A,
        row_lower=np.concatenate([np.full(nz + K + m + 1, -np.inf), rules.min_sites.astype(float)]),
        row_upper=np.concatenate([np.zeros(nz + K + m), [rules.budget],
                                  np.where(rules.max_sites >= 0, rules.max_sites, np.inf).astype(float)]),
        col_lower=col_lower, col_upper=col_upper, integer=integer,
        col_blocks={"x": slice(0, K), "y": slice(K, K + m), "z": slice(K + m, n)})
