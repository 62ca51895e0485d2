"""Generate the embedded demonstration district ``data/jiangbei-yubei/`` (fixed seed).

A synthetic district of about 1.5 × 1.5 km modelled on Yubei community, Guanyinqiao
sub-district, Jiangbei District, Chongqing (观音桥街道渝北社区): hilly streets with stairs,
residential compounds, an idle-asset ledger (an old factory complex of about 5,000 m²,
vacant shops, a warehouse, office floors, a market hall...) and a few existing facilities.
Every figure is synthetic except the census shares and household size named below.

Real figures used:
- age shares of Chongqing, 7th national census (2020): 0–14 15.91 %, 15–59 62.22 %, 60+ 21.87 %;
- 2.45 persons per household (Chongqing, 7th census);
- location: centre near 106.533 E, 29.578 N (Guanyinqiao, Jiangbei), UTM zone 48N;
- elevations in the range of the Guanyinqiao area (roughly 220–320 m above sea level).

Run from the repository root: ``python data/generate_jiangbei_yubei.py`` (writes
``data/jiangbei-yubei/*.csv``). The output is committed; re-running reproduces it exactly.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from pyproj import Transformer

SEED = 20240915
SIDE = 1500.0  # metres
SPACING = 50.0  # street grid spacing, metres
CENTRE_LONLAT = (106.5330, 29.5780)
SHARES = {"children": 0.1591, "working": 0.6222, "elderly": 0.2187}
PERSONS_PER_HOUSEHOLD = 2.45
OUT = Path(__file__).resolve().parent / "jiangbei-yubei"

ALLOWED = {  # which services a kind of idle building may host (planners' judgement, synthetic)
    "factory": ["elderly_day_care", "health_station", "kindergarten", "childcare", "canteen", "culture_station",
                "study_room", "sports_space", "night_school", "coworking", "service_station"],
    "warehouse": ["elderly_day_care", "canteen", "culture_station", "sports_space", "night_school", "coworking"],
    "shop": ["health_station", "childcare", "canteen", "study_room", "elderly_day_care", "service_station"],
    "office": ["elderly_day_care", "childcare", "culture_station", "study_room", "night_school", "coworking",
               "service_station"],
    "market": ["elderly_day_care", "canteen", "culture_station", "sports_space", "service_station"],
    "school": ["kindergarten", "childcare", "culture_station", "study_room", "night_school", "sports_space"],
    "civil_defence": ["study_room", "culture_station", "coworking"],
}


def elevation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Hilly terrain: a ridge across the district, two hills and a valley (metres a.s.l.)."""
    ridge = 45.0 * np.exp(-(((x - 0.35 * y - 500.0) / 260.0) ** 2))
    hill1 = 38.0 * np.exp(-(((x - 1150.0) ** 2 + (y - 1100.0) ** 2) / (2 * 230.0 ** 2)))
    hill2 = 25.0 * np.exp(-(((x - 300.0) ** 2 + (y - 1250.0) ** 2) / (2 * 180.0 ** 2)))
    valley = -20.0 * np.exp(-(((y - 250.0) / 200.0) ** 2))
    return 245.0 + ridge + hill1 + hill2 + valley + 0.012 * x


def build_network(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, str]]]:
    """A jittered street grid with missing links, diagonal footpaths and stairs on steep links."""
    k = int(SIDE / SPACING) + 1
    gx, gy = np.meshgrid(np.arange(k) * SPACING, np.arange(k) * SPACING)
    xy = np.column_stack([gx.ravel(), gy.ravel()]) + rng.normal(0, 6.0, (k * k, 2))
    z = elevation(xy[:, 0], xy[:, 1])
    node = np.arange(k * k).reshape(k, k)
    cand = [(int(node[r, c]), int(node[r, c + 1])) for r in range(k) for c in range(k - 1)]
    cand += [(int(node[r, c]), int(node[r + 1, c])) for r in range(k - 1) for c in range(k)]
    order = rng.permutation(len(cand))
    # keep a random spanning tree (so the network is connected), then 55 % of the other links
    parent = list(range(k * k))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    kept, rest = [], []
    for i in order:
        u, v = cand[i]
        ru, rv = find(u), find(v)
        if ru != rv:
            parent[ru] = rv
            kept.append((u, v))
        else:
            rest.append((u, v))
    kept += [e for e in rest if rng.random() < 0.55]
    for _ in range(60):  # diagonal footpaths
        r, c = rng.integers(0, k - 1, 2)
        kept.append((int(node[r, c]), int(node[r + 1, c + 1])))
    edges = []
    for u, v in sorted(set(kept)):
        length = float(np.hypot(*(xy[u] - xy[v])))
        grade = abs(z[u] - z[v]) / length
        edges.append((u, v, "steps" if grade > 0.10 else ("footway" if rng.random() < 0.2 else "residential")))
    return xy, z, edges


