// The daemon's own health: its transcription slots (local workers and servers, with drain),
// the backend and model (with download progress), the parts the supervisor restarted, and the
// latest log lines. /api/status is asked again when this view opens and after events (at most
// once a second); a model download has no event of its own, so while one runs and this view is
// open the page asks once a second until it ends.

import { state, on } from "./state.js";
import { get, post } from "./api.js";
import { setStatus } from "./live.js";
import { h, $, fill, duration, size, age, pathNodes } from "./format.js";
import { fail } from "./ui.js";
import { mediaCard } from "./mediaservers.js";

let visible = false;
let last = 0;
let pending = null;

export function mountStatus(root) {
  root.append(
    h("div", { id: "status-body", class: "status-grid" }),
    h("section", { class: "card" }, h("h2", {}, "Log"), h("ol", { id: "log", class: "log" })),
  );
  on("status", render);
  on("log", () => {
    renderLog();
    refreshSoon();
  });
  on("queue", refreshSoon);
  on("jobs", refreshSoon);
}

export function showStatus(shown) {
  visible = shown;
  if (shown) {
    refresh();
    renderLog();
  }
}

function refreshSoon() {
  if (!visible || pending) return;
  const wait = Math.max(0, 1000 - (Date.now() - last));
  pending = setTimeout(refresh, wait);
}

async function refresh() {
  pending = null;
  last = Date.now();
  try {
    setStatus(await get("/api/status"));
  } catch (err) {
    if (err.status !== 401 && err.status !== 0) fail(err);
  }
  const model = state.status && state.status.backend && state.status.backend.model_state;
  if (visible && model && model.state === "downloading") refreshSoon();
}

function render() {
  const body = $("#status-body");
  const s = state.status;
  if (!body || !s) return;
  const b = s.backend || {};
  const m = b.model_state || {};
  const parts = Object.entries(s.parts || {});
  const restarted = parts.filter(([, p]) => p.restarts || p.state === "restarting");
  const http = s.http || {};
  fill(body, 
    h("section", { class: "card" }, h("h2", {}, "Daemon"),
      dl([
        ["version", s.version],
        ["up for", duration(s.uptime)],
        ["queue", s.queue_paused ? "paused: no new jobs start" : "running"],
        ["health", s.healthy ? "healthy" : (s.problems || [])[0] || `restarting: ${(parts.filter(([, p]) => p.state === "restarting").map(([n]) => n)).join(", ")}`],
        ["web", http.url || http.listen],
        ["transcripts in", s.output_dir],
        ["watching", (s.watch || []).join(", ") || "no folder"],
      ])),
    h("section", { class: "card", id: "model-card" }, h("h2", {}, "Model"),
      dl([
        ["backend", b.name],
        ["model", b.model],
        ["device", b.device],
        ["loaded", b.loaded ? "yes, kept warm" : "no (loaded for the next job)"],
        ["fallbacks", (b.fallbacks || []).join(", ")],
        ["state", m.state + (m.name ? ` (${m.name})` : "")],
      ]),
      m.state === "downloading" ? h("div", { class: "job-progress" },
        h("progress", { max: "1", value: String(m.fraction ?? 0) }),
        h("span", { class: "ptext" },
          m.total ? `${size(m.bytes || 0)} of ${size(m.total)}` : `${size(m.bytes || 0)}`)) : null,
      m.error ? h("div", { class: "job-error" }, h("div", { class: "error-message" }, m.error),
        m.hint ? h("div", { class: "error-hint" }, m.hint) : null) : null),
    h("section", { class: "card" }, h("h2", {}, "Slots"),
      h("ul", { class: "slots" }, (s.slots || []).map(slotRow))),
    mediaCard(s.media_servers, refresh),
    h("section", { class: "card" }, h("h2", {}, "Parts"),
      restarted.length ? null : h("p", { class: "muted" }, "Nothing has been restarted."),
      h("ul", { class: "parts" }, parts.map(([name, p]) => h("li", { class: `part ${p.state}` },
        h("strong", {}, name), " ", h("span", { class: `badge ${p.state === "running" ? "done" : "failed"}` }, p.state),
        p.restarts ? h("span", { class: "muted" }, ` restarted ${p.restarts}×`) : null,
        p.last_error ? h("div", { class: "error-hint" }, `${p.last_error}${p.last_error_at ? ` (${age(p.last_error_at)})` : ""}`) : null)))),
  );
}

function slotRow(slot) {
  const busy = (slot.busy || []).length;
  return h("li", { class: "slot" },
    h("div", { class: "sub-head" },
      h("strong", {}, slot.name),
      h("span", { class: `badge ${!slot.up ? "failed" : slot.drained ? "paused" : "done"}` },
        !slot.up ? "down" : slot.drained ? "drained" : "up")),
    h("div", { class: "muted" }, [
      slot.kind === "server" ? slot.url : "this machine",
      slot.model, `${busy} of ${slot.capacity} busy`, `${slot.done || 0} done`,
      slot.throughput ? `${Number(slot.throughput).toFixed(1)}× real time` : null,
      slot.errors ? `${slot.errors} errors` : null,
    ].filter(Boolean).join(" · ")),
    slot.last_error ? h("div", { class: "error-hint" }, slot.last_error) : null,
    h("div", { class: "job-actions" },
      h("button", {
        type: "button", onclick: async () => {
          try {
            await post(`/api/slots/${encodeURIComponent(slot.name)}/${slot.drained ? "undrain" : "drain"}`);
            refresh();
          } catch (err) {
            fail(err);
          }
        },
      }, slot.drained ? "Take jobs again" : "Drain")));
}

function dl(rows) {
  return h("dl", { class: "facts" }, rows.filter(([, v]) => v != null && v !== "").map(([k, v]) =>
    [h("dt", {}, k), h("dd", {}, String(v).startsWith("/") ? pathNodes(v) : String(v))]));
}

function renderLog() {
  const list = $("#log");
  if (!list || !visible) return;
  const entries = state.log.slice(-50).reverse();
  list.replaceChildren(...entries.map((e) => h("li", { class: `log-${e.level}` },
    h("time", { datetime: new Date(e.ts * 1000).toISOString() }, new Date(e.ts * 1000).toLocaleTimeString()),
    " ", e.message)));
}
