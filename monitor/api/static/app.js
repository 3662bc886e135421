// The dashboard: reads /api, redraws every REFRESH_MS. Charts: charts.js.
"use strict";

const REFRESH_MS = 10000;
const STALE_S = 120;
const state = { sort: "health", desc: false, accounts: [], market: null };

function token() { return localStorage.getItem("perpwatch-token") || ""; }

async function api(path) {
  const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
  const response = await fetch(path, { headers });
  if (response.status === 401) {
    document.getElementById("token-form").hidden = false;
    throw new Error("unauthorized: enter the API token");
  }
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function fmt(v, digits) {
  if (v === null || v === undefined) return "–";
  return Number(v).toLocaleString(undefined, { maximumFractionDigits: digits ?? 2 });
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.append(td);
  return td;
}

async function loadFreshness() {
  const doc = await api("/api/freshness");
  const box = document.getElementById("freshness");
  box.replaceChildren(...doc.chains.map((c) => {
    const span = document.createElement("span");
    const age = c.tick_age_s;
    span.className = "chain" + (age === null || age > STALE_S ? " stale" : "");
    span.dataset.chain = c.chain ?? c.chain_id;
    span.textContent = `${c.chain ?? c.chain_id}: block ${fmt(c.block_number, 0)}, ` +
      (age === null ? "no tick yet" : `${fmt(age, 0)} s ago`);
    return span;
  }));
}

async function loadMarkets() {
  const doc = await api("/api/markets");
  const assets = [...new Set(doc.markets.map((m) => m.asset))];
  const select = document.getElementById("market");
  if (select.options.length !== assets.length) {
    select.replaceChildren(...assets.map((a) => new Option(a, a)));
  }
  if (!state.market || !assets.includes(state.market)) state.market = assets[0] || null;
  select.value = state.market || "";
}

async function loadLadder() {
  const box = document.getElementById("ladder");
  if (!state.market) { box.textContent = "no open positions"; return; }
  const doc = await api(`/api/markets/${encodeURIComponent(state.market)}/ladder`);
  drawLadder(box, doc);
}

async function loadStress() {
  const doc = await api("/api/stress");
  drawStress(document.getElementById("stress"), document.getElementById("stress-legend"), doc);
}

function sortValue(a, key) {
  const v = a[key];
  if (v === null || v === undefined) return state.desc ? -Infinity : Infinity;
  return v;
}

function renderAccounts() {
  const rows = [...state.accounts].sort((a, b) => {
    const x = sortValue(a, state.sort), y = sortValue(b, state.sort);
    const order = x < y ? -1 : x > y ? 1 : a.id - b.id;
    return state.desc ? -order : order;
  });
  const body = document.querySelector("#accounts tbody");
  body.replaceChildren(...rows.map((a) => {
    const tr = document.createElement("tr");
    tr.dataset.id = a.id;
    cell(tr, `${a.owner.slice(0, 10)}… ${a.positions.map((p) => `${p.side} ${p.asset}`).join(", ")}`);
    cell(tr, a.protocol);
    cell(tr, a.mode);
    cell(tr, a.level, `level-${a.level}`);
    cell(tr, fmt(a.health, 3), "num");
    cell(tr, fmt(a.move_pct, 2), "num");
    cell(tr, fmt(a.hours_to_liquidation, 1), "num");
    cell(tr, fmt(a.equity_usd, 0), "num");
    cell(tr, fmt(a.data_age_s, 0), "num");
    return tr;
  }));
  for (const th of document.querySelectorAll("#accounts th")) {
    th.classList.toggle("sorted", th.dataset.key === state.sort);
    th.classList.toggle("desc", th.dataset.key === state.sort && state.desc);
  }
}

async function loadAccounts() {
  const doc = await api("/api/accounts?limit=200&sort=health");
  state.accounts = doc.items;
  renderAccounts();
}

async function loadTimeline() {
  // The config's thresholds (a chat's own are its lens: heard there, not shown here).
  const doc = await api("/api/alerts?limit=500&lens=");
  const box = document.getElementById("timeline");
  if (!doc.items.length) box.textContent = "no alerts yet";
  else drawTimeline(box, doc.items);
  const perf = await api("/api/alerts/performance");
  document.getElementById("performance").textContent =
    `${perf.liquidations} liquidation(s) (${perf.partial_liquidations} partial), ` +
    `${perf.missed} without a warning; median lead ` +
    `${fmt(perf.median_lead_blocks, 1)} blocks / ${fmt(perf.median_lead_s, 0)} s; ` +
    `${perf.never_liquidated_recovered} warning episode(s) recovered, ` +
    `${perf.never_liquidated_open} open`;
}

async function loadWhatif(wallet) {
  const box = document.getElementById("whatif");
  box.textContent = "…";
  try {
    const doc = await api(`/api/wallets/${encodeURIComponent(wallet)}/whatif`);
    if (!doc.venues.length) { box.textContent = `${wallet}: no priced open account`; return; }
    box.replaceChildren(...doc.venues.map(whatifTable));
  } catch (err) {
    box.innerHTML = "";
    box.append(Object.assign(document.createElement("p"), { className: "error", textContent: err.message }));
  }
}

function whatifTable(venue) {
  const table = document.createElement("table");
  const caption = table.createCaption();
  caption.textContent = `${venue.protocol} on chain ${venue.chain_id}: liquidation price ` +
    "(adverse move %); bold goes first";
  const head = table.createTHead().insertRow();
  for (const h of ["position", "notional USD", ...venue.variants.map((v) => v.name)]) {
    head.append(Object.assign(document.createElement("th"), { textContent: h }));
  }
  const body = table.createTBody();
  venue.positions.forEach((p, i) => {
    const tr = body.insertRow();
    cell(tr, `${p.side} ${fmt(Math.abs(p.size), 6)} ${p.asset}`);
    cell(tr, fmt(p.notional_usd, 0), "num");
    for (const v of venue.variants) {
      const o = v.outcomes[i];
      const text = o.liquidation_price_usd === null ? "–" :
        `${fmt(o.liquidation_price_usd, 2)} (${fmt(o.distance_pct, 1)}%)`;
      cell(tr, text, "num" + (v.first === i ? " first" : ""));
    }
  });
  return table;
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    await loadFreshness();
    await loadMarkets();
    await Promise.all([loadLadder(), loadStress(), loadAccounts(), loadTimeline()]);
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.loaded = "true";
  } catch (err) {
    status.textContent = err.message;
  }
}

document.getElementById("market").addEventListener("change", (e) => {
  state.market = e.target.value;
  loadLadder().catch((err) => { document.getElementById("status").textContent = err.message; });
});
for (const th of document.querySelectorAll("#accounts th")) {
  th.addEventListener("click", () => {
    state.desc = state.sort === th.dataset.key ? !state.desc : false;
    state.sort = th.dataset.key;
    renderAccounts();
  });
}
document.getElementById("whatif-form").addEventListener("submit", (e) => {
  e.preventDefault();
  loadWhatif(document.getElementById("wallet").value.trim());
});
document.getElementById("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem("perpwatch-token", document.getElementById("token").value);
  document.getElementById("token-form").hidden = true;
  refresh();
});
refresh();
setInterval(refresh, REFRESH_MS);
