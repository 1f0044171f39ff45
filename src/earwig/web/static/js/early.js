// The event stream is opened now, while the modules load, so its snapshot is already on its
// way when they run: live.js adopts this EventSource and replays what it kept meanwhile.
// A classic script of its own (index.html loads it first): the page's Content-Security-Policy
// allows no inline script at all.
(() => {
  const source = new EventSource("/api/events?limit=100");
  const kept = [];
  const keep = (e) => kept.push(e);
  const names = ["snapshot", "error", "job.added", "job.updated", "job.deleted", "job.progress",
    "log", "queue", "subscriptions", "job.segments"];
  for (const name of names) source.addEventListener(name, keep);
  window.earwigEarly = { source, kept, release: () => names.forEach((n) => source.removeEventListener(n, keep)) };
})();
