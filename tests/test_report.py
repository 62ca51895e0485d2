"""The report and its files: escaping of data strings, offline assets, ranking and frontier outputs, CJK map."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from siting.report.html import assets
from siting.report.mapdata import map_json
from test_cli import siting

XSS = "<script>alert(1)</script>"
XSS2 = "</script><img src=x onerror=alert(2)>"


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny district whose site names try to inject script, run with a small analysis."""
    folder = tmp_path_factory.mktemp("xss")
    import numpy as np

    rng = np.random.default_rng(11)
    sxy = np.array([[200.0, 200.0], [700.0, 700.0], [200.0, 700.0], [700.0, 200.0]])
    # many residents around the two sites with the injected names, a few around the others
    xy = np.vstack([sxy[k] + rng.uniform(-120, 120, (m, 2)) for k, m in enumerate((16, 16, 4, 4))])
    n = len(xy)
    pd.DataFrame({"id": [f"D{i}" for i in range(n)], "x": xy[:, 0], "y": xy[:, 1],
                  "children": 20, "working": 80, "elderly": 40}).to_csv(folder / "demand.csv", index=False)
    pd.DataFrame({"id": ["S0", "S1", "S2", "S3"], "name": [XSS, XSS2, "普通 shop", "ok & fine"],
                  "kind": ["shop", "<b>bold</b>", "shop", "shop"], "x": sxy[:, 0], "y": sxy[:, 1],
                  "floor_area_m2": 500, "retrofit_cost": 300000, "allowed": ""}
                 ).to_csv(folder / "sites.csv", index=False)
    scenario = {"name": "xss", "title": "<i>title</i> 标题", "description": XSS,
                "data": {"demand": "demand.csv", "sites": "sites.csv", "crs": "EPSG:32648"},
                "services": ["health_station", "canteen"], "budget": 2_000_000,
                "walking": {"mode": "euclidean"},
                "analysis": {"robustness_samples": 2, "frontier": [0.5, 2.0], "alternatives": 3}}
    (folder / "scenario.yaml").write_text(yaml.safe_dump(scenario, allow_unicode=True), encoding="utf-8")
    out = folder / "out"
    proc = siting("run", str(folder / "scenario.yaml"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_data_strings_are_escaped(tiny_report: Path) -> None:
    html = (tiny_report / "report.html").read_text(encoding="utf-8")
    plan = pd.read_csv(tiny_report / "plan.csv")
    assert {"S0", "S1"} <= set(plan["site_id"]), "the test needs the injected names in the plan"
    for raw in (XSS, XSS2, "<b>bold</b>", "<i>title</i>", "onerror=alert(2)>"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # the only script elements are the three inlined ones (Leaflet, map, tables) and the JSON data block
    assert len(re.findall(r"<script\b", html)) == 4
    data = json.loads(re.search(r'<script type="application/json" id="siting-map-data">(.*?)</script>', html,
                                re.S).group(1))
    names = {s["name"] for s in data["plans"][0]["sites"]}
    assert XSS in names and XSS2 in names


def test_map_json_cannot_close_its_element() -> None:
    payload = {"name": "</script><!-- & \u2028", "n": [1, 2.5]}
    text = map_json(payload)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == payload


def test_report_needs_no_network(tiny_report: Path) -> None:
    html = (tiny_report / "report.html").read_text(encoding="utf-8")
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S)  # the page without its scripts
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup)
    assert "<link" not in markup and "@import" not in html
    assert not re.search(r"url\((['\"]?)(https?:)?//", html)
    assert "L.map(" in html and "leaflet" in html.lower()
    # no basemap: the map script draws vector layers only, and Leaflet's source map is not referenced
    assert "tileLayer" not in assets()["map_js"] and "XMLHttpRequest" not in assets()["map_js"]
    assert "sourceMappingURL" not in assets()["leaflet_js"]


def test_ranking_and_frontier_files(tiny_report: Path) -> None:
    plan = pd.read_csv(tiny_report / "plan.csv")
    ranking = pd.read_csv(tiny_report / "ranking.csv")
    assert len(ranking) == len(plan)
    assert set(zip(ranking["site_id"], ranking["service"], strict=True)) == \
        set(zip(plan["site_id"], plan["service"], strict=True))
    assert ranking["rank"].tolist() == list(range(1, len(ranking) + 1))
    assert ranking["chosen_share_perturbed"].between(0, 1).all()
    assert ranking["cost"].sum() == pytest.approx(plan["cost"].sum(), abs=1.0)
    summary = json.loads((tiny_report / "summary.json").read_text(encoding="utf-8"))
    frontier = pd.read_csv(tiny_report / "frontier.csv")
    assert frontier["budget"].tolist() == [1e6, 2e6, 4e6]
    own = frontier.loc[frontier["budget"] == summary["budget"]].iloc[0]
    assert own["objective"] == pytest.approx(summary["objective"], abs=1e-3)
    assert frontier["objective"].is_monotonic_increasing
    assert (tiny_report / "frontier.png").stat().st_size > 1000
    html = (tiny_report / "report.html").read_text(encoding="utf-8")
    assert html.count('class="point"') == 7 * len(frontier)  # all ages and six age bands


def test_png_map_renders_chinese(tiny_report: Path, tmp_path: Path) -> None:
    from PIL import Image, ImageFont

    from siting.data.scenario import load_scenario
    from siting.pipeline import run_scenario
    from siting.report.maps import draw_plan_map
    from siting.report.raster import _face_index, cjk_font_file, latin_font_file

    path = cjk_font_file()
    if path is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk); map labels fall back to English")
    run = run_scenario(load_scenario(tiny_report.parent / "scenario.yaml"))
    draw_plan_map(run, tmp_path / "map.png")
    with Image.open(tmp_path / "map.png") as image:
        assert image.format == "PNG" and image.size == (900, 880)
        colours = np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)
        assert len(colours) > 50  # marks and colours, not a blank page
    # every character of the plan's Chinese labels has a glyph in the font the map uses: a missing
    # glyph is drawn as the font's empty box, the same as for a character no font has
    names = "".join(run.prepared.catalogue.service(k).name_zh for k in run.plan.assignments["service"])
    chinese = {c for c in names if ord(c) > 0x2E80}
    assert chinese

    def missing(font_file: str) -> set[str]:
        font = ImageFont.truetype(font_file, 24, index=_face_index(font_file))  # the face the map uses
        box = bytes(font.getmask("\U000FFFFD"))
        return {c for c in chinese if bytes(font.getmask(c)) == box}

    assert not missing(path)
    latin = latin_font_file()
    if latin is not None:  # the check itself: a font without Chinese fails it
        assert missing(latin) == chinese


def test_objectives_in_shares_keep_their_decimals() -> None:
    """The standards-first and fairness objectives are shares (0.57, 1.41): a frontier table rounding them to whole
    numbers shows 1 for every budget; residents, minutes and yuan stay whole numbers."""
    from siting.report.html import _env

    template = _env().from_string('{% from "macros.html.j2" import num_td %}'
                                  '{{ num_td(a, "objective") }}|{{ num_td(b, "objective") }}|{{ num_td(c, "points") }}')
    cells = template.render(a=0.56657, b=12345.6, c=-0.003012).split("|")
    assert [c[c.index(">") + 1:c.rindex("<")] for c in cells] == ["0.5666", "12,346", "-0.30"]
