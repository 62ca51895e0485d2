"""The edits a decision maker makes, as the API receives them, and their translation to overrides.

An :class:`Edits` body describes the whole what-if against the scenario the workbench loaded
(not against the previous edit): a field left out keeps the loaded scenario's value. It is
translated into scenario overrides (:meth:`Edits.overrides`) and applied by
:func:`siting.data.overrides.apply_overrides`, the same code as ``extends:`` and ``--vary``.
:func:`edit_problems` checks the keys an edit names against what the workbench has loaded
(site ids, services, age groups), so that a mistake is answered with the field and the fix
before anything is solved.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: What a saved plan's name may be: it names a folder of the output directory.
PLAN_NAME = re.compile(r"^[^\W_][\w\-]{0,63}$")


class WeightEdits(BaseModel):
    """Weights of the objective per age group and per service (others keep the loaded scenario's)."""

    model_config = ConfigDict(extra="forbid")

    age_groups: dict[str, float] = Field(default_factory=dict, description="age group key -> weight (0 or more)")
    services: dict[str, float] = Field(default_factory=dict, description="service key -> weight (0 or more)")

    @field_validator("age_groups", "services")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in v.items() if not (math.isfinite(w) and w >= 0)}
        if bad:
            raise ValueError(f"weights must be finite and zero or positive, got {bad}")
        return v


class Edits(BaseModel):
    """A what-if: the loaded scenario with these fields changed (a field left out is not changed).

    ``force_in``, ``force_out``, ``services`` and ``site_services`` replace the loaded
    scenario's lists; ``weights`` merge with its weights; ``walk_limit_scale`` multiplies
    every service's walking limit.
    """

    model_config = ConfigDict(extra="forbid")

    budget: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="budget in yuan")
    force_in: list[str] | None = Field(default=None, description="site ids that must be converted")
    force_out: list[str] | None = Field(default=None, description="site ids that must not be converted")
    weights: WeightEdits | None = Field(default=None, description="objective weights per age group and service")
    services: list[str] | None = Field(default=None, min_length=1, description="service keys in play")
    walk_limit_scale: float | None = Field(default=None, gt=0, allow_inf_nan=False,
                                           description="every walking limit × this factor")
    site_services: dict[str, list[str]] | None = Field(
        default=None, description="site id -> the only services it may host")

    def overrides(self) -> dict[str, Any]:
        """The edits as scenario overrides (dotted paths), for :func:`~siting.data.overrides.apply_overrides`."""
        out: dict[str, Any] = {}
        if self.budget is not None:
            out["budget"] = float(self.budget)
        if self.force_in is not None:
            out["requirements.force_in"] = list(self.force_in)
        if self.force_out is not None:
            out["requirements.force_out"] = list(self.force_out)
        if self.site_services is not None:
            out["requirements.site_services"] = {k: list(v) for k, v in self.site_services.items()}
        if self.weights is not None:
            if self.weights.age_groups:
                out["weights.age_groups"] = dict(self.weights.age_groups)
            if self.weights.services:
                out["weights.services"] = dict(self.weights.services)
        if self.services is not None:
            out["services"] = list(self.services)
        if self.walk_limit_scale is not None:
            out["walk_limit_scale"] = float(self.walk_limit_scale)
        return out


