"""Themes and per-circle settings of a "1+6+N" city: one flagship, six themed circles, N more.

A theme preset (``src/siting/data/catalogue/themes.yaml``: 综合 the flagship, 康养, 金融, 产业,
文体, 创业, 银龄; a city file may add its own under ``themes:``) sets a circle's service weights
and the services it must get. A city file gives each circle its settings under
``circles.settings``::

    phases:
      - {name: "2025", share: 0.4}
      - {name: "2026", share: 0.35}
      - {name: "2027", share: 0.25}
    pilots: [渝北社区]                  # circles (or site ids) done in the first phase
    circles:
      boundaries: circles.geojson
      id_field: name
      settings:
        渝北社区: {theme: 综合, budget: 12000000}
        忠恕沱社区: {theme: 康养, phase: "2026", budget_share: 0.08}
        茅溪社区: {theme: 文体}

**Money.** A circle's money comes in the phases it is *active*: from its ``phase`` (default the
first) to the last; a pilot circle is active in the first phase only (典型引路: it is done
first, in full). ``budget`` (yuan) is spread over its active phases in proportion to the city's
phase budgets; ``budget_share`` takes that share of the city's money in each of its active
phases; the circles that give neither share what is left of each phase's money, in proportion
to their residents (按人口). Each circle then plans with its own money: circles are
independent, so they are solved side by side, exactly, with the standards-first objective —
a city-wide price cannot share money between lexicographic objectives (``siting batch``
without phases or settings still shares one budget by pricing coverage).

**Pilots and phases.** A pilot circle opens all its conversions in the first phase (at least
one); a circle's ``phase`` keeps its sites from being converted before it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from siting.data.catalogue.shipped import read_shipped_yaml
from siting.errors import ScenarioError


class Theme(BaseModel):
    """A theme preset: what a circle of this theme stresses and must get."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    meaning: str = Field(default="", description="One line on what the theme means for the plan")
    weights: dict[str, float] = Field(default_factory=dict, description="Service -> weight in the objective")
    required: list[str] = Field(default_factory=list, description="Services a circle of the theme must get")

    @property
    def label(self) -> str:
        """Bilingual label, e.g. ``康养 health and elderly care``."""
        return f"{self.name_zh} {self.name_en}"


