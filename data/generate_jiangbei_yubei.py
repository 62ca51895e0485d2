"""Generate the embedded demonstration district ``data/jiangbei-yubei/`` (fixed seed; 示例数据).

A synthetic 15-minute life circle of about 1.5 × 1.5 km in Guanyinqiao sub-district, Jiangbei
District, Chongqing (观音桥街道): hilly streets with stairs, 14 residential compounds (小区)
grouped into 8 invented communities (社区), an idle-asset ledger (an old factory complex of
about 5,000 m², vacant shops, a warehouse, office floors, market halls, vacant lots...) and a
few existing facilities. Every figure is synthetic except the census shares and household size
named below.

Real figures used:

- age shares of Chongqing, 7th national census (2020): 0–14 15.91 %, 15–59 62.22 %, 60+ 21.87 %;
- 2.45 persons per household (Chongqing, 7th census);
- location: centre near 106.533 E, 29.578 N (Guanyinqiao, Jiangbei), UTM zone 48N;
- elevations in the range of the Guanyinqiao area (roughly 220–330 m above sea level).

The split of 0–14 into 0–2 / 3–5 / 6–14 (2.8 / 3.1 / 10.01 %) and of 60+ into 60–79 / 80+
(18.9 / 2.97 %) is siting's estimate (the catalogue's ``age_groups.yaml``), not a census figure.

Run from the repository root with the project's environment:
``.venv/bin/python data/generate_jiangbei_yubei.py``. It writes ``data/jiangbei-yubei/*.csv``
and the ``README.md`` beside them; the output is committed and re-running reproduces it byte for
byte. The random draws come in a fixed order (network, compounds and buildings, ledger), so the
street network, the buildings and the old ledger rows stay where earlier versions put them.
The README's table of hosts per basic service reads siting's default catalogue.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyproj import Transformer

from siting.data.catalogue import Catalogue, Service, default_catalogue

SEED = 20240915
SIDE = 1500.0  # metres
SPACING = 50.0  # street grid spacing, metres
CENTRE_LONLAT = (106.5330, 29.5780)
PERSONS_PER_HOUSEHOLD = 2.45
#: Default budget of the scenario ``scenarios/jiangbei-yubei.yaml``, yuan (for the README's host check).
BUDGET = 12_000_000
OUT = Path(__file__).resolve().parent / "jiangbei-yubei"

#: Chongqing, 7th national census (2020): shares of 0–14, 15–59 and 60+.
CENSUS_SHARES = {"0–14": 0.1591, "15–59": 0.6222, "60+": 0.2187}
#: The catalogue's six age bands and their shares of the population (sum 1). 15–59 is the census
#: figure; the split of 0–14 and of 60+ into bands is siting's estimate (age_groups.yaml).
BAND_SHARES = {"infants": 0.028, "preschool": 0.031, "school_age": 0.1001,
               "working_age": 0.6222, "seniors": 0.189, "oldest_old": 0.0297}
BANDS = tuple(BAND_SHARES)
ELDERLY_BANDS = ("seniors", "oldest_old")
BAND_AGES = {"infants": "0–2", "preschool": "3–5", "school_age": "6–14",
             "working_age": "15–59", "seniors": "60–79", "oldest_old": "80+"}

N_COMPOUNDS = 14
#: The communities (社区): invented names, each a group of neighbouring compounds (by compound
#: number, C00–C13), chosen by hand from where the seed puts the compounds so that every community
#: is one contiguous area of 5,000–15,000 residents.
COMMUNITIES: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("西溪社区", "Xixi (west creek)", (7,)),
    ("溪谷社区", "Xigu (creek valley)", (5, 11)),
    ("东溪社区", "Dongxi (east creek)", (3, 4)),
    ("厂坡社区", "Changpo (factory slope)", (0,)),
    ("岭上社区", "Lingshang (on the ridge)", (1, 2, 10)),
    ("中坪社区", "Zhongping (middle terrace)", (6,)),
    ("北坡社区", "Beipo (north slope)", (8, 9)),
    ("高台社区", "Gaotai (high terrace)", (12, 13)),
)

#: Which services a kind of idle building may host (a planner's judgement, synthetic).
ALLOWED = {
    "factory": ["elderly_day_care", "health_station", "kindergarten", "childcare", "canteen", "culture_station",
                "service_station", "sports_space", "outdoor_fitness", "study_room", "night_school", "coworking"],
    "warehouse": ["elderly_day_care", "canteen", "culture_station", "sports_space", "outdoor_fitness",
                  "fresh_market", "night_school", "coworking"],
    "market": ["elderly_day_care", "canteen", "culture_station", "service_station", "sports_space",
               "fresh_market", "convenience_services"],
    "office": ["elderly_day_care", "childcare", "culture_station", "service_station", "study_room",
               "night_school", "coworking"],
    "school": ["kindergarten", "childcare", "culture_station", "sports_space", "outdoor_fitness", "study_room",
               "night_school"],
    "civil_defence": ["culture_station", "study_room", "coworking"],
    "shop": ["elderly_day_care", "health_station", "childcare", "canteen", "convenience_services", "study_room"],
    "open_space": ["outdoor_fitness", "sports_space"],
}


@dataclass(frozen=True)
class LedgerKind:
    """One kind of row in the idle-asset ledger and how its figures are drawn.

    Attributes
    ----------
    prefix
        Letter of the site ids (``F`` gives F01, F02...).
    name
        Name of the building kind, Chinese and English.
    kind
        Key of the kind (the ``kind`` column and the key of :data:`ALLOWED`).
    area_m2
        Range of the usable floor area (or, for open ground, the usable area), m².
    yuan_per_m2
        Range of the conversion cost per m²: of the whole building when ``fixed_cost`` is None
        (one cost, paid once), else of the floor area the plan converts.
    count
        How many such rows.
    fixed_cost
        Cost paid once if the building is used at all (structure, fire safety), yuan; None for
        rows costed as a whole.
    spread_m
        Place the rows near a random compound with this standard deviation, metres; None to
        place them anywhere in the district.
    """

    prefix: str
    name: str
    kind: str
    area_m2: tuple[float, float]
    yuan_per_m2: tuple[float, float]
    count: int
    fixed_cost: float | None = None
    spread_m: float | None = None


#: The idle-asset ledger (闲置资产一本账), in the order its draws are made.
LEDGER = (
    LedgerKind("F", "原机械厂老厂房 old machinery factory halls", "factory", (5000, 5000), (900, 1300), 1,
               fixed_cost=2_000_000),
    LedgerKind("W", "闲置仓库 vacant warehouse", "warehouse", (1400, 1800), (700, 1000), 1, fixed_cost=600_000),
    LedgerKind("M", "原农贸市场 former market hall", "market", (700, 1200), (1200, 1500), 2),
    LedgerKind("O", "闲置办公楼层 vacant office floor", "office", (400, 900), (1000, 1300), 3),
    LedgerKind("K", "原街道小学旧校舍 old primary-school building", "school", (3200, 3600), (800, 1100), 1,
               fixed_cost=1_200_000),
    LedgerKind("D", "人防工程 civil-defence basement", "civil_defence", (500, 800), (900, 1200), 2),
    LedgerKind("S", "闲置商铺 vacant shop", "shop", (90, 420), (900, 1500), 16, spread_m=120.0),
    LedgerKind("V", "闲置空地 vacant lot", "open_space", (300, 1000), (250, 450), 3, spread_m=120.0),
)

#: Existing facilities: id, name, service, position in district metres (not drawn).
EXISTING = (
    ("E01", "社区卫生服务站 health station (existing)", "health_station", (1200, 300)),
    ("E02", "幼儿园 kindergarten (existing)", "kindergarten", (250, 300)),
    ("E03", "文化活动站 cultural station (existing)", "culture_station", (900, 1350)),
    ("E04", "社区服务站 service station (existing)", "service_station", (600, 700)),
    ("E05", "社区食堂 canteen (existing)", "canteen", (1350, 1300)),
)


@dataclass(frozen=True)
class Building:
    """A residential building (a demand point)."""

    id: str
    community: str
    compound: str
    xy: np.ndarray
    households: int
    residents: dict[str, int]


@dataclass(frozen=True)
class Site:
    """A row of the idle-asset ledger."""

    id: str
    name: str
    kind: str
    xy: np.ndarray
    floor_area_m2: float
    fixed_cost: float
    cost_per_m2: float
    allowed: tuple[str, ...]


def elevation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Hilly terrain: a ridge across the district, two hills and a valley.

    Parameters
    ----------
    x, y
        Positions in district metres (origin at the south-west corner).

    Returns
    -------
    numpy.ndarray
        Elevation above sea level, metres.
    """
    ridge = 45.0 * np.exp(-(((x - 0.35 * y - 500.0) / 260.0) ** 2))
    hill1 = 38.0 * np.exp(-(((x - 1150.0) ** 2 + (y - 1100.0) ** 2) / (2 * 230.0 ** 2)))
    hill2 = 25.0 * np.exp(-(((x - 300.0) ** 2 + (y - 1250.0) ** 2) / (2 * 180.0 ** 2)))
    valley = -20.0 * np.exp(-(((y - 250.0) / 200.0) ** 2))
    return 245.0 + ridge + hill1 + hill2 + valley + 0.012 * x


