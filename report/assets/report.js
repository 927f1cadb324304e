// netblame report: draws the embedded data as SVG. No network, no library.
"use strict";
(function () {
  const errors = document.getElementById("errors");
  window.addEventListener("error", (e) => { errors.textContent += "script error: " + e.message + "\n"; });
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const $ = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const S = (tag, attrs) => {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  };
  const fmt = (v) => {
    if (v === undefined || v === null) return "";
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toPrecision(3) + "G";
    if (a >= 1e6) return (v / 1e6).toPrecision(3) + "M";
    if (a >= 1e4) return (v / 1e3).toPrecision(3) + "k";
    return String(Math.round(v * 1e6) / 1e6);
  };
  const kindLabel = (k) => (data.kinds[k] || { label: k }).label;
  const kindColor = (k) => (data.kinds[k] || { color: "#000" }).color;

  // Top.
  const top = document.getElementById("top");
  const kv = (rows) => {
    const t = $("table", { class: "kv" });
    for (const [k, v] of rows) { const tr = $("tr"); tr.append($("td", {}, k), $("td", {}, v)); t.append(tr); }
    return t;
  };
  const tot = data.totals;
  if (data.blame) {
    const b = data.blame;
    const v = $("div", { class: "verdict " + b.verdict, id: "verdict" }, "verdict: " + b.verdict);
    const unc = b.clock_uncertainty_ms < 0 ? "unbounded" : "± " + b.clock_uncertainty_ms + " ms";
    top.append(v, $("p", { id: "reason" }, b.reason), kv([
      ["clock offset", (b.clock_offset_s >= 0 ? "+" : "") + b.clock_offset_s + " s (server side minus client side), " + unc + ", " + b.clock_source +
        (b.clock_drift_ppm ? ", drift " + b.clock_drift_ppm + " ppm" : "")],
      ["client side", b.client_side.file + ": " + tot.packets + " packets"],
      ["server side", b.server_side.file],
      ["only at one point", b.only_client_side + " connection(s) client side, " + b.only_server_side + " server side"],
    ]));
    for (const w of b.warnings || []) top.append($("p", { class: "note" }, "warning: " + w));
    top.append($("h3", {}, "capture windows (client side's clock)"));
    top.append(timeline(b));
  }
  top.append($("h3", {}, "totals"), kv([
    ["packets", String(tot.packets)], ["TCP flows", String(tot.tcp_flows)], ["UDP flows", String(tot.udp_flows)],
    ["duration", tot.duration_s + " s"], ["packets with SACK", String(tot.sack_packets)],
  ]));
  const ev = Object.keys(tot.events).sort();
  const evt = $("table", { class: "kv", id: "event-counts" });
  for (const k of ev) { const tr = $("tr"); tr.append($("td", {}, k), $("td", {}, String(tot.events[k]))); evt.append(tr); }
  top.append($("h3", {}, "events (packets, as analyze --stats counts them)"), ev.length ? evt : $("p", {}, "none"));

  function timeline(b) {
    const W = data.width, H = 70, L = 110;
    const lo = Math.min(b.client_side.from_s, b.server_side.from_s), hi = Math.max(b.client_side.to_s, b.server_side.to_s, lo + 1e-6);
    const X = (v) => L + (v - lo) / (hi - lo) * (W - L - 20);
    const svg = S("svg", { width: W, height: H, class: "timeline", id: "timeline" });
    const bar = (y, s, color, label) => {
      svg.append(S("rect", { x: X(s.from_s), y: y, width: Math.max(1, X(s.to_s) - X(s.from_s)), height: 14, fill: color }));
      const t = S("text", { x: 4, y: y + 11 }); t.textContent = label; svg.append(t);
    };
    svg.append(S("rect", { x: X(b.common.from_s), y: 2, width: Math.max(1, X(b.common.to_s) - X(b.common.from_s)), height: 44, fill: "#eee" }));
    bar(6, b.client_side, "#1f77b4", "client side");
    bar(26, b.server_side, "#d62728", "server side");
    for (const v of [lo, hi]) { const t = S("text", { x: X(v), y: 62, "text-anchor": "middle" }); t.textContent = fmt(v) + " s"; svg.append(t); }
    return svg;
  }

  // Flow table.
  const cols = [
    ["index", "#", (r) => r.index], ["proto", "proto", (r) => r.proto, 1], ["client", "client", (r) => r.client, 1],
    ["server", "server", (r) => r.server, 1], ["start_s", "start (s)", (r) => r.start_s], ["duration_s", "duration (s)", (r) => r.duration_s],
    ["pkts_c2s", "pkts c→s", (r) => r.packets[0]], ["pkts_s2c", "pkts s→c", (r) => r.packets[1]],
    ["bytes_c2s", "bytes c→s", (r) => r.bytes[0]], ["bytes_s2c", "bytes s→c", (r) => r.bytes[1]],
    ["rtt_ms", "RTT ms", (r) => r.rtt_ms], ["retransmissions", "retx", (r) => r.retransmissions],
    ["out_of_order", "ooo", (r) => r.out_of_order], ["duplicate_ack", "dup ACK", (r) => r.duplicate_ack],
    ["zero_window", "zero win", (r) => r.zero_window], ["window_shrink", "shrink", (r) => r.window_shrink],
    ["reset_by", "reset by", (r) => r.reset_by || "", 1], ["trouble", "trouble", (r) => r.trouble],
  ];
  if (data.mode === "two_point") {
    cols.push(["verdict", "verdict", (r) => r.verdict || "", 1], ["lost_c2s", "lost c→s", (r) => r.lost_between ? r.lost_between[0] : undefined],
      ["lost_s2c", "lost s→c", (r) => r.lost_between ? r.lost_between[1] : undefined]);
  }
  const table = $("table", { class: "flows", id: "flow-table" });
  const thead = $("thead"), hr = $("tr");
  cols.forEach(([key, label, , text], i) => {
    const th = $("th", { "data-key": key, class: text ? "text" : "" }, label);
    th.addEventListener("click", () => sortBy(i, th));
    hr.append(th);
  });
  thead.append(hr);
  const tbody = $("tbody");
  for (const r of data.flows) {
    const tr = $("tr", { "data-index": r.index });
    cols.forEach(([key, , get, text]) => {
      const v = get(r);
      const td = $("td", { class: text ? "text" : "" });
      if (key === "client" && r.section) td.append($("a", { href: "#" + r.section }, v));
      else td.textContent = text ? v : fmt(v);
      td.dataset.v = v === undefined ? "" : v;
      tr.append(td);
    });
    tbody.append(tr);
  }
  table.append(thead, tbody);
  let sorted = -1, asc = true;
  function sortBy(i, th) {
    asc = sorted === i ? !asc : !!cols[i][3];
    sorted = i;
    for (const h of hr.children) h.classList.remove("asc", "desc");
    th.classList.add(asc ? "asc" : "desc");
    const rows = Array.from(tbody.children);
    const text = cols[i][3];
    rows.sort((a, b) => {
      const x = a.children[i].dataset.v, y = b.children[i].dataset.v;
      const c = text ? x.localeCompare(y) : (x === "" ? -Infinity : +x) - (y === "" ? -Infinity : +y);
      return asc ? c : -c;
    });
    tbody.append(...rows);
  }
  const search = document.getElementById("search");
  search.addEventListener("input", () => {
    const q = search.value.toLowerCase();
    for (const tr of tbody.children) tr.style.display = tr.textContent.toLowerCase().includes(q) ? "" : "none";
  });
  const tw = document.getElementById("table");
  const wrap = $("div", { class: "tablewrap" });
  wrap.append(table);
  tw.append(wrap);
  if (data.more_flows) tw.append($("p", { class: "note" }, data.more_flows + " less troubled flow(s) are not listed."));
  if (data.shed_flows) tw.append($("p", { class: "note" }, data.shed_flows + " flow(s) lost their series to the memory budget and cannot be plotted."));

  // Sections.
  const tip = document.getElementById("tooltip");
  const secs = document.getElementById("sections");
  if (!data.sections.length) secs.append($("p", {}, "No TCP flow to plot."));
  for (const s of data.sections) {
    const sec = $("section", { id: s.anchor });
    sec.append($("h2", {}, s.title));
    if (s.verdict) sec.append($("p", {}, "verdict: " + s.verdict + (s.reason ? " — " + s.reason : "")));
    if (s.more_events) sec.append($("p", { class: "note" }, s.more_events + " more event(s) not marked (per-flow cap)."));
    for (const p of s.plots) {
      sec.append($("h3", {}, p.title));
      sec.append(plot(p));
    }
    secs.append(sec);
  }

  function ticks(lo, hi, n) {
    const span = hi - lo || 1, raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
    return out;
  }

  function plot(p) {
    const W = data.width, H = 300, L = 64, R = 12, T = 8, B = 34;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    const see = (x, y) => { if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y; };
    for (const sr of p.series) for (let i = 0; i < sr.x.length; i++) { see(sr.x[i], sr.y[i]); if (sr.y2) see(sr.x[i], sr.y2[i]); }
    for (const m of p.markers) see(m.x, m.y);
    if (!isFinite(x0)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
    if (p.kind !== "tseq") y0 = Math.min(y0, 0);
    if (x1 === x0) x1 = x0 + 1e-3;
    if (y1 === y0) y1 = y0 + 1;
    const pad = (y1 - y0) * 0.04; y1 += pad; if (p.kind === "tseq") y0 -= pad;
    const X = (v) => L + (v - x0) / (x1 - x0) * (W - L - R);
    const Y = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
    const svg = S("svg", { width: W, height: H, class: "plot", id: p.id, "data-kind": p.kind });
    for (const v of ticks(x0, x1, 10)) {
      svg.append(S("line", { x1: X(v), x2: X(v), y1: T, y2: H - B, class: "grid" }));
      const t = S("text", { x: X(v), y: H - B + 14, "text-anchor": "middle" }); t.textContent = fmt(v); svg.append(t);
    }
    for (const v of ticks(y0, y1, 6)) {
      svg.append(S("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: "grid" }));
      const t = S("text", { x: L - 4, y: Y(v) + 4, "text-anchor": "end" }); t.textContent = fmt(v); svg.append(t);
    }
    svg.append(S("path", { d: `M${L},${T}V${H - B}H${W - R}`, class: "axis" }));
    const xl = S("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }); xl.textContent = p.x_label; svg.append(xl);
    const yl = S("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${(T + H - B) / 2})` });
    yl.textContent = p.y_label; svg.append(yl);
    const legend = $("div", { class: "legend" });
    // Segments last, on top of the lines they sit between.
    const order = p.series.filter((sr) => sr.style !== "segments").concat(p.series.filter((sr) => sr.style === "segments"));
    for (const sr of order) {
      let d = "";
      const n = sr.x.length;
      const f = (v) => v.toFixed(1);
      if (sr.style === "segments") {
        for (let i = 0; i < n; i++) { const a = Y(sr.y[i]), b = Y(sr.y2[i]); d += `M${f(X(sr.x[i]))},${f(a)}V${f(Math.min(b, a - 1))}`; }
      } else if (sr.style === "dots") {
        for (let i = 0; i < n; i++) d += `M${f(X(sr.x[i]))},${f(Y(sr.y[i]))}h0`;
      } else if (sr.style === "step") {
        for (let i = 0; i < n; i++) d += (i ? `H${f(X(sr.x[i]))}V` : `M${f(X(sr.x[i]))},`) + f(Y(sr.y[i]));
      } else {
        for (let i = 0; i < n; i++) d += (i ? "L" : "M") + f(X(sr.x[i])) + "," + f(Y(sr.y[i]));
      }
      const width = sr.style === "dots" ? 3.5 : sr.style === "segments" ? 2.2 : 1.3;
      svg.append(S("path", { d: d, stroke: sr.color, "stroke-width": width, fill: "none", "stroke-linecap": sr.style === "dots" ? "round" : "butt", class: "series" }));
      const sp = $("span"); const i = $("i"); i.style.background = sr.color; sp.append(i, sr.name); legend.append(sp);
    }
    const counts = {};
    p.markers.forEach((m, i) => {
      svg.append(S("circle", { cx: X(m.x).toFixed(1), cy: Y(m.y).toFixed(1), r: 4, fill: kindColor(m.kind), class: "marker", "data-i": i }));
      counts[m.kind] = (counts[m.kind] || 0) + 1;
    });
    for (const k of Object.keys(counts).sort()) {
      const sp = $("span"); const i = $("i"); i.style.background = kindColor(k); i.style.borderRadius = "5px";
      sp.append(i, kindLabel(k) + " (" + counts[k] + ")"); legend.append(sp);
    }
    svg.addEventListener("mouseover", (e) => {
      if (!e.target.classList.contains("marker")) return;
      const m = p.markers[+e.target.dataset.i];
      let fr = "";
      if (data.mode === "two_point") fr = "frame " + (m.frame || "–") + " client side, " + (m.server_frame || "–") + " server side";
      else fr = "frame " + m.frame;
      tip.textContent = "";
      tip.append($("b", {}, kindLabel(m.kind)), $("br"), fr, $("br"), "t = " + m.x + " s" + (m.dir ? " (" + m.dir + ")" : ""), $("br"), m.text);
      tip.style.display = "block";
      tip.style.left = (e.clientX + 12) + "px"; tip.style.top = (e.clientY + 12) + "px";
    });
    svg.addEventListener("mouseout", (e) => { if (e.target.classList.contains("marker")) tip.style.display = "none"; });
    const box = $("div", { class: "plotbox" });
    box.append(svg, legend);
    return box;
  }
  document.body.dataset.ready = "1";
})();
