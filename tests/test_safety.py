"""Safe with untrusted files: data strings are text in the report, YAML builds no objects, no eval or pickle.

The report test reads ``report.html`` with an HTML parser, as a browser would build its
document: a site named ``<script>alert(1)</script>`` must come out as text, with no script
element, no event-handler attribute and no element the template did not write.
"""

from __future__ import annotations

import ast
from html.parser import HTMLParser
from pathlib import Path

import pytest

import districts as D  # noqa: N812 - the test helpers, short
from siting.errors import ScenarioError
from siting.scenario import load_scenario

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


def _report(tmp_path: Path) -> tuple[str, _Elements]:
    from siting.report import write_run_outputs
    from siting.runner import run_scenario

    t = D.tables(seed=5)
    t.sites["name"] = t.sites["name"].astype(object)
    t.sites.loc[0, "name"] = PAYLOAD
    t.sites.loc[0, "kind"] = "<img src=x onerror=alert(2)>"
    t.sites.loc[0, "id"] = "S0\"'&<b>$x^{$"  # quotes, markup and a matplotlib math marker in one id
    path = D.write(t, tmp_path / "district", title="<iframe src=javascript:alert(3)>", description="a & b <i>",
                   requirements={"force_in": [t.sites.loc[0, "id"]]},
                   catalogue={"services": [{"key": "canteen", "name_en": "<svg onload=alert(4)>"}]})
    out = write_run_outputs(run_scenario(load_scenario(path)), tmp_path / "out" / "xss")
    html = (out / "report.html").read_text(encoding="utf-8")
    parser = _Elements()
    parser.feed(html)
    return html, parser


def test_data_strings_are_text_in_the_report(tmp_path: Path) -> None:
    html, doc = _report(tmp_path)
    assert PAYLOAD not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "script" not in doc.tags and "iframe" not in doc.tags and "svg" not in doc.tags
    assert doc.tags.count("img") == 1  # the map, written by the template
    assert not [name for name, _ in doc.attributes if name.startswith("on")]
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
            if isinstance(node, ast.Call) and _calls(node)[0] == "yaml.load":
                loader = {k.arg: k.value for k in node.keywords}.get("Loader")
                assert isinstance(loader, ast.Name) and loader.id == "_UniqueKeyLoader", path
        if path.name != "isolated.py":
            assert not [c for c in calls if c.startswith(("pickle.", "pd.read_pickle"))], path
            assert "allow_pickle" not in path.read_text(encoding="utf-8"), path


def test_unique_key_loader_is_a_safe_loader() -> None:
    import yaml

    from siting.scenario import _UniqueKeyLoader

    assert issubclass(_UniqueKeyLoader, yaml.SafeLoader)
