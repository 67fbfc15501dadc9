// Vigil console: a customer's chat over EventSource; an analyst's cases, live.
// Plain JS, no build step, nothing loaded from elsewhere. Data is always written with
// textContent (or SVG attributes), never as HTML.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
};
let me = null;
let feed = null;
const threadId = "web-" + Math.random().toString(36).slice(2, 10);
$("#thread").textContent = threadId;

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new Error((data && JSON.stringify(data.detail)) || res.statusText);
  return data;
}

// -- signing in and out: each role sees its own panels -----------------------------------

function show(role) {
  const staff = role === "analyst" || role === "admin";
  $("#chat").hidden = role !== "customer";
  $("#approvals").hidden = !staff;
  $("#ops").hidden = role !== "admin";
  $("#signin-form").hidden = role !== null;
  $("#signout").hidden = role === null;
  $("#chat-send").disabled = role !== "customer";
}

async function signIn(credential) {
  me = await api("POST", "/auth/session", { credential });
  $("#who").textContent = `${me.role}: ${me.subject}`;
  show(me.role);
  if (me.role === "analyst" || me.role === "admin") openInbox();
  if (me.role === "admin") openOps();
}

$("#signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const field = $("#credential");
  const credential = field.value;
  field.value = ""; // the key never stays in the page
  signIn(credential).catch((err) => { $("#who").textContent = "refused: " + err.message; });
});

$("#signout").addEventListener("click", async () => {
  if (feed) { feed.close(); feed = null; }
  if (opsTimer) { clearInterval(opsTimer); opsTimer = null; }
  await api("DELETE", "/auth/session").catch(() => null);
  me = null;
  $("#who").textContent = "signed out";
  $("#messages").replaceChildren();
  $("#inbox").replaceChildren();
  $("#decided").replaceChildren();
  cases.clear();
  profiles.clear();
  show(null);
});
show(null);

// -- chat -----------------------------------------------------------------------------------

function say(role, text) {
  const node = el("div", "msg " + role, text);
  $("#messages").appendChild(node);
  node.scrollIntoView({ block: "end" });
  return node;
}

// each document once, in the order first cited; its passages open on a click
function sourcesOf(c) {
  const used = c.cited.length ? c.cited : c.sources.slice(0, 1);
  const docs = new Map();
  for (const p of used) {
    const key = p.doc_id || p.title;
    if (!docs.has(key)) docs.set(key, { title: p.title, passages: [] });
    docs.get(key).passages.push(p);
  }
  const box = el("div", "cites");
  box.appendChild(el("span", "cites-label", "Sources"));
  for (const doc of docs.values()) {
    const item = el("details", "source");
    item.appendChild(el("summary", null, doc.title));
    for (const p of doc.passages) item.appendChild(el("blockquote", null, p.text || ""));
    box.appendChild(item);
  }
  return docs.size ? box : null;
}

$("#chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("#chat-input").value.trim();
  if (!text) return;
  $("#chat-input").value = "";
  $("#chat-send").disabled = true;
  say("user", text);
  const bubble = say("assistant", "");
  const answer = el("span", "answer");
  bubble.appendChild(answer);
  try {
    const run = await api("POST", `/chat/${threadId}/runs`, { message: text });
    // EventSource reconnects by itself after a drop, sending Last-Event-ID: nothing is lost
    const es = new EventSource(run.stream_url);
    es.addEventListener("tool_call", (ev) => {
      const call = JSON.parse(ev.data);
      bubble.insertBefore(el("div", "step", `${call.label || "Working on it"}…`), answer);
    });
    es.addEventListener("token", (ev) => { answer.textContent += JSON.parse(ev.data).text; });
    es.addEventListener("citations", (ev) => {
      const box = sourcesOf(JSON.parse(ev.data));
      if (box) bubble.appendChild(box);
    });
    es.addEventListener("message", (ev) => { answer.textContent = JSON.parse(ev.data).content; });
    es.addEventListener("error", (ev) => {
      if (ev.data) { bubble.classList.add("error"); answer.textContent = JSON.parse(ev.data).message; }
    });
    es.addEventListener("end", () => { es.close(); bubble.dataset.done = "1"; $("#chat-send").disabled = false; });
  } catch (err) {
    bubble.classList.add("error");
    answer.textContent = err.message;
    $("#chat-send").disabled = false;
  }
});

