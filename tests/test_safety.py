"""Safe with untrusted files: data strings are text in the report, YAML builds no objects, no eval or pickle.

The report test reads ``report.html`` with an HTML parser, as a browser would build its
document: a site named ``<script>alert(1)</script>`` must come out as text, adding no element
and no event-handler attribute to those the template writes for harmless names.
"""

from __future__ import annotations

import ast
from html.parser import HTMLParser
from pathlib import Path

import pytest

import districts as D  # noqa: N812 - the test helpers, short
from siting.data.scenario import load_scenario
from siting.errors import ScenarioError

SRC = Path(__file__).resolve().parents[1] / "src" / "siting"
PAYLOAD = "<script>alert(1)</script>"


class _Elements(HTMLParser):
    """Every element and attribute of a document, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _report(tmp_path: Path, *, hostile: bool = True) -> tuple[str, _Elements]:
    from siting.pipeline import run_scenario
    from siting.report import write_run_outputs

    t = D.tables(seed=5)
    t.sites["name"] = t.sites["name"].astype(object)
    names = ((PAYLOAD, "<img src=x onerror=alert(2)>", "S0\"'&<b>$x^{$", "<iframe src=javascript:alert(3)>",
              "a & b <i>", "<svg onload=alert(4)>") if hostile else
             ("site zero", "shop", "S0", "title", "a and b", "canteen"))
    t.sites.loc[0, "name"] = names[0]
    t.sites.loc[0, "kind"] = names[1]
    t.sites.loc[0, "id"] = names[2]  # quotes, markup and a matplotlib math marker in one id
    path = D.write(t, tmp_path / f"district-{hostile}", title=names[3], description=names[4],
                   requirements={"force_in": [t.sites.loc[0, "id"]]},
                   catalogue={"services": [{"key": "canteen", "name_en": names[5]}]})
    out = write_run_outputs(run_scenario(load_scenario(path)), tmp_path / "out" / f"xss-{hostile}")
    html = (out / "report.html").read_text(encoding="utf-8")
    parser = _Elements()
    parser.feed(html)
    return html, parser


def test_data_strings_are_text_in_the_report(tmp_path: Path) -> None:
    html, doc = _report(tmp_path)
    assert PAYLOAD not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    _, control = _report(tmp_path, hostile=False)
    assert sorted(doc.tags) == sorted(control.tags)  # no element beyond the template's own
    assert "iframe" not in doc.tags
    hostile_handlers = [name for name, _ in doc.attributes if name.startswith("on")]
    assert hostile_handlers == [name for name, _ in control.attributes if name.startswith("on")]
    text = "".join(doc.text)
    for shown in (PAYLOAD, "<img src=x onerror=alert(2)>", "<iframe src=javascript:alert(3)>",
                  "<svg onload=alert(4)>", "S0\"'&<b>$x^{$", "a & b <i>"):
        assert shown in text, shown  # what the planner typed, shown as typed


def test_yaml_builds_no_python_objects(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "scenario.yaml"
    path.write_text(f"name: x\nbudget: !!python/object/apply:os.system ['touch {marker}']\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(path)
    assert not marker.exists()


def _calls(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                names.append(f.id)
            elif isinstance(f, ast.Attribute):
                base = f.value.id if isinstance(f.value, ast.Name) else "?"
                names.append(f"{base}.{f.attr}")
    return names


def test_no_eval_no_unsafe_yaml_no_pickle_of_inputs() -> None:
    """No eval/exec anywhere; YAML only through safe loaders; pickle only on the solver child's own pipe."""
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = _calls(tree)
        assert not {"eval", "exec", "compile", "__import__"} & set(calls), path
        assert "yaml.unsafe_load" not in calls and "yaml.full_load" not in calls, path
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _calls(node)[:1] == ["yaml.load"]:
                loader = {k.arg: k.value for k in node.keywords}.get("Loader")
                assert isinstance(loader, ast.Name) and loader.id in ("_UniqueKeyLoader", "_ShippedLoader"), path
        if path.name != "isolated.py":
            assert not [c for c in calls if c.startswith(("pickle.", "pd.read_pickle"))], path
            assert "allow_pickle" not in path.read_text(encoding="utf-8"), path


def test_unique_key_loader_is_a_safe_loader() -> None:
    import yaml

    from siting.data.scenario import _UniqueKeyLoader

    assert issubclass(_UniqueKeyLoader, yaml.SafeLoader)


def test_the_catalogue_files_loader_is_a_safe_loader() -> None:
    """The catalogue's own YAML files: libyaml's safe loader or the pure-Python one, nothing fuller."""
    import yaml

    from siting.data.catalogue.shipped import _ShippedLoader

    assert _ShippedLoader in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load("!!python/object/apply:os.system ['true']", Loader=_ShippedLoader)


@pytest.mark.parametrize(("cell", "written"), [
    ("=HYPERLINK(\"http://x\",\"click\")", "'=HYPERLINK(\"http://x\",\"click\")"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("\t=1", "'\t=1"),
    ("+12.5 %", "+12.5 %"),  # a signed number as text stays as it is
    ("-", "-"),
    ("北仓 old factory = culture", "北仓 old factory = culture"),
    ("S-01", "S-01"),
])
def test_spreadsheet_formula_cells_are_written_as_text(cell: str, written: str) -> None:
    from siting.report.csv_out import neutralise

    assert neutralise(cell) == written


def test_csv_outputs_carry_no_live_formulas(tmp_path: Path) -> None:
    import pandas as pd

    from siting.pipeline import run_scenario
    from siting.report import write_run_outputs

    t = D.tables(seed=5)
    t.sites["name"] = t.sites["name"].astype(object)
    t.sites.loc[0, "name"] = "=HYPERLINK(\"http://evil\",\"open\")"
    t.sites.loc[0, "id"] = "@SUM(1+1)"
    path = D.write(t, tmp_path / "district", requirements={"force_in": ["@SUM(1+1)"]})
    out = write_run_outputs(run_scenario(load_scenario(path)), tmp_path / "out")
    plan = pd.read_csv(out / "plan.csv", dtype=str, keep_default_na=False)
    assert "'@SUM(1+1)" in set(plan["site_id"])  # the forced site is in the plan, its id as text
    for csv in out.glob("**/*.csv"):
        cells = pd.read_csv(csv, dtype=str, keep_default_na=False).to_numpy().ravel()
        live = [c for c in cells if c[:1] in ("=", "@")]
        assert not live, (csv.name, live)
