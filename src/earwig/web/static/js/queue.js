// The queue: every job the page holds, running first, then waiting, then the history, live
// from the event stream. Only PAGE rows are drawn at first and only the snapshot's newest jobs
// are held; "Show more" draws the next rows and fetches the next page of the history from
// /api/jobs when the page runs out, so 10,000 jobs in the history cost what 100 do.
// A changed job redraws its own row only; progress redraws only its progress line.

import { state, on, mergeJobs } from "./state.js";
import { get, query } from "./api.js";
import {
  h, $, compareJobs, RUNNING, WAITING, progressText, kind, origin, languageName, duration, age,
} from "./format.js";
import { steer, actionsFor, ACTION_LABELS, fail } from "./ui.js";

const PAGE = 100;
const FIRST = 30; // rows in the very first frame (a screenful and more); the rest come next
const FILTERS = [
  ["all", "All", null],
  ["active", "Active", [...RUNNING, ...WAITING]],
  ["queued", "Queued", ["queued"]],
  ["paused", "Paused", ["paused"]],
  ["done", "Done", ["done"]],
  ["failed", "Failed", ["failed"]],
  ["cancelled", "Cancelled", ["cancelled"]],
];

const view = {
  filter: "all",
  text: "",
  shown: PAGE,
  rows: new Map(), // id -> {job, el}
  fetched: new Map(), // filter -> how far /api/jobs has been paged for it
  exhausted: new Set(), // filters whose whole history is held
  scheduled: false,
};

export function mountQueue(root) {
  const chips = h("div", { class: "chips", role: "group", "aria-label": "Show jobs" },
    FILTERS.map(([key, label]) =>
      h("button", {
        class: "chip", type: "button", dataset: { filter: key }, "aria-pressed": String(key === view.filter),
        onclick: () => setFilter(key),
      }, label, h("span", { class: "count", dataset: { count: key } }))));
  const text = h("input", {
    type: "search", id: "queue-filter", placeholder: "Filter by title or source",
    "aria-label": "Filter jobs by title or source", autocomplete: "off",
    oninput: (e) => {
      view.text = e.target.value.trim().toLowerCase();
      view.shown = PAGE;
      schedule();
    },
  });
  root.append(
    h("div", { class: "toolbar" }, chips, text),
    h("ul", { id: "jobs", class: "jobs", "aria-live": "off" }),
    h("p", { id: "jobs-empty", class: "empty", hidden: true }),
    h("div", { class: "more" },
      h("button", { id: "jobs-more", type: "button", hidden: true, onclick: showMore }, "Show more")),
  );
  on("jobs", ({ snapshot }) => {
    if (snapshot) { // a new connection: what was paged before is paged again from its start
      view.fetched.clear();
      view.exhausted.clear();
    }
    schedule();
  });
  on("counts", updateCounts);
  on("status", updateCounts);
  on("progress", ({ id }) => updateProgress(id));
  schedule();
}

function setFilter(key) {
  view.filter = key;
  view.shown = PAGE;
  for (const chip of document.querySelectorAll(".chip")) {
    chip.setAttribute("aria-pressed", String(chip.dataset.filter === key));
  }
  schedule();
  if (key !== "all" && !view.fetched.has(key)) fetchPage(key);
}

async function fetchPage(key) {
  const states = FILTERS.find(([k]) => k === key)[2];
  const offset = view.fetched.get(key) ?? (key === "all" ? state.snapshotJobs || 0 : 0);
  try {
    const page = await get(`/api/jobs${query({ state: states, limit: PAGE, offset })}`);
    view.fetched.set(key, offset + page.jobs.length);
    if (page.jobs.length < PAGE) view.exhausted.add(key);
    mergeJobs(page.jobs);
  } catch (err) {
    fail(err);
  }
}

async function showMore() {
  const matching = filtered();
  if (matching.length <= view.shown && !view.exhausted.has(view.filter)) {
    await fetchPage(view.filter);
  }
  view.shown += PAGE;
  schedule();
}

function filtered() {
  const states = FILTERS.find(([k]) => k === view.filter)[2];
  const text = view.text;
  const out = [];
  for (const job of state.jobs.values()) {
    if (states && !states.includes(job.state)) continue;
    if (text) {
      const hay = `${job.title} ${job.url || ""} ${job.path || ""} ${job.subscription || ""} ${job.source}`;
      if (!hay.toLowerCase().includes(text)) continue;
    }
    out.push(job);
  }
  return out.sort(compareJobs);
}

function schedule() {
  if (view.scheduled) return;
  view.scheduled = true;
  requestAnimationFrame(render);
}

