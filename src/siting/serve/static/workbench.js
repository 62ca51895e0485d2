/* siting workbench: edits -> POST /api/solve -> the new plan, what changed, the map.
   Every data string goes into the page with textContent, never as HTML.
   Age groups and services come from /api/scenario: no key is written here. */
(function () {
  "use strict";
  var S = null;            // GET /api/scenario
  var edits = {};          // the what-if, against the loaded scenario
  var selected = null;     // site id of the site panel
  var plan = null;         // the current plan (POST /api/solve or GET /api/plan)
  var inFlight = 0;
  var map, layers = {}, control = null, candMarkers = {}, compareLayers = [];

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  // digits: fraction digits (an objective in shares, about 1.4, needs four; residents and yuan none)
  function fmt(v, digits) {
    if (v === null || v === undefined || isNaN(v)) { return "–"; }
    return Number(v).toLocaleString("en", { maximumFractionDigits: digits || 0 });
  }
  function pct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + " %"; }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } return node; }
  function api(method, path, body) {
    var opts = { method: method, headers: {} };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, status: r.status, body: j }; });
    });
  }
  function colour(share) {
    var s = Math.max(0, Math.min(1, share)), r, g, b;
    if (s < 0.5) { r = 215; g = Math.round(48 + (s / 0.5) * 142); b = 39; }
    else { r = Math.round(215 - ((s - 0.5) / 0.5) * 189); g = Math.round(190 - ((s - 0.5) / 0.5) * 40); b = Math.round(39 + ((s - 0.5) / 0.5) * 41); }
    return "rgb(" + r + "," + g + "," + b + ")";
  }
  function say(text, isError) {
    var m = $("message");
    m.hidden = !text; m.textContent = text || "";
    m.className = isError ? "message" : "message note";
  }
  function label(list, key) {
    for (var i = 0; i < list.length; i++) { if (list[i].key === key) { return list[i].label; } }
    return key;
  }
  function siteOf(id) {
    for (var i = 0; i < S.sites.length; i++) { if (S.sites[i].id === id) { return S.sites[i]; } }
    return null;
  }
  function cell(tr, text, numeric, sort) {
    var td = el("td", numeric ? "n" : null, text);
    if (sort !== undefined) { td.setAttribute("data-sort", sort); }
    tr.appendChild(td); return td;
  }

  // ------------------------------------------------------------------ the map
  function drawBase(m) {
    map = L.map("map", { preferCanvas: true, zoomSnap: 0.25, attributionControl: false });
    map.fitBounds(m.bounds);
    L.polygon(m.outline, { color: "#9aa0a6", weight: 1, fillColor: "#fff", fillOpacity: 0.6, interactive: false }).addTo(map);
    if (m.streets.length) { L.polyline(m.streets, { color: "#b9b2a3", weight: 1.5, interactive: false }).addTo(map); }
    layers.existing = L.layerGroup();
    m.existing.forEach(function (e) {
      L.marker([e.lat, e.lon], { icon: L.divIcon({ className: "existing-marker", iconSize: [12, 12] }), keyboard: false })
        .bindTooltip(el("span", null, e.name + " — " + e.service)).addTo(layers.existing);
    });
    layers.existing.addTo(map);
    layers.candidates = L.layerGroup();
    m.candidates.forEach(function (c) {
      var mk = L.marker([c.lat, c.lon], { icon: L.divIcon({ className: "cand-marker", iconSize: [12, 12] }), title: c.id });
      mk.bindTooltip(el("span", null, c.id + " " + c.name));
      mk.on("click", function () { selectSite(c.id); });
      mk.on("add", function () { var e = mk.getElement(); if (e) { e.setAttribute("data-site", c.id); } });
      candMarkers[c.id] = mk;
      layers.candidates.addLayer(mk);
    });
    layers.candidates.addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    map.getContainer().setAttribute("data-ready", "1");
  }
  function demandLayer(shares, what) {
    var d = S.map.demand, layer = L.layerGroup();
    var maxRes = Math.max.apply(null, d.residents.concat([1]));
    for (var i = 0; i < d.lat.length; i++) {
      L.circleMarker([d.lat[i], d.lon[i]], { radius: 3 + 5 * Math.sqrt(d.residents[i] / maxRes), stroke: false,
        fillColor: colour(shares[i]), fillOpacity: 0.85 })
        .bindTooltip(d.id[i] + ": " + d.residents[i] + " residents, " + Math.round(100 * shares[i]) + " % of " + what)
        .addTo(layer);
    }
    return layer;
  }
  function planLayers(pm, k) {
    var reach = L.layerGroup(), sites = L.layerGroup();
    pm.reach.forEach(function (r) {
      L.polygon(r.polygon, { color: "#1f4e9c", weight: 1, opacity: 0.5, fillOpacity: 0.05, dashArray: "3 3",
                             className: "reach-area", interactive: false }).addTo(reach);
    });
    pm.sites.forEach(function (s) {
      var mk = L.marker([s.lat, s.lon], { icon: L.divIcon({ className: "site-marker site-marker-" + k, iconSize: [18, 18] }),
                                         title: s.id, riseOnHover: true });
      mk.bindTooltip(el("span", null, s.id + ": " + s.services.map(function (v) { return v.zh; }).join("、")));
      mk.on("click", function () { selectSite(s.id); });
      mk.on("add", function () { var e = mk.getElement(); if (e) { e.setAttribute("data-site", s.id); e.setAttribute("data-plan", pm.name); } });
      sites.addLayer(mk);
    });
    return { reach: reach, sites: sites };
  }
  function drawPlan(pm) {
    ["demand", "reach", "sites"].forEach(function (k) { if (layers[k]) { map.removeLayer(layers[k]); } });
    if (control) { map.removeControl(control); }
    var bases = {}, first = null;
    pm.groups.forEach(function (g) {
      var layer = demandLayer(pm.after[g.key], "services reached after the plan");
      bases["after the plan: " + g.label] = layer;
      if (!first) { first = layer; }
    });
    bases["before the plan: all ages"] = demandLayer(pm.before, "services reached before the plan");
    layers.demand = first; first.addTo(map);
    var pl = planLayers(pm, 0);
    layers.reach = pl.reach.addTo(map); layers.sites = pl.sites.addTo(map);
    var overlays = { "Idle sites 闲置场所": layers.candidates, "Existing facilities 现有设施": layers.existing,
                     "Reach areas 步行可达范围": layers.reach, "Converted sites 改造场所": layers.sites };
    compareLayers.forEach(function (c) { overlays["Converted sites — " + c.name] = c.sites; overlays["Reach areas — " + c.name] = c.reach; });
    control = L.control.layers(bases, overlays, { collapsed: true, position: "topright" }).addTo(map);
    bump("data-maps-drawn");
    layers.candidates.bringToFront && layers.candidates.bringToFront();
    paintCandidates();
  }
  function paintCandidates() {
    Object.keys(candMarkers).forEach(function (id) {
      var e = candMarkers[id].getElement();
      if (!e) { return; }
      e.classList.toggle("forced-in", (edits.force_in || S.settings.force_in).indexOf(id) >= 0);
      e.classList.toggle("forced-out", (edits.force_out || S.settings.force_out).indexOf(id) >= 0);
      e.classList.toggle("selected", id === selected);
    });
  }

  // ------------------------------------------------------------------ controls
  function list(name) { return (edits[name] || S.settings[name]).slice(); }
  function setForce(id, how) {
    var fin = list("force_in").filter(function (x) { return x !== id; });
    var fout = list("force_out").filter(function (x) { return x !== id; });
    if (how === "in") { fin.push(id); } else if (how === "out") { fout.push(id); }
    edits.force_in = fin; edits.force_out = fout;
    selectSite(id); solve();
  }
  function selectSite(id) {
    selected = id;
    var s = siteOf(id), panel = clear($("site-panel"));
    if (!s) { return; }
    panel.appendChild(el("b", null, s.id + " " + s.name));
    panel.appendChild(el("div", "note", s.kind + " · " + fmt(s.floor_area_m2) + " m² · retrofit " + fmt(s.retrofit_cost) + " 元"));
    var state = list("force_in").indexOf(id) >= 0 ? "in" : list("force_out").indexOf(id) >= 0 ? "out" : "free";
    [["in", "Force in 必选", "force-in"], ["out", "Force out 排除", "force-out"], ["free", "Free 自由", "free"]].forEach(function (b) {
      var btn = el("button", state === b[0] ? "on" : null, b[1]);
      btn.type = "button"; btn.id = b[2];
      btn.addEventListener("click", function () { setForce(id, b[0]); });
      panel.appendChild(btn);
    });
    var hosted = plan ? plan.plan.filter(function (p) { return p.site === id; }).map(function (p) { return p.service_label; }) : [];
    panel.appendChild(el("div", "note", hosted.length ? "In the plan: " + hosted.join("、") : "Not in the plan."));
    var may = (edits.site_services || S.settings.site_services)[id] || s.allowed;
    var box = el("div", "checks"); box.id = "site-services";
    panel.appendChild(el("div", "note", "Services it may host:"));
    s.allowed.forEach(function (key) {
      var lab = el("label"), cb = el("input");
      cb.type = "checkbox"; cb.checked = may.indexOf(key) >= 0; cb.value = key;
      cb.addEventListener("change", function () {
        var chosen = [];
        box.querySelectorAll("input").forEach(function (c) { if (c.checked) { chosen.push(c.value); } });
        var ss = JSON.parse(JSON.stringify(edits.site_services || S.settings.site_services));
        if (chosen.length === s.allowed.length) { delete ss[id]; } else { ss[id] = chosen; }
        edits.site_services = ss; solve();
      });
      lab.appendChild(cb); lab.appendChild(document.createTextNode(" " + label(S.services, key)));
      box.appendChild(lab);
    });
    panel.appendChild(box);
    paintCandidates();
  }
  function buildControls() {
    var slider = $("budget-slider"), input = $("budget-input");
    slider.min = 0; slider.max = S.budget_max; slider.step = Math.max(1, Math.round(S.budget_max / 200));
    slider.value = S.budget; input.value = Math.round(S.budget);
    slider.addEventListener("input", function () { input.value = slider.value; });
    slider.addEventListener("change", function () { setBudget(Number(slider.value)); });
    input.addEventListener("change", function () { slider.value = input.value; setBudget(Number(input.value)); });
    var gw = clear($("group-weights"));
    S.age_groups.forEach(function (g) { gw.appendChild(weightInput("age_groups", g)); });
    var sw = clear($("service-weights"));
    S.services.forEach(function (s) { sw.appendChild(weightInput("services", s)); });
    var play = clear($("services-in-play"));
    S.services.forEach(function (s) {
      var lab = el("label"), cb = el("input");
      cb.type = "checkbox"; cb.checked = s.in_play; cb.value = s.key; cb.id = "play-" + s.key;
      cb.addEventListener("change", function () {
        var keys = [];
        play.querySelectorAll("input").forEach(function (c) { if (c.checked) { keys.push(c.value); } });
        if (!keys.length) { cb.checked = true; say("keep at least one service in play", true); return; }
        edits.services = keys; solve();
      });
      lab.appendChild(cb); lab.appendChild(document.createTextNode(" " + s.label));
      play.appendChild(lab);
    });
    var ws = $("walk-scale");
    ws.max = S.max_walk_scale; ws.value = 1;
    ws.addEventListener("input", function () { $("walk-scale-value").textContent = Number(ws.value).toFixed(2); });
    ws.addEventListener("change", function () { edits.walk_limit_scale = Number(ws.value); solve(); });
    $("save-plan").addEventListener("click", savePlan);
    $("compare").addEventListener("click", comparePlans);
  }
  function weightInput(kind, item) {
    var lab = el("label"), inp = el("input");
    inp.type = "number"; inp.min = 0; inp.step = 0.1; inp.value = item.weight; inp.id = "w-" + kind + "-" + item.key;
    inp.addEventListener("change", function () {
      var v = Number(inp.value);
      if (!(v >= 0)) { say("a weight is zero or more", true); return; }
      edits.weights = edits.weights || { age_groups: {}, services: {} };
      edits.weights[kind][item.key] = v; solve();
    });
    lab.appendChild(inp); lab.appendChild(document.createTextNode(" " + item.label));
    return lab;
  }
  function setBudget(b) {
    if (!(b > 0)) { say("the budget must be above 0 yuan", true); return; }
    edits.budget = b; solve();
  }

  // ------------------------------------------------------------------ solving
  function pollStatus() {
    if (!inFlight) { $("progress").textContent = ""; return; }
    api("GET", "/api/status").then(function (r) {
      if (!inFlight) { return; }
      var st = r.body, line = st.progress.length ? st.progress[st.progress.length - 1] : "";
      $("progress").textContent = st.state === "idle" ? "waiting…" : st.state + " " + st.elapsed_s.toFixed(1) + " s " + line;
      setTimeout(pollStatus, 250);
    });
  }
  function solve() {
    inFlight += 1;
    var badge = $("status"); badge.textContent = "solving…"; badge.className = "status busy";
    say("");
    setTimeout(pollStatus, 150);
    return api("POST", "/api/solve", edits).then(function (r) {
      inFlight -= 1;
      var b = r.body;
      if (r.status === 422) {
        say(b.detail.map(function (d) { return d.loc.slice(1).join(".") + ": " + d.msg + " — " + d.fix; }).join("; "), true);
      } else if (b.status === "superseded" || b.status === "cancelled") {
        return;  // a newer edit is on its way
      } else if (!b.current) {
        say(b.status + ": " + b.message + (b.kept_previous_plan ? " The previous plan is kept." : ""), true);
      } else {
        showPlan(b);
        return;
      }
      if (plan) { showStatus(plan); }
    }).catch(function (e) { inFlight = Math.max(0, inFlight - 1); say("request failed: " + e, true); });
  }
  function showStatus(p) {
    var badge = $("status");
    badge.textContent = p.status;
    badge.className = "status" + (p.status === "optimal" ? "" : " warn");
    $("gap").textContent = "gap " + (p.gap === null ? "n/a" : (100 * p.gap).toFixed(4) + " %");
    $("solve-info").textContent = "solved in " + p.seconds.toFixed(2) + " s" + (p.warm_start ? " (warm start)" : "");
  }
  function bump(attr) {  // counters a test (or a curious planner) can watch
    document.body.setAttribute(attr, String(Number(document.body.getAttribute(attr) || 0) + 1));
  }
  function showPlan(p) {
    plan = p; showStatus(p); bump("data-plans-shown");
    var kpi = clear($("kpi"));
    [["Budget 预算", fmt(p.budget) + " 元"], ["Cost 费用", fmt(p.cost) + " 元"], ["Sites 场所", p.sites_used],
     ["Services 设施", p.services_placed], ["Objective 目标", fmt(p.objective, Math.abs(p.objective) < 100 ? 4 : 0)]].forEach(function (k) {
      var d = el("div", null, k[0]); d.appendChild(el("b", null, k[1])); kpi.appendChild(d);
    });
    var gb = clear($("groups").tBodies[0]);
    p.coverage_by_age_group.forEach(function (g) {
      var tr = el("tr"); tr.setAttribute("data-group", g.age_group);
      cell(tr, g.label); cell(tr, pct(g.share_before), true, g.share_before); cell(tr, pct(g.share_after), true, g.share_after);
      gb.appendChild(tr);
    });
    var ob = clear($("options").tBodies[0]);
    p.options.forEach(function (o) {
      var tr = el("tr"); cell(tr, o.site + " " + o.site_name); cell(tr, o.service_label);
      cell(tr, fmt(o.only_here), true, o.only_here); cell(tr, fmt(o.cost), true, o.cost); ob.appendChild(tr);
    });
    var ab = clear($("additions").tBodies[0]);
    p.additions.forEach(function (o) {
      var tr = el("tr"); cell(tr, o.site + " " + o.site_name); cell(tr, o.service_label);
      cell(tr, fmt(o.would_add), true, o.would_add); cell(tr, fmt(o.extra_cost), true, o.extra_cost); ab.appendChild(tr);
    });
    var ct = $("coverage"), cols = p.coverage.length ? Object.keys(p.coverage[0]) : [];
    var hr = el("tr"); cols.forEach(function (c) { hr.appendChild(el("th", null, c)); });
    clear(ct.tHead).appendChild(hr);
    var cb = clear(ct.tBodies[0]);
    p.coverage.forEach(function (row) {
      var tr = el("tr");
      cols.forEach(function (c) { var v = row[c]; cell(tr, typeof v === "number" ? fmt(v, 3) : v, typeof v === "number"); });
      cb.appendChild(tr);
    });
    showDiff(p.diff);
    $("budget-input").value = Math.round(p.budget); $("budget-slider").value = p.budget;
    if (selected) { selectSite(selected); }
    api("GET", "/api/map/current").then(function (r) { if (r.ok) { drawPlan(r.body); } });
    loadFrontier();
  }
  function showDiff(d) {
    var box = clear($("diff"));
    if (!d) { return; }
    box.appendChild(el("b", null, "Against the previous plan: "));
    var parts = [];
    if (d.sites_added.length) { parts.push("sites added " + d.sites_added.join(", ")); }
    if (d.sites_removed.length) { parts.push("sites removed " + d.sites_removed.join(", ")); }
    if (d.options_added.length) { parts.push("services added " + d.options_added.join(", ")); }
    if (d.options_removed.length) { parts.push("services removed " + d.options_removed.join(", ")); }
    box.appendChild(el("span", null, (parts.length ? parts.join("; ") : "same sites and services") +
      "; cost " + (d.cost.change >= 0 ? "+" : "") + fmt(d.cost.change) + " 元. "));
    d.coverage.forEach(function (c) {
      var ch = c.change, span = el("span", ch > 1e-9 ? "up" : ch < -1e-9 ? "down" : null,
        c.label + " " + pct(c.before) + " → " + pct(c.after) + (ch === null ? "" : " (" + (ch >= 0 ? "+" : "") + (100 * ch).toFixed(1) + " pt)") + "  ");
      span.setAttribute("data-group", c.age_group);
      box.appendChild(span);
    });
  }

  // ------------------------------------------------------------------ frontier
  var frontierTimer = null;
  function loadFrontier() {
    if (frontierTimer) { clearTimeout(frontierTimer); frontierTimer = null; }
    api("GET", "/api/frontier").then(function (r) {
      if (r.body.state === "ready") { drawFrontier(r.body.points); }
      else { frontierTimer = setTimeout(loadFrontier, 1000); }
    });
  }
  function drawFrontier(points) {
    var box = clear($("frontier")), W = 280, H = 170, L0 = 34, B0 = 22;
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H); svg.id = "frontier-chart";
    function x(b) { return L0 + (W - L0 - 6) * b / S.budget_max; }
    function y(s) { return H - B0 - (H - B0 - 8) * s; }
    function add(tag, attrs, text) {
      var e = document.createElementNS(ns, tag);
      Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
      if (text !== undefined) { e.textContent = text; }
      svg.appendChild(e); return e;
    }
    add("line", { x1: L0, y1: y(0), x2: W - 6, y2: y(0), stroke: "#888" });
    add("line", { x1: L0, y1: y(0), x2: L0, y2: y(1), stroke: "#888" });
    add("text", { x: 2, y: y(1) + 4, "font-size": 9 }, "100%");
    add("text", { x: 8, y: y(0), "font-size": 9 }, "0%");
    add("text", { x: L0, y: H - 4, "font-size": 9 }, "budget → " + fmt(S.budget_max / 1e4) + " 万元");
    var series = [{ key: "share_all", colour: "#222", label: "all" }];
    var palette = ["#1f4e9c", "#d9822b", "#2f9e44", "#b02a37", "#7a3b9c", "#0b7285", "#795548"];
    S.age_groups.forEach(function (g, i) { series.push({ key: "share_" + g.key, colour: palette[i % palette.length], label: g.label }); });
    series.forEach(function (s) {
      var pts = points.filter(function (p) { return p[s.key] !== null && p[s.key] !== undefined; });
      if (pts.length > 1) {
        add("polyline", { points: pts.map(function (p) { return x(p.budget) + "," + y(p[s.key]); }).join(" "),
                          fill: "none", stroke: s.colour, "stroke-width": s.key === "share_all" ? 2 : 1 });
      }
      pts.forEach(function (p) {
        var c = add("circle", { cx: x(p.budget), cy: y(p[s.key]), r: 2.5, fill: s.colour, "class": "point" });
        var t = document.createElementNS(ns, "title");
        t.textContent = s.label + ": " + pct(p[s.key]) + " at " + fmt(p.budget) + " 元 (" + p.status + ")";
        c.appendChild(t);
      });
    });
    if (plan) { add("line", { x1: x(plan.budget), y1: y(0), x2: x(plan.budget), y2: y(1), "class": "now" }); }
    box.appendChild(svg);
    box.appendChild(el("div", "note", "Coverage (residents × services) against budget for these edits; the dashed line is the budget chosen."));
  }

  // ------------------------------------------------------------------ saved plans
  function savePlan() {
    var name = $("plan-name").value.trim();
    api("POST", "/api/plans", { name: name }).then(function (r) {
      if (r.status === 422) { say(r.body.detail.map(function (d) { return d.msg + " — " + d.fix; }).join("; "), true); return; }
      if (!r.ok) { say(r.body.detail, true); return; }
      say("saved " + name + (r.body.replaced ? " (replaced)" : ""));
      $("plan-name").value = "";
      loadSaved();
    });
  }
  function loadSaved() {
    api("GET", "/api/plans").then(function (r) {
      var ul = clear($("saved-plans"));
      r.body.plans.forEach(function (p) {
        var li = el("li"), cb = el("input"), ex = el("button", null, "export");
        cb.type = "checkbox"; cb.value = p.name; cb.className = "compare-pick"; cb.checked = true;
        li.appendChild(cb);
        li.appendChild(el("span", null, " " + p.name + ": " + fmt(p.cost / 1e4) + " 万元, " + p.sites_used + " sites, " + p.status + " "));
        ex.type = "button";
        ex.addEventListener("click", function () { exportPlan(p.name, li); });
        li.appendChild(ex);
        ul.appendChild(li);
      });
      $("compare").disabled = r.body.plans.length < 2;
    });
  }
  function exportPlan(name, li) {
    say("exporting " + name + "…");
    api("GET", "/api/export/" + encodeURIComponent(name)).then(function (r) {
      if (!r.ok) { say(r.body.detail, true); return; }
      say("exported to " + r.body.folder + "/ in the output folder");
      r.body.files.forEach(function (f) {
        var a = el("a", null, f); a.href = "/api/export/" + encodeURIComponent(name) + "/" + encodeURIComponent(f);
        a.target = "_blank"; li.appendChild(document.createTextNode(" ")); li.appendChild(a);
      });
    });
  }
  function comparePlans() {
    var names = [];
    document.querySelectorAll(".compare-pick").forEach(function (c) { if (c.checked) { names.push(c.value); } });
    if (names.length < 2) { say("tick two saved plans or more to compare", true); return; }
    var q = names.map(function (n) { return "names=" + encodeURIComponent(n); }).join("&");
    api("GET", "/api/compare?" + q).then(function (r) {
      if (!r.ok) { say(r.body.detail, true); return; }
      var t = $("compare-table"), hr = el("tr");
      hr.appendChild(el("th", null, "metric")); r.body.names.forEach(function (n) { hr.appendChild(el("th", null, n)); });
      clear(t.tHead).appendChild(hr);
      var tb = clear(t.tBodies[0]);
      r.body.table.forEach(function (row) {
        var tr = el("tr"); cell(tr, row.metric);
        r.body.names.forEach(function (n) {
          var v = row[n];
          cell(tr, typeof v === "number" ? (row.unit === "share" ? pct(v) : fmt(v, 2)) : v, typeof v === "number", v);
        });
        tb.appendChild(tr);
      });
      var d = $("compare-differences"), dh = el("tr");
      ["plans", "sites only in the first", "sites only in the second", "Jaccard (sites)"].forEach(function (h) { dh.appendChild(el("th", null, h)); });
      clear(d.tHead).appendChild(dh);
      var db = clear(d.tBodies[0]);
      r.body.differences.forEach(function (x) {
        var tr = el("tr"); cell(tr, x.scenario_a + " / " + x.scenario_b); cell(tr, x.sites_only_in_a || "–");
        cell(tr, x.sites_only_in_b || "–"); cell(tr, fmt(x.jaccard_sites, 2), true); db.appendChild(tr);
      });
      $("compare-view").hidden = false;
      bump("data-compared");
      compareLayers.forEach(function (c) { map.removeLayer(c.sites); map.removeLayer(c.reach); });
      compareLayers = [];
      Promise.all(names.map(function (n) { return api("GET", "/api/map/" + encodeURIComponent(n)); })).then(function (maps) {
        maps.forEach(function (m, i) {
          if (!m.ok) { return; }
          var pl = planLayers(m.body, 1 + (i % 3));
          pl.name = m.body.name; pl.sites.addTo(map);
          compareLayers.push(pl);
        });
        if (plan) { api("GET", "/api/map/current").then(function (r2) { if (r2.ok) { drawPlan(r2.body); } }); }
        $("compare-view").scrollIntoView();
      });
    });
  }

  // ------------------------------------------------------------------ start
  api("GET", "/api/scenario").then(function (r) {
    S = r.body;
    document.title = (S.title || S.name) + " — siting workbench";
    $("title").textContent = S.title || S.name;
    drawBase(S.map);
    buildControls();
    loadSaved();
    return api("GET", "/api/plan");
  }).then(function (r) {
    if (r && r.ok) { showPlan(r.body); } else { solve(); }
  });
})();
