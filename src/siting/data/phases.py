"""Phases of a scenario (典型引路、梯次推进): named stages or years, each with its money.

A scenario may give ``phases:``, a list of stages in order::

    budget: 12000000
    phases:
      - {name: "2025", share: 0.5}                      # half of the budget in the first year
      - {name: "2026", share: 0.3, max_conversions: 6}
      - {name: "2027", share: 0.2, carry_over: false, years: 2}
    pilots: [F01]                                       # sites converted in the first phase
    requirements:
      not_before: {S12: "2026"}                         # a site not converted before a phase

Each phase gives its money as ``budget`` (yuan) or ``share`` (of the scenario's ``budget``);
phases that all give yuan must add up to the scenario's ``budget``. ``carry_over`` (default
true) moves what a phase leaves unspent to the next one. ``years`` (default 1) is how long the
phase lasts: coverage counts for that many years (``objective.discount_rate`` discounts later
years). ``min_conversions`` / ``max_conversions`` bound the (site, service) conversions opened
in the phase. A conversion, once done, stays and serves from its phase on.

This module only validates the fields; :mod:`siting.pipeline.phased` turns them into the arrays
of the model (:class:`siting.model.phases.PhaseRules`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Relative slack when phase budgets are compared with the scenario's budget.
BUDGET_TOL = 1e-9


class Phase(BaseModel):
    """One phase: its name, its money, how long it lasts, what it may open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=60, description="The phase's name, e.g. 2025 or 一期")
    budget: float | None = Field(default=None, ge=0, allow_inf_nan=False,
                                 description="Money of the phase in yuan (or give 'share')")
    share: float | None = Field(default=None, ge=0, le=1,
                                description="Money of the phase as a share of the scenario's budget")
    years: float = Field(default=1.0, gt=0, le=100,
                         description="How long the phase lasts: its coverage counts this many years")
    carry_over: bool = Field(default=True, description="Money the phase leaves unspent moves to the next phase")
    min_conversions: int = Field(default=0, ge=0,
                                 description="At least this many (site, service) conversions opened in the phase")
    max_conversions: int | None = Field(default=None, ge=0,
                                        description="At most this many (site, service) conversions opened in it")

    @field_validator("name", mode="before")
    @classmethod
    def _name_as_text(cls, v: Any) -> Any:
        """Years written as numbers (2025) are names like any other."""
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _one_amount(self) -> Phase:
        if (self.budget is None) == (self.share is None):
            raise ValueError(f"phase '{self.name}': give its money as either 'budget' (yuan) or 'share' (of the "
                             f"scenario's budget), not {'both' if self.budget is not None else 'neither'}")
        if self.max_conversions is not None and self.max_conversions < self.min_conversions:
            raise ValueError(f"phase '{self.name}': max_conversions {self.max_conversions} is below "
                             f"min_conversions {self.min_conversions}")
        return self


def check_phases(phases: Sequence[Phase], budget: float) -> None:
    """The phases together: distinct names, and money that adds up.

    Raises
    ------
    ValueError
        Naming the phases at fault and the fix (the scenario's validator turns it into a
        :class:`~siting.errors.ScenarioError` naming the file and the field).
    """
    names = [p.name for p in phases]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"phase name(s) {twice} given more than once; give each phase its own name")
    if all(p.budget is not None for p in phases):
        total = math.fsum(float(p.budget or 0.0) for p in phases)
        if abs(total - budget) > BUDGET_TOL * max(budget, 1.0) + 0.5:
            raise ValueError(f"the phases' budgets add up to {total:,.0f} yuan but 'budget' is {budget:,.0f}; "
                             f"make them agree, or give each phase a 'share' of the budget")
    else:
        shares = math.fsum(float(p.share) if p.share is not None else float(p.budget or 0.0) / budget
                           for p in phases)
        if shares > 1.0 + BUDGET_TOL:
            raise ValueError(f"the phases take {shares:.4g} of the budget, more than all of it; lower their "
                             f"'share' (or 'budget') so that they add up to at most 1")


#: Objectives a phased plan may optimise over time.
PHASED_KINDS = ("standards", "coverage")


def check_phase_fields(phases: Sequence[Phase] | None, budget: float, *, pilots: Sequence[str],
                       not_before: dict[str, str], objective: str, discount_rate: float) -> None:
    """The scenario's fields that depend on ``phases``, checked together.

    Raises
    ------
    ValueError
        A field that needs phases without them, a phase name that names no phase, an objective
        that is not planned over time, or phases whose money does not add up.
    """
    if not phases:
        given = [f for f, v in (("pilots", pilots), ("requirements.not_before", not_before),
                                ("objective.discount_rate", discount_rate)) if v]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to a plan in phases; add 'phases:' (a list of stages, "
                             f"each with its budget) or remove them")
        return
    check_phases(phases, budget)
    names = [p.name for p in phases]
    unknown = sorted({v for v in not_before.values() if v not in names})
    if unknown:
        raise ValueError(f"requirements.not_before names phase(s) {unknown}, not among the phases {names}")
    if objective not in PHASED_KINDS:
        raise ValueError(f"objective.kind '{objective}' is not planned over phases; use one of {list(PHASED_KINDS)} "
                         f"or remove 'phases:'")


def phase_budgets(phases: Sequence[Phase], budget: float) -> list[float]:
    """Yuan of each phase: its ``budget``, or its ``share`` of the scenario's ``budget``."""
    return [float(p.budget) if p.budget is not None else float(p.share or 0.0) * budget for p in phases]


def phase_weights(phases: Sequence[Phase], discount_rate: float) -> list[float]:
    """Coverage-years of one resident covered throughout each phase.

    A phase of ``years`` starting ``start`` years after the first one counts
    ``Σ_{a=0}^{years-1} (1 + r)^-(start + a)`` (``years`` itself without discounting;
    a fractional last year counts its fraction).
    """
    out, start = [], 0.0
    for p in phases:
        whole = math.floor(p.years)
        w = math.fsum((1.0 + discount_rate) ** -(start + a) for a in range(whole))
        if p.years > whole:
            w += (p.years - whole) * (1.0 + discount_rate) ** -(start + whole)
        out.append(w)
        start += p.years
    return out


__all__ = ["PHASED_KINDS", "Phase", "check_phase_fields", "check_phases", "phase_budgets", "phase_weights"]