class SaveRequest(BaseModel):
    """Save the current plan under a name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="letters, digits, '_' and '-', up to 64, starting with a letter or digit")


def problem(loc: Sequence[str | int], msg: str, fix: str, kind: str = "value_error") -> dict[str, Any]:
    """One 422 entry: where (``loc``), what is wrong (``msg``) and how to fix it (``fix``)."""
    return {"loc": ["body", *loc], "msg": msg, "type": kind, "fix": fix}


def name_problem(name: str, field: str = "name") -> dict[str, Any] | None:
    """Why a plan name cannot name a folder of the output directory (``None`` when it can)."""
    if name == "current":
        return problem([field], "'current' names the plan on screen, not a saved plan", "choose another name")
    if PLAN_NAME.match(name):
        return None
    return problem([field], f"{name!r} cannot name a saved plan",
                   "use 1 to 64 letters, digits, '_' or '-', starting with a letter or digit (no '/', '.', spaces)")


def _unknown(keys: Sequence[str], known: Sequence[str], loc: list[str | int], what: str) -> list[dict[str, Any]]:
    out = []
    for i, k in enumerate(keys):
        if k not in known:
            shown = list(known) if len(known) <= 30 else [*known[:30], "..."]
            out.append(problem([*loc, i], f"unknown {what} {k!r}", f"use one of {shown}"))
    return out


def edit_problems(edits: Edits, *, sites: Sequence[str], services: Sequence[str], groups: Sequence[str],
                  max_walk_scale: float) -> list[dict[str, Any]]:
    """Every key of an edit the workbench does not know, and limits it cannot honour.

    Parameters
    ----------
    edits
        The request body.
    sites, services, groups
        Site ids, service keys and age-group keys the workbench has loaded.
    max_walk_scale
        The largest walking-limit scale the district was walked for.
    """
    out: list[dict[str, Any]] = []
    out += _unknown(edits.force_in or [], sites, ["force_in"], "site id")
    out += _unknown(edits.force_out or [], sites, ["force_out"], "site id")
    both = sorted(set(edits.force_in or []) & set(edits.force_out or []))
    if both:
        out.append(problem(["force_out"], f"site(s) {both} are in force_in too",
                           "a site is forced in, forced out or free: remove it from one of the lists"))
    out += _unknown(edits.services or [], services, ["services"], "service")
    if edits.services is not None and len(set(edits.services)) < len(edits.services):
        out.append(problem(["services"], "a service is named twice", "name each service once"))
    if edits.weights is not None:
        for k in edits.weights.age_groups:
            if k not in groups:
                out.append(problem(["weights", "age_groups", k], f"unknown age group {k!r}",
                                   f"use one of {list(groups)}"))
        for k in edits.weights.services:
            if k not in services:
                out.append(problem(["weights", "services", k], f"unknown service {k!r}",
                                   f"use one of {list(services)}"))
    for sid, keys in (edits.site_services or {}).items():
        if sid not in sites:
            out.append(problem(["site_services", sid], f"unknown site id {sid!r}", "use a site id of the ledger"))
        out += _unknown(keys, services, ["site_services", sid], "service")
    scale = edits.walk_limit_scale
    if scale is not None and scale > max_walk_scale * (1 + 1e-9):
        out.append(problem(["walk_limit_scale"], f"{scale:g} is above {max_walk_scale:g}, the largest scale this "
                           f"workbench walked the district for",
                           f"give a factor up to {max_walk_scale:g}, or restart with --max-walk-scale {scale:g}"))
    return out


#: The fix to show for pydantic's error types in a request body.
FIXES = {
    "missing": "add the field",
    "extra_forbidden": "remove the field; the fields are listed in /docs (OpenAPI)",
    "greater_than": "give a number above the limit",
    "finite_number": "give a finite number",
    "float_parsing": "give a number",
    "float_type": "give a number",
    "list_type": "give a list, e.g. [\"S01\", \"S02\"]",
    "dict_type": "give an object, e.g. {\"elderly\": 2}",
    "string_type": "give text",
    "too_short": "give at least one item",
    "json_invalid": "send a valid JSON object",
    "model_attributes_type": "send a JSON object",
    "dict_attributes_type": "send a JSON object",
}


def pydantic_problems(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's validation errors with a ``fix`` for each (the input echoed back is left out)."""
    out = []
    for e in errors:
        kind = str(e.get("type", "value_error"))
        ctx = e.get("ctx") or {}
        fix = FIXES.get(kind, "correct the value as the message says")
        if kind == "greater_than" and "gt" in ctx:
            fix = f"give a number above {ctx['gt']}"
        out.append({"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
                    "msg": str(e.get("msg", "")), "type": kind, "fix": fix})
    return out


__all__ = ["FIXES", "PLAN_NAME", "Edits", "SaveRequest", "WeightEdits", "edit_problems", "name_problem",
           "problem", "pydantic_problems"]
