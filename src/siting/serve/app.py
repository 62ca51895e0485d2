"""The workbench's web application (FastAPI): the page, its static files and the JSON API.

Every solve runs in a worker thread (``run_in_threadpool``), never on the event loop, so the
page, the status and the saved plans stay responsive while HiGHS works; the
:class:`~siting.serve.workbench.Workbench` lets one solve run at a time. The API is described
by FastAPI's OpenAPI document at ``/openapi.json`` (the Swagger and ReDoc pages are switched
off: they load their scripts from a CDN, and the workbench works offline).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from siting._version import __version__
from siting.errors import OutputError, SitingError
from siting.serve.edits import Edits, SaveRequest, edit_problems, name_problem, problem, pydantic_problems
from siting.serve.guard import MAX_BODY_BYTES, Guard
from siting.serve.outputs import Frontier, base_map, compare_saved, export_plan, exported_file, plan_map
from siting.serve.payloads import group_label
from siting.serve.workbench import Workbench


def _static_dir(package: str) -> Path:
    return Path(str(resources.files(package).joinpath("static")))


def _unprocessable(problems: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": problems}, status_code=422)


def _not_found(what: str, fix: str) -> JSONResponse:
    return JSONResponse({"detail": what, "fix": fix}, status_code=404)


def scenario_info(wb: Workbench) -> dict[str, Any]:
    """``GET /api/scenario``: what is loaded and the settings edits start from."""
    sc, p = wb.scenario, wb.base
    cat, sites = p.catalogue, p.district.sites
    in_play = sc.services or list(cat.service_keys)
    return {
        "name": sc.name, "title": sc.title, "description": sc.description, "version": __version__,
        "objective_kind": sc.objective.kind,
        "budget": float(sc.budget), "budget_max": 2.0 * float(sc.budget),
        "time_limit_s": sc.solver.time_limit_s, "mip_gap": sc.solver.mip_gap,
        "max_walk_scale": wb.max_walk_scale, "prepare_seconds": round(wb.prepare_seconds, 3),
        "sites": [{"id": str(sites.ids[j]), "name": str(sites.names[j]), "kind": str(sites.kinds[j]),
                   "floor_area_m2": float(sites.floor_area[j]), "retrofit_cost": float(sites.retrofit_cost[j]),
                   "allowed": [k for s, k in enumerate(cat.service_keys) if sites.allowed[j, s]]}
                  for j in range(len(sites))],
        "services": [{"key": s.key, "label": s.label, "category": s.category,
                      "radius_m": None if s.radius_m is None else s.radius_m / wb.max_walk_scale,
                      "walk_limit_min": None if s.walk_limit_min is None else s.walk_limit_min / wb.max_walk_scale,
                      "serves": list(s.serves), "in_play": s.key in in_play,
                      "weight": float(sc.weights.services.get(s.key, 1.0))} for s in cat.services],
        "age_groups": [{"key": g, "label": group_label(cat, g), "weight": float(sc.weights.age_groups.get(g, 1.0))}
                       for g in cat.group_keys],
        "settings": {"budget": float(sc.budget), "force_in": list(sc.requirements.force_in),
                     "force_out": list(sc.requirements.force_out), "services": list(in_play),
                     "site_services": {k: list(v) for k, v in sc.requirements.site_services.items()},
                     "walk_limit_scale": 1.0},
    }


def create_app(workbench: Workbench, *, allowed_hosts: set[str] | frozenset[str], out_dir: Path,
               max_body_bytes: int = MAX_BODY_BYTES) -> Guard:
    """The workbench's ASGI application, behind its :class:`~siting.serve.guard.Guard`.

    Parameters
    ----------
    workbench
        The prepared scenario (its first plan solved or not).
    allowed_hosts
        ``Host`` header values accepted (see :func:`siting.serve.guard.served_hosts`).
    out_dir
        The only folder exports are written to.
    max_body_bytes
        Largest request body accepted.
    """
    wb = workbench
    frontier = Frontier(wb)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(frontier.close)  # no HiGHS thread left running at exit

    api = FastAPI(title="siting workbench", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="What-if workbench over one prepared scenario: every edit re-solves the model only.")
    page = (_static_dir("siting.serve") / "workbench.html").read_text(encoding="utf-8")
    api.mount("/static/report", StaticFiles(directory=_static_dir("siting.report")), name="report-static")
    api.mount("/static/serve", StaticFiles(directory=_static_dir("siting.serve")), name="serve-static")
    info_cache: dict[str, Any] = {}

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _unprocessable(pydantic_problems(exc.errors()))

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                                                       "style-src 'self' 'unsafe-inline'"})

    @api.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @api.get("/api/scenario", summary="What is loaded: sites, services, age groups, settings, the map's base layers")
    async def get_scenario() -> dict[str, Any]:
        if "info" not in info_cache:
            info = await run_in_threadpool(scenario_info, wb)
            info["map"] = await run_in_threadpool(base_map, wb.base)
            info_cache["info"] = info
        return info_cache["info"]  # type: ignore[no-any-return]

    @api.post("/api/solve", summary="Re-solve the loaded scenario with these edits (fields left out: as loaded)",
              response_model=None)
    async def post_solve(edits: Edits) -> dict[str, Any] | JSONResponse:
        problems = edit_problems(edits, sites=wb.site_ids, services=wb.service_keys, groups=wb.group_keys,
                                 max_walk_scale=wb.max_walk_scale)
        if problems:
            return _unprocessable(problems)
        try:
            scenario = wb.edited_scenario(edits)
        except SitingError as e:
            return _unprocessable([problem([], str(e), "correct the field named in the message")])
        return await run_in_threadpool(wb.solve, edits, scenario)

    @api.get("/api/status", summary="What the solver is doing: idle, solving or frontier; progress lines")
    async def get_status() -> dict[str, Any]:
        return wb.status()

    @api.get("/api/plan", summary="The current plan with its figures, ranked options and the last change",
             response_model=None)
    async def get_plan() -> dict[str, Any] | JSONResponse:
        rec = wb.current
        if rec is None:
            return _not_found("no plan yet", "wait for the first solve (GET /api/status)")
        return await run_in_threadpool(wb.describe, rec, wb.previous)

    @api.get("/api/plans", summary="The saved plans and their key figures")
    async def get_plans() -> dict[str, Any]:
        return {"plans": [wb.summary(n) for n in sorted(wb.saved)]}

    @api.post("/api/plans", summary="Save the current plan under a name", response_model=None)
    async def post_plans(body: SaveRequest) -> dict[str, Any] | JSONResponse:
        bad = name_problem(body.name)
        if bad is not None:
            return _unprocessable([bad])
        if wb.current is None:
            return JSONResponse({"detail": "no plan to save yet", "fix": "wait for the first solve"}, status_code=409)
        return wb.save(body.name)

    @api.get("/api/compare", summary="Saved plans side by side (give names=A&names=B...)", response_model=None)
    async def get_compare(names: Annotated[list[str], Query(min_length=1)]) -> dict[str, Any] | JSONResponse:
        unknown = [n for n in names if wb.record(n) is None]
        if unknown:
            return _not_found(f"no saved plan named {unknown}", f"save it first; saved: {sorted(wb.saved)}")
        named = [(n, wb.record(n)) for n in names]
        return await run_in_threadpool(compare_saved, [(n, r) for n, r in named if r is not None])

    @api.get("/api/map/{name}", summary="Map layers of the current plan ('current') or a saved plan",
             response_model=None)
    async def get_map(name: str) -> dict[str, Any] | JSONResponse:
        rec = wb.record(name)
        if rec is None:
            return _not_found(f"no plan named {name!r}", f"use 'current' or a saved plan: {sorted(wb.saved)}")
        return await run_in_threadpool(plan_map, name, rec)

    @api.get("/api/frontier", summary="Coverage against budget for the current edits (computed between edits)")
    async def get_frontier() -> dict[str, Any]:
        return frontier.get()

    @api.get("/api/export/{name}", summary="Write a saved plan (or 'current') as plan.csv, coverage.csv, "
                                           "report.html, summary.json and scenario.yaml", response_model=None)
    async def get_export(name: str) -> dict[str, Any] | JSONResponse:
        bad = name_problem(name) if name != "current" else None
        if bad is not None:
            return _unprocessable([{**bad, "loc": ["path", "name"]}])
        rec = wb.record(name)
        if rec is None:
            return _not_found(f"no plan named {name!r}", f"save it first (POST /api/plans); saved: {sorted(wb.saved)}")
        try:
            result = await run_in_threadpool(export_plan, rec, out_dir, name)
        except SitingError as e:
            return JSONResponse({"detail": str(e)}, status_code=500)
        return {**result, "url": f"/api/export/{name}/"}

    @api.get("/api/export/{name}/{file}", summary="One file of an export", response_model=None)
    async def get_export_file(name: str, file: str) -> FileResponse | JSONResponse:
        try:
            path = exported_file(out_dir, name, file)
        except OutputError as e:
            return _not_found(str(e), "export the plan first (GET /api/export/{name}) and use a file it lists")
        return FileResponse(path)

    return Guard(api, allowed_hosts, max_body_bytes)


__all__ = ["create_app", "scenario_info"]