def build_network(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, str]]]:
    """A jittered street grid with missing links, diagonal footpaths and stairs on steep links.

    Parameters
    ----------
    rng
        The generator's random stream (its first draws).

    Returns
    -------
    xy : numpy.ndarray
        Node positions in district metres, shape (n, 2).
    z : numpy.ndarray
        Node elevations, metres.
    edges : list of (int, int, str)
        Links as (node, node, highway); links steeper than 10 % are ``steps``.
    """
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


def band_shares(elderly_share: float) -> np.ndarray:
    """Shares of the six age bands in a compound whose residents are ``elderly_share`` aged 60+.

    The elderly share is split into 60–79 and 80+ in the census ratio; the rest of the residents
    into 0–2, 3–5, 6–14 and 15–59 in the census ratio.

    Parameters
    ----------
    elderly_share
        Share of residents aged 60 and over.

    Returns
    -------
    numpy.ndarray
        One share per band of :data:`BANDS`, summing to 1.
    """
    census = np.array([BAND_SHARES[b] for b in BANDS])
    elderly = np.array([b in ELDERLY_BANDS for b in BANDS])
    return np.where(elderly, census * elderly_share / census[elderly].sum(),
                    census * (1 - elderly_share) / census[~elderly].sum())


def split_residents(total: int, shares: np.ndarray) -> np.ndarray:
    """Whole residents per band summing to ``total`` (largest-remainder rounding).

    Parameters
    ----------
    total
        Residents of the building.
    shares
        Share of each band, summing to 1.

    Returns
    -------
    numpy.ndarray
        Integer residents per band.
    """
    exact = total * shares
    counts = np.floor(exact).astype(int)
    short = total - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return counts