// -- approvals: one case per proposal, grouped by card ---------------------------------

const cases = new Map(); // approval id -> the latest view of it

const when = (iso) => {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
};
const number = (x, digits = 0) => Number(x).toLocaleString(undefined, { maximumFractionDigits: digits });

function left(deadline) {
  const ms = new Date(deadline) - Date.now();
  if (!(ms > 0)) return "past its deadline";
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return `decide within ${h ? h + ":" + pad(m) : m}:${pad(r)}`;
}

setInterval(() => {
  for (const node of document.querySelectorAll(".countdown[data-deadline]")) {
    node.textContent = left(node.dataset.deadline);
  }
}, 1000);

function table(rows, columns, caption, current) {
  const t = el("table", "payments");
  if (caption) t.createCaption().textContent = caption;
  const head = t.createTHead().insertRow();
  for (const [, title] of columns) head.appendChild(el("th", null, title));
  const body = t.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    if (current && row.transaction_id === current) {
      tr.className = "current";
      tr.setAttribute("aria-current", "true");
    }
    for (const [key, , fmt] of columns) tr.appendChild(el("td", null, fmt ? fmt(row[key], row) : (row[key] ?? "")));
  }
  return t;
}

// the world's outline (installed with Vigil, served by the API), read once
let world = null;
const worldOutline = () => {
  if (!world) world = fetch("/console/world.json").then((r) => r.json()).then((w) => w.rings || []).catch(() => []);
  return world;
};

// the payments on the world's outline and a longitude/latitude grid, framed around them
function map(payments) {
  const points = payments.filter((p) => typeof p.lat === "number" && typeof p.lon === "number");
  if (!points.length) return null;
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  const lats = points.map((p) => p.lat), lons = points.map((p) => p.lon);
  const pad = 2;
  const W = 320, H = 180;
  // a degree of longitude is cos(latitude) of a degree of latitude: the frame is widened
  // or heightened to the picture's proportions so that shapes and distances keep theirs
  const k = Math.max(0.2, Math.cos(((Math.min(...lats) + Math.max(...lats)) / 2) * Math.PI / 180));
  let x0 = Math.min(...lons) - pad, x1 = Math.max(...lons) + pad;
  let y0 = Math.min(...lats) - pad, y1 = Math.max(...lats) + pad;
  const wide = ((x1 - x0) * k) / (y1 - y0);
  if (wide < W / H) {
    const grow = ((y1 - y0) * (W / H)) / k - (x1 - x0);
    x0 -= grow / 2; x1 += grow / 2;
  } else {
    const grow = ((x1 - x0) * k) / (W / H) - (y1 - y0);
    y0 -= grow / 2; y1 += grow / 2;
  }
  const sx = (lon) => ((lon - x0) / (x1 - x0)) * W;
  const sy = (lat) => H - ((lat - y0) / (y1 - y0)) * H;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "map");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Where the payments were made: " + points.map((p) => p.city || `${p.lat}, ${p.lon}`).join(" then "));
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    svg.appendChild(n);
    return n;
  };
  const land = add("g", { class: "land" });
  worldOutline().then((rings) => {
    for (const ring of rings) {
      if (!ring.some(([lon, lat]) => lon >= x0 && lon <= x1 && lat >= y0 && lat <= y1)) continue;
      const poly = document.createElementNS(NS, "polygon");
      poly.setAttribute("points", ring.map(([lon, lat]) => `${sx(lon).toFixed(1)},${sy(lat).toFixed(1)}`).join(" "));
      land.appendChild(poly);
    }
  });
  for (let lon = Math.ceil(x0); lon <= x1; lon++) add("line", { x1: sx(lon), x2: sx(lon), y1: 0, y2: H, class: "grid" });
  for (let lat = Math.ceil(y0); lat <= y1; lat++) add("line", { x1: 0, x2: W, y1: sy(lat), y2: sy(lat), class: "grid" });
  if (points.length > 1) {
    add("polyline", { points: points.map((p) => `${sx(p.lon)},${sy(p.lat)}`).join(" "), class: "route" });
  }
  points.forEach((p, i) => {
    add("circle", { cx: sx(p.lon), cy: sy(p.lat), r: 5, class: "point", "data-n": i + 1 });
    add("text", { x: sx(p.lon) + 7, y: sy(p.lat) - 7, class: "label" }, `${i + 1} ${p.city || ""}`.trim());
  });
  return svg;
}