class CircleSettings(BaseModel):
    """One circle's settings in a city file (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    theme: str | None = Field(default=None, description="A theme preset: its key or Chinese name")
    budget: float | None = Field(default=None, gt=0, allow_inf_nan=False,
                                 description="The circle's own money in yuan, over its phases")
    budget_share: float | None = Field(default=None, gt=0, le=1,
                                       description="The circle's share of the city's money in each of its phases")
    phase: str | None = Field(default=None, description="The first phase in which the circle's sites may be "
                                                         "converted (its name)")
    pilot: bool = Field(default=False, description="Done in the first phase (as listing it under 'pilots')")

    @model_validator(mode="before")
    @classmethod
    def _phase_as_text(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("phase"), int | float) and not isinstance(raw["phase"], bool):
            return {**raw, "phase": str(raw["phase"])}
        return raw

    @model_validator(mode="after")
    def _one_amount(self) -> CircleSettings:
        if self.budget is not None and self.budget_share is not None:
            raise ValueError("give the circle's money as 'budget' (yuan) or 'budget_share', not both")
        return self


@cache
def default_themes() -> tuple[Theme, ...]:
    """The built-in presets of ``themes.yaml``."""
    return tuple(Theme.model_validate(t) for t in read_shipped_yaml("themes.yaml")["themes"])


def theme_presets(own: Mapping[str, Mapping[str, Any]], origin: str) -> dict[str, Theme]:
    """Every theme a city file may name: the built-in ones and its own (``themes:``), by key and Chinese name.

    Raises
    ------
    ScenarioError
        For an own theme that is not a valid preset, naming the file and the field.
    """
    out: dict[str, Theme] = {}
    for t in default_themes():
        out[t.key] = out[t.name_zh] = t
    for name, entry in own.items():
        if not isinstance(entry, Mapping):
            raise ScenarioError(f"{origin}, field 'themes.{name}': give a mapping (name_en, meaning, weights, "
                                f"required)")
        fields = {"key": _key(str(name)), "name_zh": str(name), "name_en": str(name), **dict(entry)}
        try:
            theme = Theme.model_validate(fields)
        except ValueError as e:
            raise ScenarioError(f"{origin}, field 'themes.{name}': {e}") from None
        out[str(name)] = out[theme.key] = theme
    return out


def _key(name: str) -> str:
    """A key for a theme named in Chinese: ``theme_`` and the hex code of its name."""
    return name if name.isascii() and name[:1].isalpha() and name.islower() else "theme_" + name.encode().hex()


def resolve_theme(name: str, themes: Mapping[str, Theme], origin: str, circle: str) -> Theme:
    """The preset a circle names.

    Raises
    ------
    ScenarioError
        Naming the circle, the unknown theme and the known ones.
    """
    if name in themes:
        return themes[name]
    known = sorted({f"{t.name_zh} ({t.key})" for t in themes.values()})
    raise ScenarioError(f"{origin}, field 'circles.settings.{circle}.theme': unknown theme '{name}'; known themes: "
                        f"{', '.join(known)}; or define it under 'themes:'")


def circle_money(phase_budgets: np.ndarray, active: np.ndarray, own: np.ndarray, share: np.ndarray,
                 residents: np.ndarray, carry: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Each circle's money in each phase (module docstring).

    Parameters
    ----------
    phase_budgets
        The city's money per phase, shape (T,).
    active
        Boolean (circles × phases): the phases a circle gets money in.
    own
        Per circle, its ``budget`` in yuan (``nan`` where not given).
    share
        Per circle, its ``budget_share`` (``nan`` where not given).
    residents
        Per circle, its residents: the key of the split of what is left.
    carry
        Per phase: what no circle takes of the phase's money moves to the next phase's
        (default: every phase carries over).

    Returns
    -------
    money, unallocated
        Yuan per circle and phase, shape (circles × phases); and the city's money no circle
        gets (left in the last phase, or in a phase that does not carry over, with no circle to
        take it). The caller checks that the circles' own money does not exceed a phase's (see
        :func:`money_problems`).
    """
    B = np.asarray(phase_budgets, dtype=float)
    T = B.size
    act = np.asarray(active, dtype=bool)
    carry = np.ones(T, dtype=bool) if carry is None else np.asarray(carry, dtype=bool)
    money = np.zeros(act.shape)
    has_own, has_share = np.isfinite(own), np.isfinite(share)
    profile = act * B[None, :]
    total = profile.sum(axis=1, keepdims=True)
    spread = np.divide(profile, total, out=np.zeros_like(profile), where=total > 0)
    money[has_own] = own[has_own, None] * spread[has_own]
    money[has_share] = share[has_share, None] * profile[has_share]
    rest = np.flatnonzero(~(has_own | has_share))
    pop = np.asarray(residents, dtype=float)
    carried = unallocated = 0.0
    for t in range(T):  # phases, not data
        pool = max(B[t] - float(money[:, t].sum()), 0.0) + carried
        carried = 0.0
        weight = act[rest, t] * pop[rest]
        if weight.sum() > 0:
            money[rest, t] = weight / weight.sum() * pool
        elif carry[t] and t < T - 1:
            carried = pool
        else:
            unallocated += pool
    return money, unallocated


def money_problems(phase_names: Sequence[str], phase_budgets: np.ndarray, money: np.ndarray, fixed: np.ndarray,
                   origin: str) -> list[str]:
    """Phases whose circles' own money (``budget``, ``budget_share``: rows where ``fixed``) exceeds the city's."""
    taken = money[np.asarray(fixed, dtype=bool)].sum(axis=0)
    return [f"{origin}, field 'circles.settings': the circles' own budgets take {taken[t]:,.0f} yuan of phase "
            f"'{phase_names[t]}', more than its {phase_budgets[t]:,.0f}; lower them or raise the city's budget"
            for t in range(len(phase_names)) if taken[t] > phase_budgets[t] * (1 + 1e-9) + 0.5]


__all__ = ["CircleSettings", "Theme", "circle_money", "default_themes", "money_problems", "resolve_theme",
           "theme_presets"]