def make_buildings(rng: np.random.Generator) -> tuple[list[Building], np.ndarray]:
    """Residential compounds (小区) and their buildings, each in its community.

    Parameters
    ----------
    rng
        The random stream, after the network's draws.

    Returns
    -------
    buildings : list of Building
        The demand points.
    centres : numpy.ndarray
        Compound centres in district metres, shape (compounds, 2).
    """
    community_of = {c: name for name, _, compounds in COMMUNITIES for c in compounds}
    assert sorted(community_of) == list(range(N_COMPOUNDS)), "every compound belongs to exactly one community"
    centres = rng.uniform(150, SIDE - 150, (N_COMPOUNDS, 2))
    elderly_share = rng.uniform(0.14, 0.32, N_COMPOUNDS)  # older compounds house more elderly
    sizes = rng.integers(14, 34, N_COMPOUNDS)
    buildings = []
    for c in range(N_COMPOUNDS):
        pts = np.clip(centres[c] + rng.normal(0, 75, (sizes[c], 2)), 10, SIDE - 10)
        shares = band_shares(float(elderly_share[c]))
        for p in pts:
            households = int(rng.integers(30, 150))
            counts = split_residents(round(households * PERSONS_PER_HOUSEHOLD), shares)
            buildings.append(Building(f"B{len(buildings):04d}", community_of[c], f"C{c:02d}", p, households,
                                      dict(zip(BANDS, (int(n) for n in counts), strict=True))))
    return buildings, centres


