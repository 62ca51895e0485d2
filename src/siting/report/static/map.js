/* siting report map: draws the embedded JSON with Leaflet, without a basemap.
   Every data string is put into the page with textContent, never as HTML. */
(function () {
  "use strict";
  var holder = document.getElementById("map");
  var source = document.getElementById("siting-map-data");
  if (!holder || !source || typeof L === "undefined") { return; }
  var data = JSON.parse(source.textContent);

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function colour(share) {
    // red (nothing reached) - amber - green (every service reached)
    var s = Math.max(0, Math.min(1, share));
    var r, g, b;
    if (s < 0.5) { r = 215; g = Math.round(48 + (s / 0.5) * (190 - 48)); b = 39; }
    else { r = Math.round(215 - ((s - 0.5) / 0.5) * (215 - 26)); g = Math.round(190 - ((s - 0.5) / 0.5) * (190 - 150)); b = Math.round(39 + ((s - 0.5) / 0.5) * (80 - 39)); }
    return "rgb(" + r + "," + g + "," + b + ")";
  }

  var map = L.map(holder, { preferCanvas: true, zoomSnap: 0.25, attributionControl: false });
  map.fitBounds(data.bounds);
  holder.style.background = "#f4f1ea";

  L.polygon(data.outline, { color: "#9aa0a6", weight: 1, fill: true, fillColor: "#ffffff", fillOpacity: 0.6,
                            interactive: false }).addTo(map);
  if (data.streets.length) {
    L.polyline(data.streets, { color: "#b9b2a3", weight: 1.5, interactive: false }).addTo(map);
  }

  function demandLayer(values, what) {
    var layer = L.layerGroup();
    var d = data.demand;
    for (var i = 0; i < d.lat.length; i++) {
      var m = L.circleMarker([d.lat[i], d.lon[i]], {
        radius: 3 + 5 * Math.sqrt(d.residents[i] / Math.max(1, maxResidents)),
        stroke: false, fillColor: colour(values[i]), fillOpacity: 0.85 });
      m.bindTooltip(d.id[i] + ": " + d.residents[i] + " residents, " + Math.round(100 * values[i]) + " % of " + what);
      layer.addLayer(m);
    }
    return layer;
  }
  var maxResidents = Math.max.apply(null, data.demand.residents.concat([1]));
  var baseLayers = {};
  var first = null;
  var afterLabel = data.base_label || "after the plan: ";
  data.groups.forEach(function (g) {
    var layer = demandLayer(data.demand.after[g.key], "services reached " + afterLabel.replace(/: $/, ""));
    baseLayers[afterLabel + g.label] = layer;
    if (!first) { first = layer; }
  });
  baseLayers[data.before_label || "before the plan: 所有年龄 All ages"] =
    demandLayer(data.demand.before, "services reached before the plan");
  if (first) { first.addTo(map); }

  var overlays = {};
  if (data.circles && data.circles.length) {  // a city: its life circles, and one layer per theme
    var outlines = L.layerGroup();
    var themes = {};
    data.circles.forEach(function (c) {
      var text = c.name + (c.theme ? " · " + c.theme : "") + (c.phase ? " · from " + c.phase : "") +
        (c.pilot ? " · pilot 试点" : "");
      L.polygon(c.polygon, { color: "#3d4451", weight: 2, fill: false, interactive: false }).addTo(outlines);
      L.marker(c.label_at, { icon: L.divIcon({ className: "circle-label", html: "", iconSize: [0, 0] }),
                             keyboard: false, interactive: false })
        .bindTooltip(el("span", null, text), { permanent: true, direction: "center", className: "circle-name" })
        .addTo(outlines);
      if (c.theme) {
        if (!themes[c.theme]) { themes[c.theme] = L.layerGroup(); }
        L.polygon(c.polygon, { color: c.colour, weight: 1, fillColor: c.colour, fillOpacity: 0.18 })
          .bindTooltip(el("span", null, text)).addTo(themes[c.theme]);
      }
    });
    overlays["Life circles 生活圈"] = outlines.addTo(map);
    Object.keys(themes).forEach(function (t) { overlays["Theme 主题: " + t] = themes[t].addTo(map); });
  }
  var candidates = L.layerGroup();
  data.candidates.forEach(function (c) {
    L.circleMarker([c.lat, c.lon], { radius: 4, color: "#6c757d", weight: 1, fill: false })
      .bindTooltip(c.id + " " + c.name).addTo(candidates);
  });
  overlays["Idle sites 闲置场所"] = candidates.addTo(map);

  var existing = L.layerGroup();
  data.existing.forEach(function (e) {
    var icon = L.divIcon({ className: "existing-marker", iconSize: [12, 12] });
    L.marker([e.lat, e.lon], { icon: icon, keyboard: false })
      .bindTooltip(el("span", null, e.name + " — " + e.service)).addTo(existing);
  });
  overlays["Existing facilities 现有设施"] = existing.addTo(map);

  var svg = L.svg();  // reach areas as SVG shapes (the many demand points stay on the faster canvas)
  data.plans.forEach(function (plan, k) {
    var reach = L.layerGroup();
    plan.reach.forEach(function (r) {
      L.polygon(r.polygon, { renderer: svg, color: "#1f4e9c", weight: 1, opacity: 0.5, fillOpacity: 0.05,
                             dashArray: "3 3", className: "reach-area" })
        .bindTooltip(el("span", null, r.site + " " + r.service + ": within " + r.limit + " (" + Math.round(r.reach_m) + " m for " + r.group + ")"))
        .addTo(reach);
    });
    var sites = L.layerGroup();
    plan.sites.forEach(function (s) {
      var icon = L.divIcon({ className: "site-marker site-marker-" + k, iconSize: [18, 18] });
      var popup = el("div", "site-popup");
      popup.appendChild(el("b", null, s.id + " " + s.name));
      popup.appendChild(el("div", "note", s.kind + " · " + Math.round(s.cost).toLocaleString("en") + " 元"));
      var ul = el("ul");
      s.services.forEach(function (v) { ul.appendChild(el("li", null, v.zh + " " + v.en)); });
      popup.appendChild(ul);
      var m = L.marker([s.lat, s.lon], { icon: icon, title: s.id, riseOnHover: true });
      m.bindPopup(popup);
      m.bindTooltip(el("span", null, s.id + ": " + s.services.map(function (v) { return v.zh; }).join("、")));
      m.on("add", function () { var e = m.getElement(); if (e) { e.setAttribute("data-site", s.id); } });
      sites.addLayer(m);
    });
    var label = data.plans.length > 1 ? " — " + plan.name : "";
    if (plan.reach.length) { overlays["Reach areas 步行可达范围" + label] = reach; }
    overlays["Converted sites 改造场所" + label] = sites;
    if (k === 0 || plan.show) { if (plan.reach.length) { reach.addTo(map); } sites.addTo(map); }
  });
  L.control.layers(baseLayers, overlays, { collapsed: false, position: "topright" }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);

  var legend = L.control({ position: "bottomleft" });
  legend.onAdd = function () {
    var div = el("div", "map-legend");
    if (data.synthetic) { div.appendChild(el("div", "map-synthetic", "示例数据 synthetic data")); }
    div.appendChild(el("b", null, "Share of services within walking limit"));
    [0, 0.25, 0.5, 0.75, 1].forEach(function (s) {
      var row = el("div");
      var sw = el("span", "swatch");
      sw.style.background = colour(s);
      row.appendChild(sw);
      row.appendChild(document.createTextNode(Math.round(100 * s) + " %"));
      div.appendChild(row);
    });
    var row = el("div"); row.appendChild(el("span", "swatch site")); row.appendChild(document.createTextNode("converted site"));
    div.appendChild(row);
    row = el("div"); row.appendChild(el("span", "swatch existing")); row.appendChild(document.createTextNode("existing facility"));
    div.appendChild(row);
    return div;
  };
  legend.addTo(map);
  holder.setAttribute("data-ready", "1");
})();