def main() -> None:
    rng = np.random.default_rng(SEED)
    to_lonlat = Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True)
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
    cx, cy = to_utm.transform(*CENTRE_LONLAT)
    origin = np.array([cx - SIDE / 2, cy - SIDE / 2])

    def lonlat(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = to_lonlat.transform(p[:, 0] + origin[0], p[:, 1] + origin[1])
        return np.round(lon, 7), np.round(lat, 7)

    OUT.mkdir(parents=True, exist_ok=True)
    xy, z, edges = build_network(rng)
    lon, lat = lonlat(xy)
    with open(OUT / "network_nodes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "lon", "lat", "elevation_m"])
        for i in range(len(xy)):
            w.writerow([f"N{i}", f"{lon[i]:.7f}", f"{lat[i]:.7f}", f"{z[i]:.1f}"])
    with open(OUT / "network_edges.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["u", "v", "highway"])
        for u, v, hw in edges:
            w.writerow([f"N{u}", f"N{v}", hw])

    # residential compounds (小区) and buildings
    n_compounds = 14
    centres = rng.uniform(150, SIDE - 150, (n_compounds, 2))
    elderly_share = rng.uniform(0.14, 0.32, n_compounds)  # older compounds house more elderly
    sizes = rng.integers(14, 34, n_compounds)
    rows = []
    b = 0
    for c in range(n_compounds):
        pts = np.clip(centres[c] + rng.normal(0, 75, (sizes[c], 2)), 10, SIDE - 10)
        for p in pts:
            households = int(rng.integers(30, 150))
            persons = households * PERSONS_PER_HOUSEHOLD
            eld = elderly_share[c]
            chi = SHARES["children"] * (1 - eld) / (1 - SHARES["elderly"])
            children = round(persons * chi)
            elderly = round(persons * eld)
            working = round(persons) - children - elderly
            rows.append((f"B{b:04d}", f"C{c:02d}", p, households, children, working, elderly))
            b += 1
    pts = np.array([r[2] for r in rows])
    lon, lat = lonlat(pts)
    with open(OUT / "demand.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "compound", "lon", "lat", "households", "children", "working", "elderly"])
        for r, lo, la in zip(rows, lon, lat, strict=True):
            w.writerow([r[0], r[1], f"{lo:.7f}", f"{la:.7f}", r[3], r[4], r[5], r[6]])

    # idle-asset ledger (闲置资产一本账)
    ledger = [  # id, name, kind, floor area range, retrofit yuan/m² range, count
        ("F", "原机械厂老厂房 old machinery factory halls", "factory", (5000, 5000), (1500, 1700), 1),
        ("W", "闲置仓库 vacant warehouse", "warehouse", (1400, 1800), (1100, 1400), 1),
        ("M", "原农贸市场 former market hall", "market", (700, 1200), (1200, 1500), 2),
        ("O", "闲置办公楼层 vacant office floor", "office", (400, 900), (1000, 1300), 3),
        ("K", "原街道小学旧校舍 old primary-school building", "school", (1900, 2100), (1300, 1600), 1),
        ("D", "人防工程 civil-defence basement", "civil_defence", (500, 800), (900, 1200), 2),
        ("S", "闲置商铺 vacant shop", "shop", (90, 420), (900, 1500), 16),
    ]
    sites = []
    for prefix, name, kind, area_rng, unit_rng, count in ledger:
        for i in range(count):
            if kind == "shop":  # shops sit near housing
                p = centres[rng.integers(0, n_compounds)] + rng.normal(0, 120, 2)
            else:
                p = rng.uniform(100, SIDE - 100, 2)
            p = np.clip(p, 20, SIDE - 20)
            area = float(round(rng.uniform(*area_rng), -1))
            cost = float(round(area * rng.uniform(*unit_rng), -4))
            label = f"{name} {i + 1}" if count > 1 else name
            sites.append((f"{prefix}{i + 1:02d}", label, kind, p, area, cost, ";".join(ALLOWED[kind])))
    pts = np.array([s[3] for s in sites])
    lon, lat = lonlat(pts)
    with open(OUT / "sites.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "kind", "lon", "lat", "floor_area_m2", "retrofit_cost", "allowed"])
        for s, lo, la in zip(sites, lon, lat, strict=True):
            w.writerow([s[0], s[1], s[2], f"{lo:.7f}", f"{la:.7f}", f"{s[4]:.0f}", f"{s[5]:.0f}", s[6]])

    existing = [
        ("E01", "社区卫生服务站 health station (existing)", "health_station", (1200, 300)),
        ("E02", "幼儿园 kindergarten (existing)", "kindergarten", (250, 300)),
        ("E03", "文化活动站 cultural station (existing)", "culture_station", (900, 1350)),
        ("E04", "社区服务站 service station (existing)", "service_station", (600, 700)),
        ("E05", "社区食堂 canteen (existing)", "canteen", (1350, 1300)),
    ]
    pts = np.array([e[3] for e in existing], dtype=float)
    lon, lat = lonlat(pts)
    with open(OUT / "existing.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "service", "lon", "lat"])
        for e, lo, la in zip(existing, lon, lat, strict=True):
            w.writerow([e[0], e[1], e[2], f"{lo:.7f}", f"{la:.7f}"])
    total = sum(r[4] + r[5] + r[6] for r in rows)
    print(f"wrote {OUT}: {len(xy)} nodes, {len(edges)} edges "
          f"({sum(e[2] == 'steps' for e in edges)} stairs), {len(rows)} buildings, {total} residents, "
          f"{len(sites)} idle sites, {len(existing)} existing facilities")


if __name__ == "__main__":
    main()
