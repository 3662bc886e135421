// Hand-drawn SVG charts for the dashboard: no library, nothing fetched at run time.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function scale(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

function niceTicks(lo, hi, count) {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v);
  return out;
}

function compact(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + "B";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
  return v.toFixed(a >= 10 || a === 0 ? 0 : 1);
}

// A frame with x and y axes; returns the svg and scales. xs/ys: [min, max].
function frame(container, xs, ys, xLabel, yLabel, yTicks = true) {
  const W = 640, H = 300, L = 60, R = 16, T = 12, B = 36;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  const x = scale(xs[0], xs[1], L, W - R);
  const y = scale(ys[0], ys[1], H - B, T);
  for (const t of yTicks ? niceTicks(ys[0], ys[1], 5) : []) {
    svg.append(svgEl("line", { class: "grid", x1: L, x2: W - R, y1: y(t), y2: y(t) }));
    svg.append(svgEl("text", { x: L - 6, y: y(t) + 4, "text-anchor": "end" }, compact(t)));
  }
  for (const t of niceTicks(xs[0], xs[1], 8)) {
    svg.append(svgEl("text", { x: x(t), y: H - B + 16, "text-anchor": "middle" }, compact(t)));
  }
  svg.append(svgEl("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  svg.append(svgEl("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
  svg.append(svgEl("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, xLabel));
  svg.append(svgEl("text", { x: 12, y: T + 4, "text-anchor": "start" }, yLabel));
  container.replaceChildren(svg);
  return { svg, x, y, H, B, T };
}

function pathOf(points) {
  return points.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join("");
}

// The ladder: bars per bin (longs at negative moves, shorts at positive), cumulative lines.
function drawLadder(container, doc) {
  const bins = [];
  for (const b of doc.long.bins) bins.push({ side: "long", ...b });
  for (const b of doc.short.bins) bins.push({ side: "short", ...b });
  const maxCum = Math.max(1, ...bins.map((b) => b.cumulative_notional_usd));
  const f = frame(container, [-doc.max_pct, doc.max_pct], [0, maxCum],
    "price move to liquidation (%)", "USD");
  const w = Math.max(1, Math.abs(f.x(doc.step_pct) - f.x(0)) - 1);
  for (const b of bins) {
    if (!b.amounts.positions) continue;
    const left = b.side === "long" ? f.x(b.move_pct) : f.x(b.move_pct - doc.step_pct);
    const top = f.y(b.amounts.notional_usd);
    const cross = b.amounts.cross_notional_usd > 0 ? " cross" : "";
    const rect = svgEl("rect", { class: `bar ${b.side}${cross}`, x: left, y: top, width: w,
      height: Math.max(0.5, f.H - f.B - top) });
    rect.append(svgEl("title", {}, `${b.side}s at ${b.move_pct}% (${b.price_usd.toFixed(2)}): ` +
      `${compact(b.amounts.notional_usd)} USD, ${b.amounts.positions} positions`));
    f.svg.append(rect);
  }
  for (const side of ["long", "short"]) {
    const s = doc[side];
    const points = [[f.x(0), f.y(s.now.notional_usd)]];
    for (const b of s.bins) points.push([f.x(b.move_pct), f.y(b.cumulative_notional_usd)]);
    f.svg.append(svgEl("path", { class: `cum ${side}`, d: pathOf(points) }));
  }
  f.svg.append(svgEl("line", { class: "axis", x1: f.x(0), x2: f.x(0), y1: f.T, y2: f.H - f.B }));
}

const PALETTE = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#5d4037"];

// Stress: liquidated notional by move, the joint curve thick.
function drawStress(container, legend, doc) {
  const curves = [...doc.curves, doc.joint];
  const all = curves.flatMap((c) => c.points);
  const moves = all.map((p) => p.move_pct);
  const maxY = Math.max(1, ...all.map((p) => p.liquidated_notional_usd));
  const f = frame(container, [Math.min(...moves), Math.max(...moves)], [0, maxY],
    "price move (%)", "USD liquidated");
  legend.replaceChildren();
  curves.forEach((c, i) => {
    const joint = c === doc.joint;
    const color = joint ? "#1d2330" : PALETTE[i % PALETTE.length];
    const points = c.points.map((p) => [f.x(p.move_pct), f.y(p.liquidated_notional_usd)]);
    f.svg.append(svgEl("path", { class: "curve" + (joint ? " joint" : ""), stroke: color,
      d: pathOf(points), "data-market": c.market }));
    const tag = document.createElement("span");
    tag.style.color = color;
    tag.textContent = joint ? "all markets together" : c.market;
    legend.append(tag);
  });
}

// Timeline: one dot per alert at its block, one row per level.
const LEVELS = ["warning", "critical", "liquidatable", "liquidated", "recovered", "unknown"];

function drawTimeline(container, alerts) {
  const blocks = alerts.map((a) => a.block_number).filter((b) => b !== null);
  const lo = Math.min(...blocks), hi = Math.max(...blocks);
  const f = frame(container, [lo, hi === lo ? lo + 1 : hi], [0, LEVELS.length], "block", "", false);
  LEVELS.forEach((level, i) => {
    f.svg.append(svgEl("text", { x: 56, y: f.y(i + 0.5) + 4, "text-anchor": "end" }, level));
  });
  for (const a of alerts) {
    const row = LEVELS.indexOf(a.level);
    if (row < 0 || a.block_number === null) continue;
    const dot = svgEl("circle", { class: `dot ${a.level}`, r: 4, cx: f.x(a.block_number),
      cy: f.y(row + 0.5) });
    // A chain alert (outage or recovery) has no account: it names its chain.
    const what = a.account_id === null ? `chain ${a.chain_id}` : `${a.protocol} ${a.ref}`;
    dot.append(svgEl("title", {}, `${a.level} ${what} at block ${a.block_number}`));
    f.svg.append(dot);
  }
}