def make_ledger(rng: np.random.Generator, centres: np.ndarray) -> list[Site]:
    """The idle-asset ledger (闲置资产一本账), drawn row by row in :data:`LEDGER` order.

    Each row takes the same draws whatever its cost model (a position, an area, a cost per m²),
    so that changing a kind's figures does not move the rows after it.

    Parameters
    ----------
    rng
        The random stream, after the buildings' draws.
    centres
        Compound centres (sites near housing are placed around them).

    Returns
    -------
    list of Site
        The ledger rows.
    """
    sites = []
    for spec in LEDGER:
        for i in range(spec.count):
            if spec.spread_m is not None:  # near housing
                p = centres[rng.integers(0, len(centres))] + rng.normal(0, spec.spread_m, 2)
            else:
                p = rng.uniform(100, SIDE - 100, 2)
            p = np.clip(p, 20, SIDE - 20)
            area = float(round(rng.uniform(*spec.area_m2), -1))
            unit = float(rng.uniform(*spec.yuan_per_m2))
            if spec.fixed_cost is None:  # one cost for the whole conversion, paid once
                fixed, per_m2 = float(round(area * unit, -4)), 0.0
            else:  # a fixed part, and a part per m² the plan converts
                fixed, per_m2 = float(spec.fixed_cost), float(round(unit, -1))
            label = f"{spec.name} {i + 1}" if spec.count > 1 else spec.name
            sites.append(Site(f"{spec.prefix}{i + 1:02d}", label, spec.kind, p, area, fixed, per_m2,
                              tuple(ALLOWED[spec.kind])))
    return sites


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    """Write one table (UTF-8, ``\\r\\n`` line ends as the csv module writes them)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def main() -> None:
    """Draw the district and write its tables and README to :data:`OUT`."""
    rng = np.random.default_rng(SEED)
    to_lonlat = Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True)
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
    cx, cy = to_utm.transform(*CENTRE_LONLAT)
    origin = np.array([cx - SIDE / 2, cy - SIDE / 2])

    def lonlat(p: np.ndarray) -> list[tuple[str, str]]:
        lon, lat = to_lonlat.transform(p[:, 0] + origin[0], p[:, 1] + origin[1])
        return [(f"{lo:.7f}", f"{la:.7f}") for lo, la in zip(np.round(lon, 7), np.round(lat, 7), strict=True)]

    OUT.mkdir(parents=True, exist_ok=True)
    xy, z, edges = build_network(rng)
    write_csv(OUT / "network_nodes.csv", ["id", "lon", "lat", "elevation_m"],
              [[f"N{i}", *ll, f"{z[i]:.1f}"] for i, ll in enumerate(lonlat(xy))])
    write_csv(OUT / "network_edges.csv", ["u", "v", "highway"], [[f"N{u}", f"N{v}", hw] for u, v, hw in edges])

    buildings, centres = make_buildings(rng)
    write_csv(OUT / "demand.csv", ["id", "community", "compound", "lon", "lat", "households", *BANDS],
              [[b.id, b.community, b.compound, *ll, b.households, *(b.residents[k] for k in BANDS)]
               for b, ll in zip(buildings, lonlat(np.array([b.xy for b in buildings])), strict=True)])

    sites = make_ledger(rng, centres)
    write_csv(OUT / "sites.csv",
              ["id", "name", "kind", "lon", "lat", "floor_area_m2", "fixed_cost", "cost_per_m2", "allowed"],
              [[s.id, s.name, s.kind, *ll, f"{s.floor_area_m2:.0f}", f"{s.fixed_cost:.0f}", f"{s.cost_per_m2:.0f}",
                ";".join(s.allowed)]
               for s, ll in zip(sites, lonlat(np.array([s.xy for s in sites])), strict=True)])

    write_csv(OUT / "existing.csv", ["id", "name", "service", "lon", "lat"],
              [[e[0], e[1], e[2], *ll]
               for e, ll in zip(EXISTING, lonlat(np.array([e[3] for e in EXISTING], dtype=float)), strict=True)])

    stairs = sum(e[2] == "steps" for e in edges)
    (OUT / "README.md").write_text(readme(len(xy), len(edges), stairs, buildings, sites), encoding="utf-8")
    total = sum(sum(b.residents.values()) for b in buildings)
    print(f"wrote {OUT}: {len(xy)} nodes, {len(edges)} edges ({stairs} stairs), {len(buildings)} buildings in "
          f"{N_COMPOUNDS} compounds and {len(COMMUNITIES)} communities, {total} residents, {len(sites)} idle sites, "
          f"{len(EXISTING)} existing facilities")


# --- README ----------------------------------------------------------------------------------

CHILD_BANDS = ("infants", "preschool", "school_age")


def _n(x: float) -> str:
    """A number with thousands separators."""
    return f"{x:,.0f}"


def _residents(buildings: list[Building], bands: tuple[str, ...] = BANDS) -> int:
    """Residents of the given bands in the given buildings."""
    return sum(b.residents[k] for b in buildings for k in bands)


def conversion_cost(site: Site, service: Service) -> float:
    """Cost of one conversion: fixed cost + cost per m² × the service's area + the service's fit-out."""
    return site.fixed_cost + site.cost_per_m2 * service.floor_area_m2 + service.fitout_cost


def file_table(nodes: int, links: int, stairs: int, buildings: list[Building], sites: list[Site]) -> str:
    """Markdown table of the files, what they hold and their columns."""
    rows = [
        ("demand.csv", f"{len(buildings)} residential buildings in {N_COMPOUNDS} compounds (小区) and "
                       f"{len(COMMUNITIES)} communities (社区), {_n(_residents(buildings))} residents",
         f"id, community, compound, lon, lat (WGS84), households, {', '.join(BANDS)}"),
        ("sites.csv", f"idle-asset ledger (闲置资产一本账): {len(sites)} sites",
         "id, name, kind, lon, lat, floor_area_m2, fixed_cost (yuan), cost_per_m2 (yuan/m²), "
         "allowed (`;`-separated service keys)"),
        ("existing.csv", f"{len(EXISTING)} existing facilities", "id, name, service, lon, lat"),
        ("network_nodes.csv", f"{_n(nodes)} street nodes with elevation", "id, lon, lat, elevation_m"),
        ("network_edges.csv", f"{_n(links)} walkable links, {stairs} of them stairs",
         "u, v, highway (`steps` = stairs)"),
    ]
    return "\n".join(["| file | what | columns |", "|---|---|---|",
                      *(f"| `{f}` | {what} | {cols} |" for f, what, cols in rows)])


def community_table(buildings: list[Building]) -> str:
    """Markdown table of the communities: compounds, buildings, households, residents, age shares."""
    def row(label: str, compounds: str, mine: list[Building]) -> str:
        res = _residents(mine)
        return (f"| {label} | {compounds} | {len(mine)} | {_n(sum(b.households for b in mine))} | {_n(res)} | "
                f"{_residents(mine, CHILD_BANDS) / res:.1%} | {_residents(mine, ELDERLY_BANDS) / res:.1%} | "
                f"{_residents(mine, ('oldest_old',)) / res:.1%} |")

    lines = ["| 社区 community | compounds | buildings | households | residents | 0–14 | 60+ | of which 80+ |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, gloss, compounds in COMMUNITIES:
        lines.append(row(f"{name} {gloss}", ", ".join(f"C{c:02d}" for c in compounds),
                         [b for b in buildings if b.community == name]))
    lines.append(row("**total**", f"{N_COMPOUNDS}", buildings))
    return "\n".join(lines)


def band_table(buildings: list[Building]) -> str:
    """Markdown table of the age-band columns: ages, census share, residents in the data."""
    res = _residents(buildings)
    lines = ["| column | ages | share used (census) | residents | share in the data |", "|---|---|---:|---:|---:|"]
    for k in BANDS:
        n = _residents(buildings, (k,))
        lines.append(f"| `{k}` | {BAND_AGES[k]} | {BAND_SHARES[k]:.2%} | {_n(n)} | {n / res:.1%} |")
    return "\n".join(lines)


def ledger_table(sites: list[Site]) -> str:
    """Markdown table of the ledger rows: kind, area, costs (whole, or fixed + per m²)."""
    lines = ["| id | name | kind | floor area m² | fixed_cost (yuan) | cost_per_m2 (yuan/m²) | "
             "whole site converted (yuan) |", "|---|---|---|---:|---:|---:|---:|"]
    for s in sites:
        per_m2 = f"**{_n(s.cost_per_m2)}**" if s.cost_per_m2 else "0 (one cost)"
        lines.append(f"| {s.id} | {s.name} | {s.kind} | {_n(s.floor_area_m2)} | {_n(s.fixed_cost)} | {per_m2} | "
                     f"{_n(s.fixed_cost + s.cost_per_m2 * s.floor_area_m2)} |")
    return "\n".join(lines)


def allowed_table() -> str:
    """Markdown table: which services each kind of building may host."""
    lines = ["| kind | may host (`allowed`) |", "|---|---|"]
    lines += [f"| `{kind}` | {', '.join(services)} |" for kind, services in ALLOWED.items()]
    return "\n".join(lines)


def host_table(sites: list[Site], catalogue: Catalogue) -> str:
    """Markdown table: for every basic service, the cheapest allowed site big enough and its cost.

    Raises
    ------
    SystemExit
        When a basic service has no allowed host big enough within :data:`BUDGET`, or
        :data:`ALLOWED` names a service the catalogue does not know.
    """
    unknown = sorted({k for ks in ALLOWED.values() for k in ks} - set(catalogue.service_keys))
    if unknown:
        raise SystemExit(f"ALLOWED names services the catalogue does not know: {unknown}")
    lines = ["| service | floor area m² | fit-out (yuan) | sites big enough | cheapest host | its cost (yuan) |",
             "|---|---:|---:|---:|---|---:|"]
    for sv in catalogue.services:
        if sv.category != "basic":
            continue
        hosts = [s for s in sites if sv.key in s.allowed and s.floor_area_m2 >= sv.floor_area_m2]
        costs = [conversion_cost(s, sv) for s in hosts]
        if not hosts or min(costs) > BUDGET:
            raise SystemExit(f"basic service {sv.key} has no allowed site of {sv.floor_area_m2:g} m² or more "
                             f"within the budget of {BUDGET:,} yuan")
        best = int(np.argmin(costs))
        lines.append(f"| {sv.key} | {_n(sv.floor_area_m2)} | {_n(sv.fitout_cost)} | {len(hosts)} | "
                     f"{hosts[best].id} ({hosts[best].kind}) | {_n(costs[best])} |")
    return "\n".join(lines)


def readme(nodes: int, links: int, stairs: int, buildings: list[Building], sites: list[Site]) -> str:
    """The README of the district, its tables and counts computed from the generated data.

    The host table and the factory's example read siting's default catalogue (floor areas and
    fit-out costs of the services).
    """
    catalogue = default_catalogue()
    kinds = {k: sum(s.kind == k for s in sites) for k in ALLOWED}
    per_m2 = [s for s in sites if s.cost_per_m2 > 0]
    factory = next(s for s in sites if s.kind == "factory")
    kindergarten = catalogue.service("kindergarten")
    whole = [s.fixed_cost / s.floor_area_m2 for s in sites if s.cost_per_m2 == 0 and s.kind != "open_space"]
    lots = [s.fixed_cost / s.floor_area_m2 for s in sites if s.kind == "open_space"]
    return f"""# jiangbei-yubei — embedded demonstration district (示例数据 · synthetic)