function render() {
  view.scheduled = false;
  const list = $("#jobs");
  if (!list) return;
  const jobs = filtered();
  const visible = jobs.slice(0, view.painted ? view.shown : Math.min(view.shown, FIRST));
  const keep = new Set(visible.map((j) => j.id));
  for (const [id, row] of view.rows) {
    if (!keep.has(id)) {
      row.el.remove();
      view.rows.delete(id);
    }
  }
  let cursor = list.firstElementChild;
  for (const job of visible) {
    let row = view.rows.get(job.id);
    if (!row || row.job !== job || row.stamp !== stamp(job)) {
      const el = renderRow(job);
      if (row) {
        if (cursor === row.el) cursor = el;
        row.el.replaceWith(el);
      }
      row = { job, el, stamp: stamp(job) };
      view.rows.set(job.id, row);
    }
    if (row.el === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(row.el, cursor);
  }
  const empty = $("#jobs-empty");
  empty.hidden = jobs.length > 0;
  if (!jobs.length) {
    empty.textContent = state.jobs.size || view.text
      ? "No job matches." : "Nothing yet: add a URL or a file, or drop files onto the page.";
  }
  const more = $("#jobs-more");
  const held = jobs.length > visible.length;
  const server = !view.exhausted.has(view.filter) && state.jobs.size < state.total;
  more.hidden = !(held || (server && !view.text));
  more.textContent = held ? `Show ${Math.min(PAGE, jobs.length - visible.length)} more` : "Show older jobs";
  updateCounts();
  document.body.dataset.queueReady = "1";
  if (!view.painted && state.connected) {
    view.painted = true;
    // the rows are in the DOM; the frame after this one has painted them (bench/web.py reads it)
    requestAnimationFrame(() => setTimeout(() => {
      performance.mark("earwig:queue-painted");
      schedule(); // the rest of the first page of rows
    }));
  }
}

// What a row shows besides its progress: a row is redrawn when this changes.
function stamp(job) {
  return `${job.state}|${job.updated_at}|${job.title}|${job.waiting || ""}`;
}

function renderRow(job) {
  const running = RUNNING.includes(job.state);
  const from = origin(job); // "subscription Rivers", "uploaded": the kind said once, not twice
  const meta = [from.startsWith(kind(job)) ? null : kind(job), from, languageName(job.language),
    duration(job.duration),
    age(job.times && job.times[job.state] || job.updated_at)].filter(Boolean);
  const li = h("li", { class: `job state-${job.state}`, dataset: { id: job.id, state: job.state } },
    h("div", { class: "job-head" },
      h("span", { class: `badge ${job.state}` }, job.state),
      h("a", { class: "job-title", href: `/jobs/${job.id}`, "data-link": true }, job.title || `#${job.id}`)),
    h("div", { class: "job-meta" }, meta.join(" · ")),
    running ? progressLine(job) : null,
    job.waiting ? h("div", { class: "job-note" }, job.waiting) : null,
    (job.warnings || []).length
      ? h("ul", { class: "job-warnings" }, job.warnings.map((w) => h("li", {}, w))) : null,
    job.state === "failed" && job.error
      ? h("div", { class: "job-error", role: "note" },
        h("div", { class: "error-message" }, job.error),
        job.hint ? h("div", { class: "error-hint" }, job.hint) : null) : null,
    // cancelled by earwig, not the user (the same media as another job): say why
    job.state === "cancelled" && job.hint
      ? h("div", { class: "muted", role: "note" }, job.hint) : null,
    h("div", { class: "job-actions" }, actionsFor(job).map((action) =>
      h("button", {
        type: "button", class: `act ${action}`, dataset: { action },
        "aria-label": `${ACTION_LABELS[action]} #${job.id} ${job.title}`,
        onclick: () => steer(action, state.jobs.get(job.id) || job),
      }, ACTION_LABELS[action]))),
  );
  return li;
}

function progressLine(job) {
  const fraction = job.progress && job.progress.fraction;
  return h("div", { class: "job-progress" },
    h("div", {
      class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
      "aria-valuenow": fraction != null ? String(Math.round(fraction * 100)) : null,
    }, h("span", { style: `width:${fraction != null ? (fraction * 100).toFixed(1) : 0}%` })),
    h("span", { class: "ptext" }, progressText(job) || job.state));
}

function updateProgress(id) {
  const row = view.rows.get(id);
  const job = state.jobs.get(id);
  if (!row || !job || !RUNNING.includes(job.state)) return;
  const old = row.el.querySelector(".job-progress");
  const line = progressLine(job);
  if (old) old.replaceWith(line);
  else row.el.querySelector(".job-meta").after(line);
}

function updateCounts() {
  const counts = (state.status && state.status.counts) || {};
  for (const [key, , states] of FILTERS) {
    const el = document.querySelector(`[data-count="${key}"]`);
    if (!el) continue;
    const n = states ? states.reduce((sum, s) => sum + (counts[s] || 0), 0) : state.total;
    el.textContent = n ? String(n) : "";
  }
}
