"""Run one benchmark function in its own process: ``python -m benchmarks.worker SPEC``.

``SPEC`` is JSON: ``{"target": "module:function", "kwargs": {...}, "result": "path.json"}``.
The function's row is written to ``result``; see :func:`benchmarks.registry.run_worker`.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from pathlib import Path
from typing import Any


def _plain(value: Any) -> Any:
    """JSON-able copy: numpy scalars and arrays to Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    return value


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    module, func = spec["target"].split(":")
    out = Path(spec["result"])
    try:
        row = getattr(importlib.import_module(module), func)(**spec["kwargs"])
    except Exception as e:  # reported in the row: the other cases still run
        traceback.print_exc()
        row = {"status": f"error: {type(e).__name__}: {e}"}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(_plain(row)))
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