**This is synthetic demonstration data. 本数据为示例数据（合成），不是真实数据。** It is shaped like a
15-minute life circle (十五分钟生活圈居住区) in Guanyinqiao sub-district, Jiangbei District,
Chongqing (江北区观音桥街道), so that `siting` can be tried offline on a realistic case, but no
community, building, site, cost or street in it is real. The community names are invented.

Generated, this README included, by `.venv/bin/python data/generate_jiangbei_yubei.py` (fixed
seed; re-running reproduces these files byte for byte). Edit the generator, not these files.

{file_table(nodes, links, stairs, buildings, sites)}

## Communities (社区)

The {_n(_residents(buildings))} residents are a 15-minute 居住区, not one community: they live in
{len(COMMUNITIES)} invented communities of neighbouring compounds, each of 5,000–15,000 residents
(GB 50180-2018 puts a 5-minute life circle at 5,000–12,000 residents; the two largest here are
above that, as many real communities are). Each building's community is in the `community` column.

{community_table(buildings)}

## Residents by age band

One column of whole residents per age band of siting's catalogue (`age_groups.yaml`). Each
building's residents (households × 2.45, rounded) are split by its compound's shares and rounded
so that the bands add up to the building's total. The share aged 60+ varies between compounds
from 14 % to 32 % (old compounds house more elderly) and is split into 60–79 and 80+ in the
census ratio; the other residents are split into 0–2, 3–5, 6–14 and 15–59 in the census ratio.
The data therefore hold more elderly than the city-wide census share.