const profiles = new Map(); // customer id -> the profile's promise (read once a session)

async function profileOf(customerId, box) {
  if (!profiles.has(customerId)) {
    profiles.set(customerId, api("GET", `/customers/${encodeURIComponent(customerId)}/profile`));
  }
  try {
    const p = await profiles.get(customerId);
    const dl = el("dl", "profile");
    for (const [k, v] of Object.entries(p)) {
      if (v === null || typeof v === "object") continue;
      dl.append(el("dt", null, k.replace(/_/g, " ")), el("dd", null, v));
    }
    box.replaceChildren(el("h4", null, "Customer"), dl);
  } catch (err) {
    box.replaceChildren(el("p", "muted", "profile unavailable: " + err.message));
  }
}

const PAYMENT_COLUMNS = [
  ["timestamp", "When", (v) => when(v)],
  ["amount", "Amount", (v, r) => (v == null ? "" : `${v} ${r.currency || ""}`)],
  ["merchant", "Merchant"],
  ["city", "Where", (v, r) => [v, r.country].filter(Boolean).join(", ") || (r.lat != null ? `${r.lat}, ${r.lon}` : "")],
  ["channel", "Channel", (v) => (v || "").replace(/_/g, " ")],
  ["transaction_id", "Payment"],
];

// the card's last payments as screening kept them when the case was made, this one marked
function cardHistory(c, current) {
  const box = el("div", "history");
  box.appendChild(el("h4", null, "Card's recent payments"));
  if (c.recent == null) {
    box.appendChild(el("p", "muted", "This deployment keeps no card history (VIGIL_FRAUD_CARD_RECENT is 0)."));
  } else if (!c.recent.length) {
    box.appendChild(el("p", "muted", "No payments kept for this card."));
  } else {
    const t = table(c.recent, PAYMENT_COLUMNS, `The card's last ${c.recent.length}, newest first`, current);
    t.classList.add("recent");
    box.appendChild(t);
    if (c.recent_left_out) box.appendChild(el("p", "muted", `${c.recent_left_out} older left out to keep the case small.`));
  }
  return box;
}

function caseView(a) {
  const node = el("article", "approval");
  node.dataset.id = a.approval_id;
  const c = a.case || {};
  const p = a.proposal;
  const title = a.kind === "block_transaction"
    ? `Block payment ${p.transaction_id}` : `Stop ${p.asset_id} for ${p.work_order_id}`;
  const head = el("div", "case-head");
  head.append(el("h3", "what", title), el("span", "risk", `risk ${number(p.risk ?? 0, 2)}`));
  if (a.state === "pending") {
    const cd = el("span", "countdown", left(a.deadline));
    cd.dataset.deadline = a.deadline;
    head.appendChild(cd);
  }
  node.appendChild(head);
  const payments = c.payments || [];
  if (payments.length) node.appendChild(table(payments, PAYMENT_COLUMNS, "The payments in question"));
  const t = c.travel;
  if (t) {
    const fast = t.speed_kmh != null && t.speed_kmh > t.limit_kmh;
    node.appendChild(el("p", fast ? "travel over" : "travel",
      `${number(t.distance_km)} km in ${number(t.seconds)} s: ` +
      (t.speed_kmh == null ? "at once" : `${number(t.speed_kmh)} km/h`) +
      `, limit ${number(t.limit_kmh)} km/h`));
  }
  const drawn = map(payments);
  if (drawn) node.appendChild(drawn);
  const reasons = c.reasons || a.evidence || [];
  if (reasons.length) {
    const ul = el("ul", "evidence");
    for (const line of new Set(reasons)) ul.appendChild(el("li", null, line));
    node.append(el("h4", null, "Why (rules)"), ul);
  }
  if (c.verdict) node.appendChild(el("p", "verdict", c.verdict));
  if (c.model_note) {
    const note = el("aside", "model-note");
    note.append(el("strong", null, "Model's note — advice, not a decision"),
      el("p", null, c.model_note));
    node.appendChild(note);
  }
  const profile = el("div", "profile-box");
  node.appendChild(profile);
  if (c.customer_id) profileOf(c.customer_id, profile);
  if (a.kind === "block_transaction") node.appendChild(cardHistory(c, p.transaction_id));
  const state = el("div", "state", a.state);
  node.appendChild(state);
  if (a.state === "pending") {
    const label = el("label", null, "Reason ");
    const reason = el("input", "reason");
    reason.placeholder = "required to reject";
    label.appendChild(reason);
    const ok = el("button", "approve", "Approve block");
    const no = el("button", "reject", "Reject");
    const act = async (decision) => {
      if (decision === "reject" && !reason.value.trim()) {
        state.textContent = "say why you reject it";
        reason.focus();
        return;
      }
      if (decision === "approve" && !(await confirmBlock(title))) return;
      ok.disabled = no.disabled = true;
      try {
        await api("POST", `/approvals/${encodeURIComponent(a.approval_id)}/${decision}`,
          { reason: reason.value, proposal_hash: a.proposal_hash });
        state.textContent = `${decision} sent…`;
      } catch (err) {
        state.textContent = "refused: " + err.message;
        ok.disabled = no.disabled = false;
      }
    };
    ok.addEventListener("click", () => act("approve"));
    no.addEventListener("click", () => act("reject"));
    const actions = el("div", "actions");
    actions.append(label, ok, no);
    node.appendChild(actions);
  } else {
    node.classList.add("resolved");
    const d = a.decision;
    const said = { approve: "approved", reject: "rejected" }[a.state] || a.state;
    state.textContent = said + (d ? ` by ${d.analyst} at ${when(d.decided_at)}${d.reason ? ": " + d.reason : ""}` : "");
  }
  return node;
}

