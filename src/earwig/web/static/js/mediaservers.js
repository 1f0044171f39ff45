// The Status view's media servers ([[media_server]], docs/media-servers.md): each one
// reachable or not (the last problem in words), its last event and its last refresh, and a
// "Test" button that asks every server now (POST /api/media-servers/test) and lists its
// library folders and where each lies on earwig's side.

import { h, age } from "./format.js";
import { post } from "./api.js";
import { fail } from "./ui.js";

let tested = null; // the last test's answer, shown until the view is rendered from scratch

export function mediaCard(servers, refresh) {
  if (!servers || !servers.length) return null;
  return h("section", { class: "card", id: "media-card" }, h("h2", {}, "Media servers"),
    h("ul", { class: "slots" }, servers.map(serverRow)),
    h("div", { class: "job-actions" },
      h("button", {
        type: "button", onclick: async () => {
          try {
            tested = (await post("/api/media-servers/test")).servers;
            refresh();
          } catch (err) {
            fail(err);
          }
        },
      }, "Test")));
}

function serverRow(s) {
  const talks = "url" in s;
  const ok = talks ? s.reachable && !s.error : true;
  const badge = !talks ? "sender" : s.reachable == null ? "not asked" : ok ? "ok" : s.reachable ? "refused" : "down";
  const folders = ((tested || []).find((t) => t.name === s.name) || {}).folders || [];
  return h("li", { class: "slot media-server" },
    h("div", { class: "sub-head" },
      h("strong", {}, s.name),
      h("span", { class: "muted" }, ` ${s.kind}${talks ? " · " + s.url : ""}`),
      h("span", { class: `badge ${ok ? "done" : "failed"}` }, badge)),
    s.server ? h("div", { class: "muted" }, s.server) : null,
    s.error ? h("div", { class: "error-hint" }, s.error) : null,
    s.last_event ? h("div", { class: "muted" },
      `last event ${age(s.last_event.at)}: ${s.last_event.what}: ${s.last_event.outcome}`) : null,
    s.last_refresh ? h("div", { class: s.last_refresh.ok ? "muted" : "error-hint" },
      `last refresh ${age(s.last_refresh.at)}: ${s.last_refresh.ok ? "" : "failed: "}${s.last_refresh.what}`) : null,
    s.pending ? h("div", { class: "muted" }, `${s.pending} file(s) wait to be refreshed`) : null,
    folders.length ? h("ul", { class: "media-folders" }, folders.map((f) => h("li", {},
      `${f.library ? f.library + ": " : ""}${f.theirs} → `,
      f.ours ? h("span", { class: f.readable ? "" : "error-hint" },
        f.ours + (f.readable ? "" : " (earwig cannot read it)")) : h("span", { class: "error-hint" }, "nothing here: add a path_map pair")))) : null);
}
