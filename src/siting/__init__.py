"""siting: which idle building becomes which community service.

An optimization engine for 15-minute community life circles (15分钟社区生活圈): it reads a
scenario (demand, an idle-asset ledger, existing facilities, a walking network), computes who
can walk to which site within each service's walking limit at each age group's speed, and
chooses the retrofit plan that covers the most residents of every age for the budget.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("siting")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
