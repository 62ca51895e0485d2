"""The installed version of siting (``0.0.0`` when run from a source tree without installing).

``__version__`` is read from the package metadata when first asked for, so that importing
siting does not import :mod:`importlib.metadata`.
"""

from __future__ import annotations

from functools import cache


@cache
def siting_version() -> str:
    """The installed version of siting, or ``0.0.0`` when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("siting")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return siting_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", "siting_version"]  # noqa: F822 (__version__ comes from __getattr__)
