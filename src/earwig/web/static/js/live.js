// The live connection: one EventSource on /api/events. Its first event is a snapshot (the
// socket's "subscribe" result); every later one changes state.js and tells the views. When the
// daemon goes away the page says so and reconnects by itself (backing off to 5 s), and a new
// snapshot replaces what it held; a gap in the events' ids means some were dropped for a slow
// reader, so the page asks for a fresh snapshot the same way.

import { state, emit, mergeJobs } from "./state.js";
import { get } from "./api.js";

// A running job's new transcript lines ({"id", "segments": [...]}), for the transcript page.
const SEGMENT_EVENTS = ["job.segments"];
const EVENTS = [
  "job.added", "job.updated", "job.deleted", "job.progress", "log", "queue", "subscriptions",
  ...SEGMENT_EVENTS,
];

// The snapshot's newest 100 jobs are what the queue draws first; the waiting and running ones
// beyond them are fetched after it (holdActive), older history when asked for ("Show more").
const STREAM = "/api/events?limit=100";
const ACTIVE = ["queued", "paused", "downloading", "fetching", "transcribing"];

let source = null;
let retry = 0;
let timer = null;
let lastSeq = null;
let downSince = null;

export function connect() {
  clearTimeout(timer);
  if (source) source.close();
  lastSeq = null;
  // The first time, index.html's EventSource (opened before the modules loaded)
  const early = window.earwigEarly;
  window.earwigEarly = null;
  source = early ? early.source : new EventSource(STREAM);
  const onSnapshot = (e) => applySnapshot(JSON.parse(e.data));
  const handlers = Object.fromEntries(EVENTS.map((name) => [name, (e) => {
    if (!checkSeq(e.lastEventId)) return;
    apply(name, JSON.parse(e.data));
  }]));
  const onError = () => lost();
  source.addEventListener("snapshot", onSnapshot);
  for (const name of EVENTS) source.addEventListener(name, handlers[name]);
  source.addEventListener("error", onError);
  if (early) {
    early.release();
    let erred = false;
    for (const e of early.kept) {
      if (source !== early.source || erred) break; // a replayed event reconnected, or it broke
      if (e.type === "snapshot") onSnapshot(e);
      else if (e.type === "error") {
        erred = true;
        onError();
      } else if (handlers[e.type]) handlers[e.type](e);
    }
    if (!erred && source.readyState === EventSource.CLOSED) onError();
  }
}

function checkSeq(id) {
  if (!id) return true; // progress carries no id: it is coalesced, never dropped
  const seq = Number(id);
  if (lastSeq != null && seq > lastSeq + 1) {
    console.info(`earwig: events ${lastSeq + 1}..${seq - 1} were dropped; fetching a snapshot`);
    connect();
    return false;
  }
  lastSeq = seq;
  return true;
}

async function lost() {
  source.close();
  if (state.connected || downSince == null) downSince = Date.now();
  state.connected = false;
  emit("connection", { connected: false, since: downSince });
  // A 401 closes the stream too: ask /api/status, which says whether the cookie is the cause
  // (and shows the login message) or the daemon is simply gone.
  try {
    await get("/api/status");
  } catch (err) {
    if (err.status === 401) return; // main.js shows the login message; no reconnecting
  }
  const delay = Math.min(5000, 250 * 2 ** retry++);
  clearTimeout(timer);
  timer = setTimeout(connect, delay);
}

function applySnapshot(snap) {
  retry = 0;
  downSince = null;
  state.connected = true;
  state.loggedIn = true;
  state.jobs.clear();
  for (const job of snap.jobs || []) state.jobs.set(job.id, job);
  state.snapshotJobs = (snap.jobs || []).length; // the history's first page: "Show more" goes on from here
  if (snap.status) setStatus(snap.status);
  state.log = snap.log || [];
  performance.mark("earwig:snapshot");
  emit("connection", { connected: true });
  emit("jobs", { snapshot: true });
  emit("log", {});
  holdActive();
}

// Every waiting and running job, where the snapshot's newest ones do not hold them all: the
// queue shows them first whatever their age. One request per snapshot, after its first paint.
async function holdActive() {
  const counts = (state.status && state.status.counts) || {};
  const active = ACTIVE.reduce((n, s) => n + (counts[s] || 0), 0);
  const held = [...state.jobs.values()].filter((j) => ACTIVE.includes(j.state)).length;
  if (active <= held) return;
  try {
    const page = await get(`/api/jobs?state=${ACTIVE.join(",")}&limit=1000`);
    mergeJobs(page.jobs);
  } catch (err) {
    console.info("earwig: the waiting jobs could not be fetched", err);
  }
}

export function setStatus(status) {
  state.status = status;
  state.queuePaused = !!status.queue_paused;
  if (status.subscriptions) state.subscriptions = status.subscriptions;
  if (status.counts) state.total = Object.values(status.counts).reduce((a, b) => a + b, 0);
  emit("status", status);
  emit("queue", {});
  emit("subscriptions", {});
}

function apply(name, data) {
  switch (name) {
    case "job.added":
    case "job.updated": {
      const known = state.jobs.get(data.id);
      if (!known) {
        state.total += 1;
        countMove(null, data.state);
      } else if (known.state !== data.state) countMove(known.state, data.state);
      // a progress value arrives by its own events; an update without one keeps the last
      // while the job is still running
      if (!data.progress && known && known.progress && known.state === data.state) {
        data.progress = known.progress;
      }
      state.jobs.set(data.id, data);
      emit("jobs", { ids: [data.id], event: name });
      break;
    }
    case "job.deleted": {
      const id = data.id ?? data.job_id;
      const known = state.jobs.get(id);
      if (known) countMove(known.state, null);
      state.jobs.delete(id);
      state.total = Math.max(0, state.total - 1);
      emit("jobs", { ids: [id], deleted: true, event: name });
      break;
    }
    case "job.progress": {
      const job = state.jobs.get(data.id);
      if (job) {
        job.progress = data;
        emit("progress", { id: data.id });
      }
      break;
    }
    case "queue":
      state.queuePaused = !!data.paused;
      if (state.status) state.status.queue_paused = state.queuePaused;
      emit("queue", {});
      break;
    case "subscriptions":
      state.subscriptions = data.subscriptions || [];
      emit("subscriptions", {});
      break;
    case "log":
      state.log.push(data);
      if (state.log.length > 200) state.log.splice(0, state.log.length - 200);
      emit("log", data);
      break;
    default:
      if (SEGMENT_EVENTS.includes(name)) {
        const id = data.id ?? data.job_id;
        const fresh = (data.segments || (data.segment ? [data.segment] : [])).filter(
          (seg) => seg && seg.text != null);
        emit("segments", { id, segments: fresh });
      }
  }
}

function countMove(from, to) {
  const counts = state.status && state.status.counts;
  if (!counts) return;
  if (from && counts[from]) counts[from] -= 1;
  if (to) counts[to] = (counts[to] || 0) + 1;
  emit("counts", {});
}
