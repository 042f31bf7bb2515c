/* fusionbench report: sortable tables, click-to-zoom images, and a self-test (#selftest).
   No network, no libraries: plain DOM code. */
(function () {
  "use strict";

  function cellValue(row, col) {
    var c = row.cells[col];
    if (!c) return NaN;
    var v = c.getAttribute("data-value");
    if (v === null) return c.textContent.trim().toLowerCase();
    return v === "" ? NaN : parseFloat(v);
  }

  /* Sort the body of `table` by column `col`; dir = 1 ascending, -1 descending.
     Numbers compare numerically, missing values (NaN) always go last; text compares as text. */
  function sortTable(table, col, dir) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (r, i) { r._i = i; });
    rows.sort(function (a, b) {
      var x = cellValue(a, col), y = cellValue(b, col);
      var nx = typeof x === "number", ny = typeof y === "number";
      if (nx && ny) {
        if (isNaN(x) && isNaN(y)) return a._i - b._i;
        if (isNaN(x)) return 1;
        if (isNaN(y)) return -1;
        return x === y ? a._i - b._i : (x < y ? -dir : dir);
      }
      x = String(x); y = String(y);
      return x === y ? a._i - b._i : (x < y ? -dir : dir);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    var ths = table.tHead.rows[0].cells;
    for (var i = 0; i < ths.length; i++) {
      ths[i].setAttribute("aria-sort", i === col ? (dir > 0 ? "ascending" : "descending") : "none");
    }
  }

  function makeSortable(table) {
    var ths = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(ths, function (th, col) {
      th.classList.add("sortable");
      th.title = "click to sort";
      th.addEventListener("click", function () {
        var cur = th.getAttribute("aria-sort");
        /* first click: best first (data-better="high" sorts descending) */
        var first = th.getAttribute("data-better") === "high" ? -1 : 1;
        var dir = cur === "ascending" ? -1 : cur === "descending" ? 1 : first;
        sortTable(table, col, dir);
      });
    });
  }

  function setupZoom() {
    var box = document.createElement("div");
    box.id = "zoom";
    box.innerHTML = '<img alt=""><div class="caption"></div>';
    box.addEventListener("click", function () { box.classList.remove("open"); });
    document.body.appendChild(box);
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") box.classList.remove("open"); });
    Array.prototype.forEach.call(document.querySelectorAll("a.zoom"), function (a) {
      a.addEventListener("click", function (e) {
        e.preventDefault();
        box.querySelector("img").src = a.getAttribute("href");
        box.querySelector(".caption").textContent = a.getAttribute("title") || "";
        box.classList.add("open");
      });
    });
  }

  function rowNames(table) {
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.cells[0].textContent.trim(); });
  }

  /* #selftest: sort the means table by every metric column both ways and check all images;
     the result goes to <pre id="selftest-result"> as JSON (read by the test via --dump-dom). */
  function selftest() {
    var out = { ok: true, errors: [] };
    var table = document.getElementById("means");
    out.rows = rowNames(table);
    out.expected_rows = parseInt(table.getAttribute("data-methods"), 10);
    if (out.rows.length !== out.expected_rows) { out.ok = false; out.errors.push("row count"); }
    out.sorts = [];
    var ths = table.tHead.rows[0].cells;
    for (var c = 1; c < ths.length; c++) {
      ths[c].click();
      var first = { column: ths[c].getAttribute("data-metric"), dir: ths[c].getAttribute("aria-sort"),
                    order: rowNames(table) };
      ths[c].click();
      var second = { column: ths[c].getAttribute("data-metric"), dir: ths[c].getAttribute("aria-sort"),
                     order: rowNames(table) };
      out.sorts.push(first, second);
    }
    ths[0].click();
    out.images = [];
    Array.prototype.forEach.call(document.images, function (img) {
      if (img.closest("#zoom")) return;
      var good = img.complete && img.naturalWidth > 0;
      out.images.push({ src: img.getAttribute("src"), w: img.naturalWidth, ok: good });
      if (!good) { out.ok = false; out.errors.push("broken image " + img.getAttribute("src")); }
    });
    var link = document.querySelector("a.zoom"), box = document.getElementById("zoom");
    if (link) {
      link.click();
      out.zoom = { open: box.classList.contains("open"),
                   src: box.querySelector("img").getAttribute("src") === link.getAttribute("href") };
      box.click();
      out.zoom.closed = !box.classList.contains("open");
      if (!(out.zoom.open && out.zoom.src && out.zoom.closed)) { out.ok = false; out.errors.push("zoom"); }
    }
    var pre = document.createElement("pre");
    pre.id = "selftest-result";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable-table"), makeSortable);
    setupZoom();
    if (location.hash === "#selftest") selftest();
  }

  if (document.readyState === "complete") init();
  else window.addEventListener("load", init);
})();
