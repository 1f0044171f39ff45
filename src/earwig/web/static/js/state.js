// What the page knows about the daemon, kept current by live.js from the event stream, and
// who wants to hear when it changes. Views read from here and never fetch the queue themselves.

export const state = {
  connected: false, // the event stream is open and its snapshot applied
  loggedIn: null, // null: not known yet; false: a 401 came back
  status: null, // the last /api/status (or the snapshot's)
  jobs: new Map(), // id -> job view, as the daemon sends it
  total: 0, // jobs in the history, all of them (the page holds only some)
  snapshotJobs: 0, // how many the snapshot brought: the newest ones
  queuePaused: false,
  subscriptions: [],
  log: [],
};

const listeners = new Map();

export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
  return () => listeners.get(topic).delete(fn);
}

export function emit(topic, detail) {
  for (const fn of listeners.get(topic) || []) {
    try {
      fn(detail);
    } catch (err) {
      console.error(`earwig: a ${topic} listener failed`, err);
    }
  }
}

// Merge jobs fetched by a page of /api/jobs (the history beyond the snapshot) without losing
// fresher values the stream already brought.
export function mergeJobs(jobs) {
  for (const job of jobs) {
    const known = state.jobs.get(job.id);
    if (!known || (job.updated_at || 0) >= (known.updated_at || 0)) state.jobs.set(job.id, job);
  }
  emit("jobs", { ids: jobs.map((j) => j.id) });
}
