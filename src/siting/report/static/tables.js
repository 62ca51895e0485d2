/* Sortable tables: click a column header to sort by it, click again to reverse. */
(function () {
  "use strict";
  function value(cell) {
    // numeric cells carry their value in data-sort; the rest sort as text
    var raw = cell.getAttribute("data-sort");
    var num = raw === null || raw === "" ? NaN : parseFloat(raw);
    return { n: isNaN(num) ? null : num, t: cell.textContent.trim() };
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      th.setAttribute("role", "button");
      th.title = "sort by this column";
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var asc = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        rows.sort(function (a, b) {
          var x = value(a.cells[col]), y = value(b.cells[col]);
          var c;
          if (x.n !== null && y.n !== null) { c = x.n - y.n; }
          else if (x.n !== null) { c = -1; } else if (y.n !== null) { c = 1; }
          else { c = x.t.localeCompare(y.t, "zh"); }
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
