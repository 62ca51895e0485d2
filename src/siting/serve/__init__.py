"""The what-if workbench (``siting serve``): one scenario prepared once, re-solved after every edit.

:mod:`~siting.serve.views`
    The preparation, walked once, seen under each edited scenario.
:mod:`~siting.serve.edits`
    The edits the API accepts and their translation to scenario overrides.
:mod:`~siting.serve.workbench`
    :class:`Workbench`: current, previous and saved plans; one solve at a time, newer edits win.
:mod:`~siting.serve.payloads`, :mod:`~siting.serve.outputs`
    What the API returns; map layers, the budget frontier, comparisons, exports.
:mod:`~siting.serve.guard`, :mod:`~siting.serve.app`, :mod:`~siting.serve.server`
    Host, Origin and size checks; the FastAPI application; uvicorn.
"""

from siting.serve.app import create_app
from siting.serve.edits import Edits
from siting.serve.server import serve
from siting.serve.workbench import PlanRecord, Workbench

__all__ = ["Edits", "PlanRecord", "Workbench", "create_app", "serve"]