{band_table(buildings)}

## The idle-asset ledger (闲置资产一本账)

Every row gives `fixed_cost` and `cost_per_m2` (siting also reads a single `retrofit_cost`
column instead, but one file gives one form or the other, so this ledger, which holds both kinds
of building, gives every row the two-part form). Converting floor area *a* of a site for one
service costs `fixed_cost`, paid once if the site is used at all, plus `cost_per_m2` × *a*, plus
the service's own fit-out from the catalogue (`fitout_yuan_per_m2` × its floor area).

- **Priced per m² ({", ".join(s.id for s in per_m2)})**: the old factory, the warehouse and the old
  school are large enough to be converted in part, so they give a fixed part (structure, fire
  safety) and a cost per m² converted (cost_per_m2 in bold below).
- **The factory {factory.id}** ({_n(factory.floor_area_m2)} m², the seed's 北仓 case of a factory turned into
  a block of many services) costs {_n(factory.fixed_cost)} yuan + {_n(factory.cost_per_m2)} yuan/m² converted.
  Converted whole: {_n(factory.fixed_cost + factory.cost_per_m2 * factory.floor_area_m2)} yuan.
  A {_n(kindergarten.floor_area_m2)} m² kindergarten in it: {_n(conversion_cost(factory, kindergarten))} yuan,
  its fit-out of {_n(kindergarten.fitout_cost)} yuan included.
