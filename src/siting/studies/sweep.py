"""Sweeps: the same scenario under many budgets, weights or walking limits.

``--vary budget=5e6:50e6:10`` gives ten budgets from 5 to 50 million yuan, evenly spaced;
``--vary weights.age_groups.elderly=1,2,4`` lists values; several ``--vary`` options make
every combination. What can vary:

=================================  ==============================================================
``budget``                          yuan
``weights.age_groups.<group>``      objective weight of an age group
``weights.services.<service>``      objective weight of a service
``walk_limit.<service>``            walking limit of a service, minutes
``walk_limit_scale``                every service's walking limit times this factor
any other scenario field            by its dotted path, e.g. ``walking.detour=1.1:1.5:5``
=================================  ==============================================================

The district is prepared once; variants that change only the budget or the weights re-use it
and re-solve only the model. Variants that change walking limits or other fields are prepared
once per distinct setting. Every solve goes through :func:`siting.studies.resolve.solve_many`.

Each finished variant is recorded in a progress log (:mod:`siting.studies.sweep_log`), so that an
interrupted sweep resumes where it stopped.

The **frontier** is the table of coverage against cost, one row per variant; a row is
*efficient* when no other variant covers at least as much for no more money (one of the two
strictly better).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from siting.data.overrides import apply_overrides
from siting.data.scenario import Scenario
from siting.errors import ScenarioError
from siting.pipeline import Prepared, planning_rules, prepare
from siting.studies.resolve import SolveOutcome, SolveTask
from siting.studies.variants import Variant

RULE_FIELDS = ("budget", "weights")
MAX_VARIANTS = 10_000


@dataclass(frozen=True)
class VaryAxis:
    """One ``--vary`` option: a field and its values."""

    field: str
    values: tuple[float, ...]

    @property
    def label(self) -> str:
        """The field as written on the command line."""
        return self.field


def _number(text: str, option: str) -> float:
    try:
        return float(text.replace("_", ""))
    except ValueError:
        raise ScenarioError(f"--vary {option}: '{text}' is not a number; write e.g. budget=5e6:50e6:10 "
                            f"(start:stop:count) or budget=5e6,1e7,2e7") from None


def parse_vary(option: str) -> VaryAxis:
    """Read ``FIELD=START:STOP:COUNT`` or ``FIELD=V1,V2,...``.

    Raises
    ------
    ScenarioError
        Naming the option and the expected form.
    """
    field, sep, spec = option.partition("=")
    field = field.strip()
    if not sep or not field or not spec.strip():
        raise ScenarioError(f"--vary {option}: expected FIELD=START:STOP:COUNT (e.g. budget=5e6:50e6:10) "
                            f"or FIELD=V1,V2,... (e.g. weights.age_groups.elderly=1,2,4)")
    spec = spec.strip()
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise ScenarioError(f"--vary {option}: a range is START:STOP:COUNT, e.g. budget=5e6:50e6:10")
        start, stop = _number(parts[0], option), _number(parts[1], option)
        count = _number(parts[2], option)
        if count != int(count) or count < 1:
            raise ScenarioError(f"--vary {option}: COUNT must be a whole number of at least 1, got {parts[2]}")
        values = tuple(float(v) for v in np.linspace(start, stop, int(count)))
    else:
        values = tuple(_number(v, option) for v in spec.split(",") if v.strip())
    if not values:
        raise ScenarioError(f"--vary {option}: no values given")
    return VaryAxis(field, tuple(dict.fromkeys(values)))


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: a :class:`~siting.studies.variants.Variant` and the scenario it gives."""

    variant: Variant
    scenario: Scenario

    @property
    def key(self) -> str:
        """The point's name: its overrides, ``budget=1e+06, weights.age_groups.elderly=3``."""
        return self.variant.name

    @property
    def overrides(self) -> Mapping[str, Any]:
        """The fields the point changes."""
        return self.variant.overrides


def _fmt(v: float) -> str:
    return f"{v:g}"


def sweep_variants(scenario: Scenario, axes: Sequence[VaryAxis]) -> list[SweepPoint]:
    """Every combination of the axes' values, as scenarios (first axis varies slowest)."""
    if not axes:
        raise ScenarioError("siting sweep: give at least one --vary FIELD=START:STOP:COUNT")
    fields = [a.field for a in axes]
    if len(set(fields)) != len(fields):
        raise ScenarioError(f"--vary: each field once, got {fields}")
    total = int(np.prod([len(a.values) for a in axes]))
    if total > MAX_VARIANTS:
        raise ScenarioError(f"--vary: {total} combinations is more than {MAX_VARIANTS}; use fewer values")
    out = []
    for combo in itertools.product(*(a.values for a in axes)):
        overrides = dict(zip(fields, combo, strict=True))
        key = ", ".join(f"{f}={_fmt(v)}" for f, v in overrides.items())
        out.append(SweepPoint(Variant(key, overrides), apply_overrides(scenario, overrides, label=f"--vary {key}")))
    return out


