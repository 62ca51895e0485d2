"""Generate the synthetic "1+6+N" city ``data/jiangbei-1-6-n/`` (fixed seed; 示例数据).

A city in the shape of Jiangbei District's programme (典型引路、梯次推进): one flagship life circle
(渝北社区), the six themed circles the programme names — 忠恕沱社区 康养 (health and elderly care),
三洞桥社区 金融 (finance), 和悦社区 产业 (industry), 茅溪社区 文体 (culture and sport), 工校社区
创业 (entrepreneurship), 望江片区 银龄 (silver age) — and five further circles with invented
names. **Every building, site, cost and figure is synthetic**; only the circles' names and
themes come from the programme, and the census shares below are real.

Each circle is a square of 1.2 km (a 15-minute circle's reach) on a 4 × 3 grid; its residential
buildings stand in three to five compounds (小区), its idle-asset ledger (闲置资产一本账) has the
kinds of buildings its theme suggests (factory halls in the industrial circle, office floors in
the finance circle...). Age shares lean by theme (older in 康养 and 银龄, younger in 金融 and
创业) around Chongqing's 7th-census shares (0–14 15.91 %, 15–59 62.22 %, 60+ 21.87 %; the split
into six bands is the catalogue's estimate, ``age_groups.yaml``); 2.45 persons per household.
Coordinates are UTM zone 48N metres (EPSG:32648) near Jiangbei (106.55 E, 29.59 N); walking is
a straight line × 1.3 (no street network is generated).

Run from the repository root: ``.venv/bin/python data/generate_jiangbei_1_6_n.py``. It writes
``demand.csv``, ``sites.csv``, ``existing.csv``, ``circles.geojson`` and ``README.md``; the
output is committed and re-running reproduces it byte for byte.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from pyproj import Transformer

SEED = 20251116
OUT = Path(__file__).resolve().parent / "jiangbei-1-6-n"
CRS = "EPSG:32648"
ORIGIN = (648_000.0, 3_274_000.0)  # south-west corner of the grid, UTM 48N metres (near 106.54 E, 29.58 N)
CELL = 1200.0
PERSONS_PER_HOUSEHOLD = 2.45
BANDS = ("infants", "preschool", "school_age", "working_age", "seniors", "oldest_old")
#: Chongqing, 7th census, split into the catalogue's bands (age_groups.yaml; the splits are its estimate).
BAND_SHARES = np.array([0.028, 0.031, 0.1001, 0.6222, 0.189, 0.0297])

#: name, English, theme (Chinese preset name), grid cell (column, row), compounds, lean of the age profile
#: (multipliers of children, working age, elderly shares before normalising).
CIRCLES = (
    ("渝北社区", "Yubei (flagship)", "综合", (1, 1), 5, (1.0, 1.0, 1.0)),
    ("忠恕沱社区", "Zhongshutuo", "康养", (0, 2), 4, (0.8, 0.9, 1.5)),
    ("三洞桥社区", "Sandongqiao", "金融", (2, 1), 4, (1.2, 1.15, 0.6)),
    ("和悦社区", "Heyue", "产业", (3, 0), 3, (1.0, 1.2, 0.7)),
    ("茅溪社区", "Maoxi", "文体", (1, 2), 4, (1.2, 1.0, 0.9)),
    ("工校社区", "Gongxiao", "创业", (2, 0), 3, (1.1, 1.25, 0.5)),
    ("望江片区", "Wangjiang", "银龄", (0, 1), 4, (0.7, 0.85, 1.7)),
    ("溪桥社区", "Xiqiao (invented)", "", (3, 1), 3, (1.0, 1.0, 1.0)),
    ("石坪社区", "Shiping (invented)", "", (1, 0), 3, (1.0, 1.0, 1.1)),
    ("云台社区", "Yuntai (invented)", "", (3, 2), 3, (1.1, 1.0, 0.9)),
    ("松林社区", "Songlin (invented)", "", (0, 0), 3, (0.9, 1.0, 1.2)),
    ("江湾社区", "Jiangwan (invented)", "", (2, 2), 3, (1.0, 1.05, 1.0)),
)

#: kind → (Chinese and English name, floor area range m², yuan per m² range, allowed services)
KINDS = {
    "factory": ("闲置厂房 vacant factory hall", (1500, 4000), (900, 1300),
                ["elderly_day_care", "health_station", "kindergarten", "childcare", "canteen", "culture_station",
                 "service_station", "sports_space", "outdoor_fitness", "study_room", "night_school", "coworking"]),
    "office": ("闲置办公楼层 vacant office floor", (400, 900), (1000, 1300),
               ["elderly_day_care", "childcare", "culture_station", "service_station", "study_room", "night_school",
                "coworking"]),
    "market": ("原农贸市场 former market hall", (700, 1200), (1100, 1400),
               ["elderly_day_care", "canteen", "culture_station", "service_station", "sports_space", "fresh_market",
                "convenience_services"]),
    "school": ("旧校舍 old school building", (1500, 3000), (800, 1100),
               ["kindergarten", "childcare", "culture_station", "sports_space", "outdoor_fitness", "study_room",
                "night_school"]),
    "clinic": ("闲置诊所 vacant clinic", (200, 500), (1200, 1600),
               ["health_station", "elderly_day_care", "childcare", "convenience_services"]),
    "shop": ("闲置商铺 vacant shop", (90, 420), (900, 1500),
             ["elderly_day_care", "health_station", "childcare", "canteen", "convenience_services", "study_room"]),
    "open_space": ("闲置空地 vacant lot", (300, 1200), (250, 450), ["outdoor_fitness", "sports_space"]),
}

#: The ledger of a circle by theme: kind → count (every circle also has shops and a vacant lot).
LEDGER_BY_THEME = {
    "综合": {"factory": 1, "office": 1, "market": 1, "school": 1, "clinic": 1},
    "康养": {"clinic": 2, "market": 1, "office": 1},
    "金融": {"office": 3, "market": 1},
    "产业": {"factory": 2, "market": 1},
    "文体": {"school": 1, "factory": 1, "office": 1},
    "创业": {"office": 2, "factory": 1},
    "银龄": {"clinic": 1, "school": 1, "market": 1},
    "": {"office": 1, "market": 1},
}
SHOPS, LOTS = 7, 1
#: Existing facilities: (service, circles that have one near their middle).
EXISTING = (("health_station", (0, 2, 3, 7, 9)), ("kindergarten", (0, 1, 4, 8, 10)), ("canteen", (0, 6)),
            ("culture_station", (2, 9)), ("fresh_market", (0, 3, 5, 7, 8, 11)))


def circle_polygon(col: int, row: int) -> np.ndarray:
    """The circle's square, corners in UTM metres (closed ring)."""
    x0, y0 = ORIGIN[0] + col * CELL, ORIGIN[1] + row * CELL
    return np.array([[x0, y0], [x0 + CELL, y0], [x0 + CELL, y0 + CELL], [x0, y0 + CELL], [x0, y0]])