- **One cost (every other row)**: `fixed_cost` is the whole conversion, paid once, and
  `cost_per_m2` is 0: about {min(whole):,.0f}–{max(whole):,.0f} yuan/m² of floor area for buildings,
  {min(lots):,.0f}–{max(lots):,.0f} yuan/m² for vacant lots (clearing, retaining, paving).

{ledger_table(sites)}

Kinds: {", ".join(f"{n} {k}" for k, n in kinds.items())}. A vacant lot (`open_space`, 闲置空地)
gives its usable area as `floor_area_m2`; a factory, warehouse or school may host an outdoor
fitness ground on its yard, roof or open ground.

{allowed_table()}

Every basic service of the default catalogue has a site allowed to host it that is big enough,
and at least one such conversion fits the default budget of {BUDGET:,} yuan (costed as above,
fit-out included; the generator checks this):

{host_table(sites, catalogue)}

## Real figures it uses

- Age shares of Chongqing's population, 7th national census (2020): 0–14 15.91 %, 15–59 62.22 %,
  60+ 21.87 %. The split of 0–14 into 0–2 / 3–5 / 6–14 (2.8 / 3.1 / 10.01 %) and of 60+ into
  60–79 / 80+ (18.9 / 2.97 %) is siting's estimate from the national age profile (see
  `siting catalog`), not a published Chongqing figure.
- 2.45 persons per household (Chongqing, 7th census).
- Location: about 1.5 × 1.5 km centred near 106.533 E, 29.578 N; coordinates in WGS84,
  projected by `siting` to UTM zone 48N (EPSG:32648).
- Hilly terrain with elevations of roughly 225–330 m, in the range of the Guanyinqiao area;
  links steeper than 10 % are stairs, as is common in Chongqing's old neighbourhoods.

## Chosen for the demonstration (not real)

- The street grid (50 m spacing, jittered, some links missing, diagonal footpaths).
- Buildings, households (30–150 per building), compounds, the communities and their names.
- The elderly share of each compound (14–32 %).
- The ledger: an old factory complex of 5,000 m² (in the spirit of the 北仓 cultural block's
  reuse of about 5,000 m² of factory buildings), a warehouse, two former market halls, three
  vacant office floors, an old school building, two civil-defence basements, 16 vacant shops and
  three vacant lots; floor areas, costs (fixed parts and costs per m²) and the services each kind
  of site may host.
- Existing facilities: a health station, a kindergarten, a cultural station, a service station
  and a canteen.
"""


if __name__ == "__main__":
    main()
