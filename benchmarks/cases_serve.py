"""The workbench's latency: ``POST /api/solve`` end to end over 20 random edits.

The workbench is served by uvicorn on a free local port and called over HTTP by httpx, as the
page calls it: the time of each edit is from sending the request to having read the JSON
answer (request, validation, the edit viewed on the one preparation, the solve warm-started
from the previous plan, the answer with its figures, ranked options and differences). The 20
edits are drawn with a fixed seed and accumulate like a planner's session: a budget moved,
a site forced in or out, a site freed, an age group's weight changed, the walking limits
scaled, a service taken out of play or back. The default district keeps its scenario's limits
(60 s, gap 0.01 %); the shared 20,000 × 1,000 district gets 10 s per edit (its gap is
reported). Goal on the default scenario: p95 ≤ 1 s.
"""

from __future__ import annotations

import copy
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.registry import ROOT, Context, Row, case

EDITS = 20
SEED = 17


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def random_edits(info: dict[str, Any], n: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """``n`` cumulative edits of a planner's session, drawn from ``/api/scenario``'s answer."""
    rng = np.random.default_rng(seed)
    sites = [s["id"] for s in info["sites"]]
    services = [s["key"] for s in info["services"] if s["in_play"]]
    groups = [g["key"] for g in info["age_groups"]]
    state: dict[str, Any] = {"force_in": [], "force_out": []}
    out = []
    for _ in range(n):
        kind = rng.choice(["budget", "budget", "force_out", "force_in", "free", "weight", "walk", "services"])
        if kind == "budget":
            state["budget"] = round(float(info["budget"] * rng.uniform(0.4, 1.6)), -4)
            what = f"budget {state['budget']:,.0f}"
        elif kind in ("force_out", "force_in"):
            site = str(rng.choice(sites))
            other = "force_in" if kind == "force_out" else "force_out"
            state[other] = [s for s in state[other] if s != site]
            # at most one forced-in site (a planner's "what if we must use this building?") and three out
            limit = 1 if kind == "force_in" else 3
            keep = [s for s in state[kind] if s != site][-(limit - 1):] if limit > 1 else []
            state[kind] = sorted({*keep, site})
            what = f"{kind} {site}"
        elif kind == "free":
            forced = state["force_in"] + state["force_out"]
            site = str(rng.choice(forced)) if forced else str(rng.choice(sites))
            state["force_in"] = [s for s in state["force_in"] if s != site]
            state["force_out"] = [s for s in state["force_out"] if s != site]
            what = f"free {site}"
        elif kind == "weight":
            g = str(rng.choice(groups))
            w = round(float(rng.choice([0.5, 1.0, 2.0, 3.0])), 1)
            state.setdefault("weights", {"age_groups": {}})["age_groups"][g] = w
            what = f"weight {g} = {w:g}"
        elif kind == "walk":
            state["walk_limit_scale"] = round(float(rng.uniform(0.7, min(1.3, info["max_walk_scale"]))), 2)
            what = f"walking limits × {state['walk_limit_scale']:g}"
        else:
            drop = str(rng.choice(services))
            state["services"] = [s for s in services if s != drop] if len(services) > 1 else services
            what = f"services without {drop}"
        out.append((what, copy.deepcopy(state)))  # each edit as sent: the session's state at that moment
    return out


def measure(scenario_path: Any, *, time_limit_s: float | None, label: str, warm_start: bool = True,
            edits: int = EDITS, seed: int = SEED) -> list[Row]:
    """Serve the scenario, send the edits, one row per edit and the summary rows."""
    import httpx
    import uvicorn

    from siting.data.scenario import load_scenario
    from siting.serve import Edits, Workbench, create_app
    from siting.serve.guard import served_hosts

    t0 = time.perf_counter()
    wb = Workbench(load_scenario(scenario_path), time_limit_s=time_limit_s, warm_start=warm_start)
    prepare_s = time.perf_counter() - t0
    first = wb.solve(Edits())
    port = _free_port()
    with tempfile.TemporaryDirectory() as out:
        app = create_app(wb, allowed_hosts=served_hosts("127.0.0.1", port), out_dir=Path(out))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        rows: list[Row] = []
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
                info = client.get("/api/scenario").json()
                for i, (what, body) in enumerate(random_edits(info, edits, seed), start=1):
                    t = time.perf_counter()
                    r = client.post("/api/solve", json=body)
                    latency = time.perf_counter() - t
                    answer = r.json()
                    rows.append({"district": label, "edit": i, "what": what, "http": r.status_code,
                                 "status": answer.get("status"), "latency_s": round(latency, 3),
                                 "server_solve_s": answer.get("seconds"), "gap": answer.get("gap"),
                                 "warm_start": answer.get("warm_start"), "objective": answer.get("objective")})
        finally:
            server.should_exit = True
            thread.join(60)
    solved = [r for r in rows if r["status"] in ("optimal", "feasible", "time_limit")]
    lat = np.array([r["latency_s"] for r in solved]) if solved else np.array([np.nan])
    gaps = [r["gap"] for r in rows if r["gap"] is not None]
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    summary = {"district": label, "edit": "summary",
               "what": f"{len(rows)} edits ({len(solved)} with a plan: p50/p95/max over those), warm start "
                       f"{warm_start}, time limit {wb.scenario.solver.time_limit_s:g} s",
               "http": None, "status": ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
               "latency_s": None, "p50_s": round(float(np.percentile(lat, 50)), 3),
               "p95_s": round(float(np.percentile(lat, 95)), 3), "max_s": round(float(lat.max()), 3),
               "max_gap": max(gaps) if gaps else None, "prepare_s": round(prepare_s, 2),
               "first_solve_s": first.get("seconds"), "time_limit_s": wb.scenario.solver.time_limit_s,
               # the machine is shared: its load during the run says how far the figures are inflated
               "load_1min_end": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
    return [*rows, summary]


COLUMNS = ("district", "edit", "what", "status", "latency_s", "server_solve_s", "gap", "warm_start",
           "p50_s", "p95_s", "max_s", "max_gap", "prepare_s")


@case("serve-latency-default", title="siting serve: POST /api/solve latency, 20 random edits, default scenario",
      columns=COLUMNS)
def latency_default(ctx: Context) -> list[Row]:
    scenario = ROOT / "scenarios" / "jiangbei-yubei.yaml"
    warm = measure(scenario, time_limit_s=None, label="jiangbei-yubei")
    cold = measure(scenario, time_limit_s=None, label="jiangbei-yubei", warm_start=False)
    quick = measure(scenario, time_limit_s=1.0, label="jiangbei-yubei")
    return [*warm, cold[-1], quick[-1]]  # the same edits cold, and with 1 s per solve: their summaries


@case("serve-latency-district", suites=("full",), columns=COLUMNS,
      title="siting serve: POST /api/solve latency, 20 random edits, shared 20,000 x 1,000 district, 10 s per edit")
def latency_district(ctx: Context) -> list[Row]:
    from benchmarks.district import district_scenario

    path = district_scenario(ctx.require_shared("district", "generate.py").parent.parent)
    return measure(path, time_limit_s=10.0, label="district 20,000 x 1,000")