def _prepare_key(scenario: Scenario) -> str:
    """What decides the prepared district: everything but the budget and the weights."""
    raw = scenario.model_dump(mode="json", exclude=set(RULE_FIELDS))
    return json.dumps(raw, sort_keys=True, default=str)


def sweep_tasks(variants: Sequence[SweepPoint], *, backend: str | None = None,
                prepare_fn: Callable[[Scenario], Prepared] = prepare,
                base: Prepared | None = None) -> list[SolveTask]:
    """Solve tasks for the variants, preparing each distinct district setting once.

    Parameters
    ----------
    variants
        From :func:`sweep_variants`.
    backend
        Solver backend (the scenario's when ``None``).
    prepare_fn
        How to prepare a scenario (the runner's :func:`~siting.pipeline.prepare`).
    base
        An already prepared base scenario, re-used by variants that change only the budget
        or the weights.

    Notes
    -----
    Each distinct setting is prepared under the largest budget of its variants, so that the
    checks made before any solve (the forced sites fit the budget...) do not stop the whole
    sweep; a variant whose own budget cannot meet the requirements comes back infeasible.
    """
    cache: dict[str, Prepared] = {}
    if base is not None:
        cache[_prepare_key(base.scenario)] = base
    largest: dict[str, float] = {}
    for v in variants:
        k = _prepare_key(v.scenario)
        largest[k] = max(largest.get(k, 0.0), float(v.scenario.budget))
    tasks = []
    for v in variants:
        key = _prepare_key(v.scenario)
        if key not in cache:
            cache[key] = prepare_fn(v.scenario.model_copy(update={"budget": largest[key]}))
        prepared = cache[key]
        rules = planning_rules(v.scenario, prepared.catalogue, prepared.district)
        tasks.append(SolveTask(v.key, dataclasses.replace(prepared, scenario=v.scenario, rules=rules), None,
                               backend, {"kind": "variant", "overrides": dict(v.overrides)}))
    return tasks


def budget_tasks(prepared: Prepared, budgets: Sequence[float], *, backend: str | None = None) -> list[SolveTask]:
    """Tasks re-solving a prepared scenario at other budgets (the report's frontier)."""
    tasks = []
    for b in budgets:
        sc = prepared.scenario.model_copy(update={"budget": float(b)})
        rules = dataclasses.replace(prepared.rules, budget=float(b))
        tasks.append(SolveTask(f"budget={_fmt(b)}", dataclasses.replace(prepared, scenario=sc, rules=rules),
                               None, backend, {"kind": "variant", "overrides": {"budget": float(b)}}))
    return tasks