function confirmBlock(title) {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = `${title}. The block is applied as soon as you confirm and cannot be undone here.`;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

// pending cases grouped by card (several proposals on one card read together)
function render() {
  const typed = new Map(); // a reason being written survives a new case arriving
  for (const input of document.querySelectorAll(".approval .reason")) {
    if (input.value) typed.set(input.closest(".approval").dataset.id, input.value);
  }
  const groups = new Map();
  const decided = [];
  for (const a of cases.values()) {
    if (a.state !== "pending") { decided.push(a); continue; }
    const card = (a.case && a.case.card_id) || a.proposal.card_id || a.subject_id;
    if (!groups.has(card)) groups.set(card, []);
    groups.get(card).push(a);
  }
  const inbox = $("#inbox");
  inbox.replaceChildren();
  for (const [card, list] of groups) {
    const g = el("section", "card-group");
    g.dataset.card = card;
    g.appendChild(el("h3", "card-title", `Card ${card} · ${list.length} proposal${list.length > 1 ? "s" : ""}`));
    list.sort((x, y) => new Date(x.deadline) - new Date(y.deadline));
    for (const a of list) g.appendChild(caseView(a));
    inbox.appendChild(g);
  }
  if (!groups.size) inbox.appendChild(el("p", "muted", "Nothing waits for a decision."));
  const done = $("#decided");
  const at = (a) => (a.decision && a.decision.decided_at) || a.deadline;
  decided.sort((x, y) => new Date(at(y)) - new Date(at(x)));
  done.replaceChildren(...decided.map(caseView));
  $("#count-pending").textContent = String([...groups.values()].reduce((n, l) => n + l.length, 0));
  $("#count-decided").textContent = String(decided.length);
  for (const [id, value] of typed) {
    const input = document.querySelector(`.approval[data-id="${CSS.escape(id)}"] .reason`);
    if (input) input.value = value;
  }
}

for (const [tab, panel, other, otherPanel] of [["#tab-pending", "#inbox", "#tab-decided", "#decided"],
  ["#tab-decided", "#decided", "#tab-pending", "#inbox"]]) {
  $(tab).addEventListener("click", () => {
    $(tab).setAttribute("aria-selected", "true");
    $(other).setAttribute("aria-selected", "false");
    $(panel).hidden = false;
    $(otherPanel).hidden = true;
  });
}

function openInbox() {
  if (feed) feed.close();
  feed = new EventSource("/approvals/events");
  feed.onopen = () => { $("#feed-state").textContent = "live"; };
  feed.addEventListener("snapshot", (ev) => {
    for (const [id, a] of cases) if (a.state === "pending") cases.delete(id);
    for (const a of JSON.parse(ev.data).pending) cases.set(a.approval_id, a);
    render();
    // the cases decided before this page opened (newest first), with who decided and when
    api("GET", "/approvals/decided?limit=50").then((list) => {
      for (const a of list) if (!cases.has(a.approval_id)) cases.set(a.approval_id, a);
      render();
    }).catch(() => null);
  });
  const update = (ev) => { const a = JSON.parse(ev.data); cases.set(a.approval_id, a); render(); };
  feed.addEventListener("approval.new", update);
  feed.addEventListener("approval.resolved", update);
  feed.onerror = () => { $("#feed-state").textContent = "reconnecting"; };
}

// -- operations (admins): what `vigil agents status` reports, every 2 s --------------------

let opsTimer = null;
const history = new Map(); // agent -> [{at, rate, dlq}] over the last minutes
const WINDOW_S = 300;

function spark(points, key, label) {
  const NS = "http://www.w3.org/2000/svg";
  const W = 220, H = 40;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  const last = points.length ? points[points.length - 1][key] : 0;
  svg.setAttribute("aria-label", `${label} over the last ${points.length * 2} s, now ${last}`);
  const max = Math.max(1, ...points.map((p) => p[key]));
  const t0 = points.length ? points[0].at : 0;
  const span = Math.max(1, points.length ? points[points.length - 1].at - t0 : 1);
  const line = document.createElementNS(NS, "polyline");
  line.setAttribute("points", points.map((p) => `${((p.at - t0) / span) * W},${H - (p[key] / max) * (H - 4) - 2}`).join(" "));
  svg.appendChild(line);
  return svg;
}

function renderOps(report) {
  const box = $("#ops-agents");
  box.replaceChildren();
  for (const [name, a] of Object.entries(report.agents)) {
    const h = history.get(name) || [];
    h.push({ at: report.at, rate: a.events_per_s, dlq: a.dead_lettered });
    while (h.length && report.at - h[0].at > WINDOW_S) h.shift();
    history.set(name, h);
    const lag = Object.values(a.lag || {}).reduce((n, x) => n + x, 0);
    const esc = a.escalations;
    const card = el("article", "ops-agent");
    card.dataset.agent = name;
    card.appendChild(el("h3", null, `${name} · ${a.replicas.length} replica${a.replicas.length === 1 ? "" : "s"} · group ${a.state || "no members"}`));
    const dl = el("dl", "ops-figures");
    const fig = (k, v, cls) => { const dd = el("dd", cls, v); dl.append(el("dt", null, k), dd); };
    fig("events/s", number(a.events_per_s, 1), "rate");
    fig("screened", a.replicas.reduce((n, r) => n + r.screened, 0), "screened");
    fig("lag", `${lag}` + (Object.keys(a.lag || {}).length ? ` (${Object.entries(a.lag).map(([p, n]) => `p${p}: ${n}`).join(", ")})` : ""), "lag");
    fig("escalation backlog", esc ? `${esc.backlog}${esc.oldest_s != null ? `, oldest ${number(esc.oldest_s)} s` : ""}` : "no stage", "backlog");
    fig("sent to the DLQ", a.dead_lettered, "dlq");
    fig("pending approvals", a.pending_approvals, "pending");
    card.appendChild(dl);
    const charts = el("div", "sparks");
    const c1 = el("figure"); c1.append(spark(h, "rate", "events a second"), el("figcaption", null, "events/s"));
    const c2 = el("figure"); c2.append(spark(h, "dlq", "records sent to the DLQ"), el("figcaption", null, "DLQ (total)"));
    charts.append(c1, c2);
    card.appendChild(charts);
    if (a.failing && a.failing.length) {
      const ul = el("ul", "failing");
      for (const line of a.failing) ul.appendChild(el("li", null, line));
      card.appendChild(ul);
    }
    box.appendChild(card);
  }
  const ap = report.approvals;
  $("#ops-approvals").replaceChildren(table(
    Object.entries(ap.by_age).map(([age, n]) => ({ age, n })),
    [["age", "Waiting"], ["n", "Proposals"]]));
  $("#ops-state").textContent = `updated ${new Date(report.at * 1000).toLocaleTimeString()}`;
}

function openOps() {
  const load = () => api("GET", "/ops/agents").then(renderOps)
    .catch((err) => { $("#ops-state").textContent = "unavailable: " + err.message; });
  load();
  if (opsTimer) clearInterval(opsTimer);
  opsTimer = setInterval(load, 2000);
}
