// Vigil console: chat over EventSource, and the analysts' approvals inbox with live updates.
// Plain JS, no build step. Data is always written with textContent, never as HTML.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
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

async function signIn(credential) {
  me = await api("POST", "/auth/session", { credential });
  $("#who").textContent = `${me.role}: ${me.subject}`;
  $("#chat-send").disabled = false;
  const staff = me.role === "analyst" || me.role === "admin";
  $("#approvals").hidden = !staff;
  if (staff) openInbox();
}

$("#signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  signIn($("#credential").value).catch((err) => { $("#who").textContent = "refused: " + err.message; });
});

// -- chat ---------------------------------------------------------------------------------

function say(role, text) {
  const node = el("div", "msg " + role, text);
  $("#messages").appendChild(node);
  node.scrollIntoView({ block: "end" });
  return node;
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
      bubble.insertBefore(el("div", "step", `… ${call.name}`), answer);
    });
    es.addEventListener("token", (ev) => { answer.textContent += JSON.parse(ev.data).text; });
    es.addEventListener("citations", (ev) => {
      const c = JSON.parse(ev.data);
      const used = c.cited.length ? c.cited : c.sources;
      if (used.length) bubble.appendChild(el("div", "cites", "Sources: " + used.map((p) => `[${p.n}] ${p.title}`).join("; ")));
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

// -- approvals inbox ----------------------------------------------------------------------

function describe(a) {
  const p = a.proposal;
  if (a.kind === "block_transaction") return `Block ${p.transaction_id} (risk ${p.risk}): ${p.reason}`;
  return `Stop ${p.asset_id} for ${p.work_order_id}: ${p.job}`;
}

function card(a) {
  let node = document.querySelector(`.approval[data-id="${CSS.escape(a.approval_id)}"]`);
  if (!node) {
    node = el("div", "approval");
    node.dataset.id = a.approval_id;
    $("#inbox").prepend(node);
  }
  node.replaceChildren();
  node.appendChild(el("div", "what", describe(a)));
  node.appendChild(el("div", "subject", `${a.kind} · ${a.subject_id} · deadline ${a.deadline}`));
  const ev = el("ul", "evidence");
  for (const line of a.evidence || []) ev.appendChild(el("li", null, line));
  node.appendChild(ev);
  const state = el("div", "state", a.state);
  node.appendChild(state);
  if (a.state === "pending") {
    const reason = el("input", "reason");
    reason.placeholder = "reason (required to reject)";
    const ok = el("button", "approve", "Approve");
    const no = el("button", "reject", "Reject");
    const act = async (decision) => {
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
    node.append(reason, ok, no);
  } else {
    node.classList.add("resolved");
    const d = a.decision;
    state.textContent = a.state + (d ? ` by ${d.analyst}${d.reason ? ": " + d.reason : ""}` : "");
  }
}

function openInbox() {
  if (feed) feed.close();
  feed = new EventSource("/approvals/events");
  feed.onopen = () => { $("#feed-state").textContent = "live"; };
  feed.addEventListener("snapshot", (ev) => {
    $("#inbox").replaceChildren();
    for (const a of JSON.parse(ev.data).pending) card(a);
  });
  feed.addEventListener("approval.new", (ev) => card(JSON.parse(ev.data)));
  feed.addEventListener("approval.resolved", (ev) => card(JSON.parse(ev.data)));
  feed.onerror = () => { $("#feed-state").textContent = "reconnecting"; };
}