def main() -> None:
    """Write the city's files (module docstring)."""
    rng = np.random.default_rng(SEED)
    OUT.mkdir(exist_ok=True)
    to_lonlat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    demand, sites, existing, features = [], [], [], []
    b = 0
    for c, (name, english, theme, (col, row), compounds, lean) in enumerate(CIRCLES):
        poly = circle_polygon(col, row)
        x0, y0 = poly[0]
        centres = np.column_stack([x0 + rng.uniform(250, CELL - 250, compounds),
                                   y0 + rng.uniform(250, CELL - 250, compounds)])
        shares = BAND_SHARES * np.repeat(np.array(lean), [3, 1, 2])
        shares = shares / shares.sum()
        for k, centre in enumerate(centres):
            for _ in range(int(rng.integers(14, 24))):
                xy = np.clip(centre + rng.normal(0, 110, 2), [x0 + 20, y0 + 20], [x0 + CELL - 20, y0 + CELL - 20])
                households = int(rng.integers(40, 160))
                people = rng.multinomial(round(households * PERSONS_PER_HOUSEHOLD), shares)
                demand.append([f"B{b:04d}", name, f"{name}-{k + 1}", f"{xy[0]:.1f}", f"{xy[1]:.1f}", households,
                               *people.tolist()])
                b += 1
        kinds = [k for k, n in LEDGER_BY_THEME[theme].items() for _ in range(n)] + ["shop"] * SHOPS + \
            ["open_space"] * LOTS
        for i, kind in enumerate(kinds):
            label, area_range, unit_range, allowed = KINDS[kind]
            near = centres[int(rng.integers(0, compounds))]
            xy = np.clip(near + rng.normal(0, 200, 2), [x0 + 20, y0 + 20], [x0 + CELL - 20, y0 + CELL - 20])
            area = round(float(rng.uniform(*area_range)), -1)
            cost = round(area * float(rng.uniform(*unit_range)), -3)
            picked = [s for s in allowed if rng.random() < 0.85] or allowed[:1]
            sites.append([f"{c + 1:02d}-{i + 1:02d}", f"{label} {i + 1} ({name})", kind, f"{xy[0]:.1f}",
                          f"{xy[1]:.1f}", f"{area:.0f}", f"{cost:.0f}", ";".join(picked)])
        lon, lat = to_lonlat.transform(poly[:, 0], poly[:, 1])
        features.append({"type": "Feature",
                         "properties": {"name": name, "name_en": english, "theme": theme or None,
                                        "synthetic": True},
                         "geometry": {"type": "Polygon",
                                      "coordinates": [[[round(float(a), 7), round(float(o), 7)]
                                                       for a, o in zip(lon, lat, strict=True)]]}})
    for service, where in EXISTING:
        for c in where:
            col, row = CIRCLES[c][3]
            xy = np.array([ORIGIN[0] + (col + 0.5) * CELL, ORIGIN[1] + (row + 0.5) * CELL]) + rng.normal(0, 150, 2)
            existing.append([f"E-{service}-{c + 1:02d}", f"现有 existing {service} ({CIRCLES[c][0]})", service,
                             f"{xy[0]:.1f}", f"{xy[1]:.1f}"])
    _write(OUT / "demand.csv", ["id", "community", "compound", "x", "y", "households", *BANDS], demand)
    _write(OUT / "sites.csv", ["id", "name", "kind", "x", "y", "floor_area_m2", "retrofit_cost", "allowed"], sites)
    _write(OUT / "existing.csv", ["id", "name", "service", "x", "y"], existing)
    (OUT / "circles.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features},
                                                    ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    residents = {name: 0 for name, *_ in CIRCLES}
    for row in demand:
        residents[str(row[1])] += sum(int(v) for v in row[6:])
    lines = ["# jiangbei-1-6-n — a synthetic \"1+6+N\" city (示例数据 · synthetic)", "",
             "**This is synthetic demonstration data. 本数据为示例数据（合成），不是真实数据。** Only the names and",
             "themes of the flagship and the six themed circles come from Jiangbei District's programme; every",
             "building, site, cost, facility and the five further circles are invented.", "",
             "Generated, this README included, by `.venv/bin/python data/generate_jiangbei_1_6_n.py` (fixed seed;",
             "re-running reproduces these files byte for byte). Edit the generator, not these files. The city",
             "file is [`cities/jiangbei-1-6-n.yaml`](../../cities/jiangbei-1-6-n.yaml).", "",
             "| file | what |", "|---|---|",
             f"| `demand.csv` | {len(demand):,} residential buildings, {sum(residents.values()):,} residents in six "
             f"age bands; x/y in {CRS} metres; `community` is the circle |",
             f"| `sites.csv` | idle-asset ledger: {len(sites)} sites (retrofit_cost in yuan) |",
             f"| `existing.csv` | {len(existing)} existing facilities |",
             "| `circles.geojson` | one square of 1.2 km per life circle (WGS84), `name` and `theme` |", "",
             "| circle 生活圈 | theme 主题 | buildings | residents | sites |", "|---|---|---:|---:|---:|"]
    for c, (name, english, theme, *_rest) in enumerate(CIRCLES):
        n_b = sum(1 for row in demand if row[1] == name)
        n_s = sum(1 for row in sites if str(row[0]).startswith(f"{c + 1:02d}-"))
        lines.append(f"| {name} {english} | {theme or '—'} | {n_b} | {residents[name]:,} | {n_s} |")
    (OUT / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


if __name__ == "__main__":
    main()
