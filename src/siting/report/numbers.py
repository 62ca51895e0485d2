"""Numbers as the outputs write them."""

from __future__ import annotations

import numpy as np


def json_number(x: float) -> float | None:
    """A float for JSON: rounded to 6 decimals, ``None`` where not finite."""
    return None if not np.isfinite(x) else round(float(x), 6)


__all__ = ["json_number"]