def _group_shares(result: SolveOutcome, groups: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    if result.plan is None:
        return {f"share_{g}": np.nan for g in groups} | {"share_all": np.nan}
    cov = result.plan.coverage
    by = cov.groupby("age_group")[["population", "covered_after"]].sum()
    pop = {str(k): float(v) for k, v in by["population"].items()}
    after = {str(k): float(v) for k, v in by["covered_after"].items()}
    for g in groups:
        out[f"share_{g}"] = after[g] / pop[g] if pop.get(g, 0.0) > 0 else np.nan
    tot = float(cov["population"].sum())
    out["share_all"] = float(cov["covered_after"].sum()) / tot if tot > 0 else np.nan
    return out


def frontier_row(result: SolveOutcome, groups: Sequence[str]) -> dict[str, Any]:
    """One variant's row of the frontier, without ``efficient``: plain numbers, NaN without a plan."""
    row: dict[str, Any] = dict(result.meta.get("overrides", {}))
    plan = result.plan
    row.update({
        "variant": result.key,
        "status": result.status.value,
        "budget": float(plan.budget) if plan else row.get("budget", np.nan),
        "cost": float(plan.cost) if plan else np.nan,
        "objective": float(plan.objective) if plan else np.nan,
        "bound": float(plan.bound) if plan else np.nan,
        "gap": float(plan.gap) if plan else np.nan,
        "sites_used": plan.sites_used if plan else np.nan,
        "services_placed": len(plan.assignments) if plan else np.nan,
        **_group_shares(result, groups),
        "message": result.message.splitlines()[0] if result.message else "",
    })
    return row


def frontier_table(results: Sequence[SolveOutcome], groups: Sequence[str],
                   within: Sequence[str] = (), *, lower_is_better: bool = False) -> pd.DataFrame:
    """One row per variant: its overrides, status, cost, objective, bound, gap, coverage shares.

    Shares are residents × services covered after the plan over residents × services, per age
    group and in all; ``efficient`` marks the variants no other variant dominates — among the
    variants with the same values of the ``within`` fields (e.g. the same walking limits, when
    a sweep varies them and the budget). ``lower_is_better``: the objective is minimised (walking
    time, cost), so a variant is dominated by a cheaper one with a lower objective.
    """
    return frontier_from_rows([frontier_row(r, groups) for r in results], within, lower_is_better=lower_is_better)


def frontier_from_rows(rows: Sequence[dict[str, Any]], within: Sequence[str] = (), *,
                       lower_is_better: bool = False) -> pd.DataFrame:
    """The frontier table from rows of :func:`frontier_row` (kept, e.g., in a sweep's progress log)."""
    df = pd.DataFrame(list(rows))
    df["efficient"] = False
    keys = [c for c in within if c in df.columns]
    labels = (df[keys].astype(str).agg("|".join, axis=1) if keys else pd.Series("", index=df.index))
    for label in labels.unique():
        idx = df.index[labels == label]
        sub = df.loc[idx]
        value = sub["objective"].to_numpy(float) * (-1.0 if lower_is_better else 1.0)
        df.loc[idx, "efficient"] = efficient_mask(sub["cost"].to_numpy(float), value)
    df["efficient"] = df["efficient"].astype(bool)
    return df


def efficient_mask(cost: np.ndarray, value: np.ndarray) -> np.ndarray:
    """True where no other point has cost ≤ and value ≥, one of them strictly (NaN: never efficient)."""
    ok = np.isfinite(cost) & np.isfinite(value)
    c, v = cost[:, None], value[:, None]
    tol = 1e-9 * np.maximum(1.0, np.abs(value))
    better = ((cost[None, :] <= c) & (value[None, :] >= v - tol[:, None])
              & ((cost[None, :] < c) | (value[None, :] > v + tol[:, None])))
    better &= ok[None, :]
    return np.asarray(ok & ~better.any(axis=1))


def chosen_share(results: Sequence[SolveOutcome]) -> np.ndarray | None:
    """Share of the feasible results that choose each (site, service); ``None`` without any."""
    return hosts_share([r.plan.hosts for r in results if r.plan is not None])


def hosts_share(hosts: Sequence[np.ndarray]) -> np.ndarray | None:
    """Share of the plans (sites × services booleans) that choose each (site, service)."""
    if not hosts or len({h.shape for h in hosts}) != 1:
        return None
    return np.asarray(np.mean(np.stack(hosts).astype(float), axis=0))


def robustness_table(results: Sequence[SolveOutcome], prepared: Prepared) -> pd.DataFrame:
    """How often each (site, service) is chosen across the variants, most often first."""
    return robustness_from_hosts([r.plan.hosts for r in results if r.plan is not None], prepared)


def robustness_from_hosts(hosts: Sequence[np.ndarray], prepared: Prepared) -> pd.DataFrame:
    """The robustness table from the plans' hosts (sites × services booleans), one per feasible variant."""
    share = hosts_share(hosts)
    if share is None:
        return pd.DataFrame(columns=["site_id", "site_name", "service", "service_zh", "service_en",
                                     "chosen_in", "variants", "chosen_share"])
    n = len(hosts)
    sites, cat = prepared.district.sites, prepared.catalogue
    j, s = np.nonzero(share > 0)
    df = pd.DataFrame({
        "site_id": sites.ids[j].astype(str), "site_name": sites.names[j].astype(str),
        "service": [cat.services[k].key for k in s], "service_zh": [cat.services[k].name_zh for k in s],
        "service_en": [cat.services[k].name_en for k in s],
        "chosen_in": np.rint(share[j, s] * n).astype(int), "variants": n, "chosen_share": share[j, s].round(6),
    })
    return df.sort_values(["chosen_share", "site_id", "service"], ascending=[False, True, True],
                          kind="stable").reset_index(drop=True)


def variant_record(result: SolveOutcome, prepared: Prepared | None = None) -> dict[str, Any]:
    """A finished variant as one JSON-able record (a line of ``variants.jsonl``)."""
    plan = result.plan

    def num(x: float) -> float | None:
        return None if x is None or not np.isfinite(x) else round(float(x), 6)

    record: dict[str, Any] = {
        "variant": result.key, "overrides": result.meta.get("overrides", {}), "status": result.status.value,
        "seconds": round(result.seconds, 3), "message": result.message,
    }
    if plan is not None:
        record.update({"objective": num(plan.objective), "bound": num(plan.bound), "gap": num(plan.gap),
                       "budget": num(plan.budget), "cost": num(plan.cost), "sites_used": plan.sites_used,
                       "assignments": [f"{a.site_id}/{a.service}" for a in plan.assignments.itertuples()]})
    return record


__all__ = ["SweepPoint", "VaryAxis", "budget_tasks", "chosen_share", "efficient_mask", "frontier_from_rows",
           "frontier_row", "frontier_table", "hosts_share", "parse_vary", "robustness_from_hosts",
           "robustness_table", "sweep_tasks", "sweep_variants", "variant_record"]
