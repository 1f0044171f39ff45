// How jobs read to people: the page's copy of earwig/formatting.py (same words as the CLI and
// the dashboard), plus the small DOM helpers every view shares.

export const RUNNING = ["downloading", "fetching", "transcribing"];
export const WAITING = ["queued", "paused"];
export const FINISHED = ["done", "failed", "cancelled"];
const STATE_ORDER = {
  transcribing: 0, fetching: 1, downloading: 2, queued: 3, paused: 4,
  failed: 5, done: 6, cancelled: 7,
};

// Running first, then the queue in the order it will run, then the newest history.
export function compareJobs(a, b) {
  const ka = sortKey(a), kb = sortKey(b);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
  return 0;
}

function sortKey(job) {
  const rank = STATE_ORDER[job.state] ?? 9;
  if (WAITING.includes(job.state)) return [rank, -(job.priority || 0), job.id || 0];
  return [Math.min(rank, STATE_ORDER.failed), 0, -(job.updated_at || 0)];
}

export function clock(seconds) {
  const total = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

export function duration(seconds) {
  if (!seconds) return "";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

export function age(ts, now = Date.now() / 1000) {
  if (!ts) return "";
  const secs = Math.max(0, now - ts);
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (secs >= size) return `${Math.round(secs / size)}${unit} ago`;
  }
  return "just now";
}

// Powers of 1000, as formatting.size says them in the CLI and the dashboard: one unit everywhere
export function size(n) {
  for (const unit of ["B", "KB", "MB", "GB"]) {
    if (n < 1000 || unit === "GB") return unit === "B" ? `${n.toFixed(0)} B` : `${n.toFixed(1)} ${unit}`;
    n /= 1000;
  }
  return "";
}

export function kind(job) {
  if (job.subscription) return "subscription";
  if (job.url || job.source === "inbox") return "url";
  if (job.source === "upload") return "upload"; // sent over HTTP: the Add view, curl -F
  return "file";
}

// "52% · 3.1× real time · 0:12 left" for a running job (the stage named when it is not
// transcribing: decoding, speakers, writing), "" otherwise: formatting.progress_bar's words.
export function progressText(job) {
  const p = job.progress;
  if (!p || (!RUNNING.includes(job.state) && !job.stage)) return ""; // or a done job's [llm] stage
  const phase = p.phase || "";
  if (p.fraction == null) {
    if (phase === "downloading" || (!phase && p.bytes)) return p.bytes ? `${(p.bytes / 1e6).toFixed(1)} MB` : phase;
    return phase;
  }
  const parts = [`${Math.round(p.fraction * 100)}%`];
  if (phase === "transcribing" && p.speed) parts.push(`${p.speed.toFixed(1)}× real time`);
  else if (phase === "downloading" && p.speed) parts.push(`${(p.speed / 1e6).toFixed(1)} MB/s`);
  else if (phase && phase !== "transcribing" && phase !== "downloading") parts.push(phase);
  if (p.eta) parts.push(`${duration(p.eta)} left`);
  return parts.join(" · ");
}

export function percent(job) {
  const p = job.progress;
  return p && p.fraction != null ? `${Math.round(p.fraction * 100)}%` : "";
}

// Where a job came from, shortly: its subscription, URL host, or file name's folder.
export function origin(job) {
  if (job.subscription) return `subscription ${job.subscription}`;
  if (job.url) {
    try { return new URL(job.url).host; } catch { return job.url; }
  }
  return SOURCES[job.source] || job.source || "";
}

const SOURCES = {
  watch: "watched folder", cli: "added", inbox: "inbox", api: "API request", upload: "uploaded",
};

// A path that wraps at its slashes (a <wbr> after each), not in the middle of a name.
export function pathNodes(text) {
  const parts = String(text).split("/");
  return parts.flatMap((part, i) => (i < parts.length - 1 ? [part + "/", h("wbr")] : [part]));
}

// A search snippet's matched words are wrapped in \x02 ... \x03 (formatting.HIGHLIGHT_*).
export function snippetNodes(snippet) {
  const out = [];
  const parts = String(snippet || "").split(/(\x02[^\x03]*\x03)/);
  for (const part of parts) {
    if (part.startsWith("\x02")) out.push(h("mark", {}, part.slice(1, -1)));
    else if (part) out.push(document.createTextNode(part));
  }
  return out;
}

// h("a", {href: "/", class: "x", onclick: fn}, "text", child...): a small element builder, so
// no view ever writes HTML from strings (nothing a transcript says can become markup).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") el.style.cssText = value; // CSSOM: allowed by the page's CSP
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function languageName(code) {
  if (!code) return "";
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(code) || code;
  } catch {
    return code;
  }
}

// el.replaceChildren without the nulls and falses a conditional child leaves (which
// replaceChildren would write out as text).
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c != null && c !== false));
  return el;
}
