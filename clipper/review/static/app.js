// clipper review page: plain JavaScript, no build step. Text from the run is always set with
// textContent (never parsed as HTML). Every change is POSTed at once with the revision it
// was made on; a 409 means another tab saved first: the page shows what is saved now.
"use strict";

const state = { clips: [], current: 0, run: null, renderSeen: 0 };
const $ = (sel) => document.querySelector(sel);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function toast(message, bad = false) {
  const t = $("#toast");
  t.textContent = message;
  t.className = "toast show" + (bad ? " bad" : "");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = "toast"; }, bad ? 6000 : 2500);
}

async function api(method, path, body) {
  const init = { method, headers: { "X-Clipper": "1" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  return { status: res.status, data };
}

async function load() {
  const { status, data } = await api("GET", "/api/clips");
  if (status !== 200) { $("#detail").replaceChildren(el("p", { class: "empty", text: data.error })); return; }
  state.clips = data.clips;
  state.run = data.run;
  state.renderSeen = data.render.finished;
  $("#run").textContent = `${data.run.source} · ${data.run.language} · ${state.clips.length} clips`;
  if (state.current >= state.clips.length) state.current = Math.max(0, state.clips.length - 1);
  draw();
  if (data.render.running) pollRender();
}

function current() { return state.clips[state.current]; }

function draw() {
  drawCounts();
  drawList();
  drawDetail();
}

function drawCounts() {
  const counts = { pending: 0, approved: 0, edited: 0, rejected: 0 };
  for (const c of state.clips) counts[c.state] += 1;
  const stale = state.clips.filter((c) => c.stale).length;
  const pills = Object.entries(counts).map(([k, n]) => el("span", { class: `pill state-${k}`, text: `${k} ${n}` }));
  if (stale) pills.push(el("span", { class: "pill stale", text: `${stale} to re-render` }));
  $("#counts").replaceChildren(...pills);
}

function drawList() {
  const list = $("#list");
  list.replaceChildren(...state.clips.map((c, i) => {
    const cover = c.render && c.render.cover ? el("img", { src: c.render.cover, alt: "" }) : el("img", { alt: "" });
    return el("button", {
      class: `card ${c.state}${i === state.current ? " current" : ""}`, "data-id": c.id,
      onclick: () => { state.current = i; draw(); },
    }, cover, el("div", { class: "meta" },
      el("div", {}, el("b", { text: c.id }), " ", el("span", { class: `pill state-${c.state}`, text: c.state }),
        c.stale ? el("span", { class: "pill stale", text: "re-render" }) : null),
      el("div", {}, ...c.tags.map((t) => el("span", { class: "pill", text: t }))),
      el("div", { class: "text", text: c.title ? `${c.title} — ${c.text}` : c.text })));
  }));
  const cur = list.querySelector(".current");
  if (cur) cur.scrollIntoView({ block: "nearest" });
}

function fmt(t) { return t == null ? "–" : `${Math.floor(t / 60)}:${(t % 60).toFixed(1).padStart(4, "0")}`; }

function drawDetail() {
  const c = current();
  const detail = $("#detail");
  if (!c) { detail.replaceChildren(el("p", { class: "empty", text: "This run has no clips." })); return; }
  const r = c.render;
  const video = r ? el("video", { src: r.file, controls: "", preload: "metadata", playsinline: "" })
    : el("div", { class: "empty", text: c.state === "rejected" ? "Rejected: not rendered." : "Not rendered yet." });
  const facts = r ? `${fmt(r.start)} – ${fmt(r.end)} in the source · ${r.duration}s · edges: ${r.edges.start} / ${r.edges.end}` : "";
  const title = el("input", { id: "title", value: c.title, maxlength: "120", placeholder: "title on the clip" });
  title.addEventListener("keydown", (e) => { if (e.key === "Enter") title.blur(); if (e.key === "Escape") { title.value = c.title; title.blur(); } });
  title.addEventListener("change", () => save({ title: title.value }));
  detail.replaceChildren(
    el("div", { class: "player" }, video, el("div", { class: "facts", text: facts }),
      r ? el("div", { class: "facts" }, el("a", { href: r.subtitles, target: "_blank", text: "subtitles (.srt)" })) : null),
    el("div", {},
      el("div", { class: "head" }, el("h2", { text: `${c.id} · ${c.kind.replace("_", " ")}` }),
        el("span", { class: `pill state-${c.state}`, id: "state", text: c.state }),
        c.stale ? el("span", { class: "pill stale", text: "changed since rendered" }) : null,
        el("span", { class: "pill", text: `product ${c.product}` }), c.category ? el("span", { class: "pill", text: c.category }) : null,
        ...c.tags.map((t) => el("span", { class: "pill", text: t }))),
      el("div", { class: "decide" },
        el("button", { class: `approve${c.state === "approved" ? " on" : ""}`, id: "approve", text: "Approve (A)", onclick: () => decide("approved") }),
        el("button", { class: `reject${c.state === "rejected" ? " on" : ""}`, id: "reject", text: "Reject (X)", onclick: () => decide("rejected") }),
        el("button", { id: "pending", text: "Pending (U)", onclick: () => decide("pending") }),
        el("button", { id: "prev", text: "↑ Previous", onclick: () => move(-1) }),
        el("button", { id: "next", text: "Next ↓", onclick: () => move(1) })),
      el("div", { class: "field" }, el("label", { for: "title", text: "Title" }), title),
      el("div", { class: "edges" }, edgeBox(c, "start"), edgeBox(c, "end")),
      el("div", { class: "field" }, el("label", { text: "Subtitle text — click a word to correct it" }), wordsBox(c))));
}

function edgeBox(c, which) {
  const isStart = which === "start";
  const at = isStart ? c.first_word : c.last_word;
  const near = c.words.filter((w) => Math.abs(w.i - at) <= 6);
  const ctx = el("div", { class: "ctx" });
  for (const w of near) {
    if (isStart && w.i === at) ctx.append(el("span", { class: "cut", title: "clip starts" }));
    if (w.pause >= 0.3) ctx.append(el("span", { class: "pause", text: `${w.pause.toFixed(1)}s` }));
    const inside = w.i >= c.first_word && w.i <= c.last_word;
    ctx.append(el("span", { class: `w${inside ? "" : " out"}`, text: w.text }));
    if (!isStart && w.i === at) ctx.append(el("span", { class: "cut", title: "clip ends" }));
  }
  const [earlier, later] = isStart ? ["Q", "W"] : ["O", "P"];
  return el("div", { class: "edge", id: `edge-${which}` },
    el("div", { class: "row" }, el("b", { text: isStart ? "Start" : "End" }),
      el("span", {},
        el("button", { id: `${which}-earlier`, text: `◀ word (${earlier})`, onclick: () => nudge(which, -1) }), " ",
        el("button", { id: `${which}-later`, text: `word ▶ (${later})`, onclick: () => nudge(which, 1) }))),
    ctx);
}

function wordsBox(c) {
  const box = el("div", { class: "words", id: "words" });
  for (const w of c.words) {
    if (w.i < c.first_word || w.i > c.last_word) continue;
    if (w.pause >= 0.6 && w.i !== c.first_word) box.append(el("span", { class: "pause", text: `${w.pause.toFixed(1)}s` }));
    const vocab = !w.fixed && w.recognised;   // rewritten by the vocabulary's homophone correction
    const span = el("span", { class: `w${w.fixed ? " fixed" : ""}${vocab ? " vocab" : ""}`, "data-i": String(w.i), text: w.text,
      title: w.fixed ? `heard: ${w.heard.trim()}` : vocab ? `heard: ${w.recognised.trim()} (vocabulary)` : `${w.start.toFixed(2)}s` });
    span.addEventListener("click", () => editWord(span, w));
    box.append(span);
  }
  return box;
}

function editWord(span, w) {
  if (span.querySelector("input")) return;
  const input = el("input", { value: w.text.trim(), maxlength: "40", "aria-label": "corrected word" });
  span.replaceChildren(input);
  input.focus();
  input.select();
  let done = false;
  const finish = (keep) => {
    if (done) return;
    done = true;
    const value = input.value.trim();
    if (keep && value !== w.text.trim()) save({ corrections: { [w.i]: value === w.heard.trim() ? null : value } });
    else drawDetail();
  };
  input.addEventListener("keydown", (e) => {
    e.stopPropagation();
    if (e.key === "Enter") finish(true);
    if (e.key === "Escape") finish(false);
  });
  input.addEventListener("blur", () => finish(true));
}

function nudge(which, step) {
  const c = current();
  if (which === "start") {
    const to = c.first_word + step;
    if (to < 0 || to > c.last_word) return;
    save({ first_word: to });
  } else {
    const to = c.last_word + step;
    if (to < c.first_word || !c.words.some((w) => w.i === to)) return;
    save({ last_word: to });
  }
}

function decide(value) { return save({ state: value }); }

async function save(changes) {
  const c = current();
  const { status, data } = await api("POST", `/api/clips/${encodeURIComponent(c.id)}`, { rev: c.rev, changes });
  if (status === 200) {
    state.clips[state.current] = data;
    toast(`${c.id} saved`);
  } else if (status === 409) {
    if (data.clip) state.clips[state.current] = data.clip;
    toast("Another tab changed this clip first: showing what is saved now. Apply your change again.", true);
  } else {
    toast(data.error || `error ${status}`, true);
  }
  draw();
  return status;
}

function move(step) {
  const to = state.current + step;
  if (to < 0 || to >= state.clips.length) return;
  state.current = to;
  draw();
}

async function render() {
  const approvedOnly = !$("#all-edits").checked;
  const { status, data } = await api("POST", "/api/render", { approved_only: approvedOnly });
  if (status !== 202) { toast(data.error || `error ${status}`, true); return; }
  pollRender();
}

async function pollRender() {
  const button = $("#render");
  button.disabled = true;
  for (;;) {
    const { data } = await api("GET", "/api/render");
    button.textContent = data.running ? `Rendering… ${data.total ? Math.round(100 * data.done / data.total) : 0}%` : "Re-render changes";
    if (!data.running) {
      button.disabled = false;
      state.renderSeen = data.finished;
      if (data.error) toast(data.error, true);
      else {
        const parts = [];
        if (data.rendered.length) parts.push(`re-rendered ${data.rendered.join(", ")}`);
        if (data.removed.length) parts.push(`removed ${data.removed.join(", ")}`);
        toast(parts.length ? parts.join("; ") : "Nothing needed re-rendering");
      }
      document.body.dataset.renders = String(data.finished);
      await load();
      return;
    }
    await new Promise((ok) => setTimeout(ok, 700));
  }
}

document.addEventListener("keydown", (e) => {
  if (e.target instanceof HTMLInputElement || e.ctrlKey || e.metaKey || e.altKey) return;
  const video = document.querySelector("video");
  const keys = {
    a: () => decide("approved"), x: () => decide("rejected"), u: () => decide("pending"),
    j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
    q: () => nudge("start", -1), w: () => nudge("start", 1), o: () => nudge("end", -1), p: () => nudge("end", 1),
    t: () => $("#title") && $("#title").focus(), R: () => render(),
    " ": () => video && (video.paused ? video.play() : video.pause()),
  };
  const action = keys[e.key];
  if (action) { e.preventDefault(); action(); }
});

$("#render").addEventListener("click", render);
load();
