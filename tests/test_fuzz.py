"""Fuzzing: random and mutated scenario files and tables never make siting crash.

Hypothesis feeds the loaders and ``siting validate`` random text, random YAML structures and
valid district tables with random mutations (cells replaced by odd values, columns dropped or
renamed, rows duplicated or removed, bytes garbled). The only answers allowed are success or a
:class:`~siting.errors.SitingError` with a message (exit code 2 with that message on the
command line); any other exception escapes the command line's entry point and fails the test.
Runs are derandomised, so the suite is deterministic.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import districts as D  # noqa: N812 - the test helpers, short
from siting.data.readers import read_table
from siting.data.scenario import load_scenario
from siting.errors import SitingError

#: ``SITING_FUZZ_EXAMPLES=2000 SITING_FUZZ_RANDOM=1 pytest tests/test_fuzz.py`` fuzzes deeper, with fresh seeds.
FUZZ = settings(max_examples=int(os.environ.get("SITING_FUZZ_EXAMPLES", "60")), deadline=None,
                derandomize=not os.environ.get("SITING_FUZZ_RANDOM"), database=None,
                suppress_health_check=[HealthCheck.too_slow])

ODD_VALUES = st.one_of(
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "1e400", "-1", "0", "-0.0", "1,5", "１２", "null",
                     "<script>alert(1)</script>", "=1+1", "True", "[1, 2]", "{}", "\x00", "é", "中文", "  7  ",
                     "1e-300", "9" * 40, "0x1F", "$x^{$"]),
    st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(), st.text(max_size=15))
YAML_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=12)
FIELDS = ["name", "title", "data", "budget", "walking", "solver", "requirements", "weights", "services",
          "catalogue", "extends", "description"]
NESTED_FIELDS = ["data.demand", "data.crs", "walking.mode", "solver.time_limit_s", "requirements.force_in",
                 "requirements.min_sites", "catalogue.services", "weights.services"]


def _validate(path: Path) -> D.Outcome:
    """Run ``siting validate``; it may succeed or refuse with a message, nothing else."""
    outcome = D.cli("validate", str(path))
    assert outcome.code in (0, 2), outcome
    if outcome.code == 2:
        assert outcome.stderr.strip(), "a refusal without a message"
        assert "Traceback" not in outcome.stderr
    return outcome


@FUZZ
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_random_text_as_a_scenario(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scenario.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            load_scenario(path)
        except SitingError as e:
            assert str(e).strip()
        _validate(path)


@FUZZ
@given(changes=st.dictionaries(st.sampled_from([*FIELDS, *NESTED_FIELDS]), YAML_VALUES, min_size=1, max_size=4))
def test_mutated_scenario_files(changes: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = D.write(D.tables(), Path(folder))
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key, value in changes.items():
            head, _, tail = key.partition(".")
            if tail and isinstance(raw.get(head), dict):
                raw[head][tail] = value
            else:
                raw[head] = value
        path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        _validate(path)


MUTATIONS = st.one_of(
    st.tuples(st.just("cell"), st.sampled_from(["demand", "sites", "existing"]), st.integers(0, 20),
              st.sampled_from(["id", "lon", "lat", "children", "working", "elderly", "floor_area_m2",
                               "retrofit_cost", "allowed", "service", "name"]), ODD_VALUES),
    st.tuples(st.just("drop"), st.sampled_from(["demand", "sites", "existing"]),
              st.sampled_from(["id", "lon", "lat", "children", "floor_area_m2", "retrofit_cost", "service"])),
    st.tuples(st.just("rename"), st.sampled_from(["demand", "sites"]), st.sampled_from(["lon", "id", "working"]),
              st.sampled_from(["x", "y", "lat", "Lon", "id ", "population", "lon"])),
    st.tuples(st.just("rows"), st.sampled_from(["demand", "sites", "existing"]),
              st.sampled_from(["duplicate", "empty", "first", "reverse"])),
)


def _mutate(t: D.Tables, mutation: tuple[Any, ...]) -> None:
    kind, frame_name = mutation[0], mutation[1]
    df = getattr(t, frame_name)
    if df is None:
        return
    if kind == "cell":
        _, _, row, column, value = mutation
        if column in df.columns and row < len(df):
            df[column] = df[column].astype(object)
            df.loc[row, column] = value
    elif kind == "drop" and mutation[2] in df.columns:
        setattr(t, frame_name, df.drop(columns=[mutation[2]]))
    elif kind == "rename":
        setattr(t, frame_name, df.rename(columns={mutation[2]: mutation[3]}))
    elif kind == "rows":
        how = mutation[2]
        new = {"duplicate": lambda: df.iloc[[*range(len(df)), 0]] if len(df) else df, "empty": lambda: df.iloc[:0],
               "first": lambda: df.iloc[:1], "reverse": lambda: df.iloc[::-1]}[how]()
        setattr(t, frame_name, new.reset_index(drop=True))


@FUZZ
@given(mutations=st.lists(MUTATIONS, min_size=1, max_size=4), network=st.booleans())
def test_mutated_tables(mutations: list[tuple[Any, ...]], network: bool) -> None:
    t = D.tables(network=network)
    for m in mutations:
        _mutate(t, m)
    with tempfile.TemporaryDirectory() as folder:
        _validate(D.write(t, Path(folder)))


@FUZZ
@given(data=st.binary(max_size=400), cut=st.integers(0, 2000), suffix=st.sampled_from([".csv", ".gpkg", ".geojson"]))
def test_garbled_files(data: bytes, cut: int, suffix: str) -> None:
    """Random bytes, or a valid table cut short or with bytes spliced in, read as a data file."""
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        path = D.write(D.tables(), base)
        valid = (base / "sites.csv").read_bytes()
        garbled = valid[:cut] + data + valid[cut:] if cut % 2 else data
        (base / f"sites{suffix}").write_bytes(garbled)
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        raw["data"]["sites"] = f"sites{suffix}"
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        problems: list[SitingError] = []
        read_table(base / f"sites{suffix}", role="sites", crs=None, problems=problems, notes=[])
        assert all(str(p).strip() for p in problems)
        _validate(path)
