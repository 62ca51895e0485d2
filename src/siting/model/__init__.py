"""Formulations in matrix form, solver-agnostic: no solver package is imported here."""

from siting.model.covering import CoveringModel, build_covering_model
from siting.model.milp import MilpModel, Sense

__all__ = ["CoveringModel", "MilpModel", "Sense", "build_covering_model"]
