// Search as you type over every transcript: each hit with its moment and speaker, opening the
// transcript there (/jobs/ID?t=SECONDS). Only the latest answer is drawn: a slower, older
// request that lands late is dropped.

import { get, query } from "./api.js";
import { h, $, clock, snippetNodes } from "./format.js";

let asked = 0;
let timer = null;

export function mountSearch(root) {
  const input = h("input", {
    type: "search", id: "search-input", placeholder: "Search every transcript",
    "aria-label": "Search every transcript", autocomplete: "off", enterkeyhint: "search",
    oninput: () => {
      clearTimeout(timer);
      timer = setTimeout(() => run(input.value), 120);
    },
  });
  const source = h("input", {
    type: "search", id: "search-source", placeholder: "Only titles or subscriptions like…",
    "aria-label": "Only from titles or subscriptions like", autocomplete: "off",
    oninput: () => {
      clearTimeout(timer);
      timer = setTimeout(() => run(input.value), 120);
    },
  });
  root.append(
    h("div", { class: "toolbar search-bar" }, input, source),
    h("p", { id: "search-note", class: "muted", role: "status" }),
    h("ol", { id: "hits", class: "hits" }),
  );
}

export function focusSearch() {
  const input = $("#search-input");
  if (input) input.focus();
}

async function run(text) {
  const q = text.trim();
  const mine = ++asked;
  const note = $("#search-note");
  const list = $("#hits");
  if (!q) {
    note.textContent = "";
    list.replaceChildren();
    return;
  }
  try {
    const source = $("#search-source").value.trim();
    const result = await get(`/api/search${query({ q, source, limit: 50 })}`);
    if (mine !== asked) return;
    const hits = result.hits || [];
    const n = `${hits.length}${hits.length === 50 ? "+" : ""}`;
    note.textContent = hits.length ? `${n} moment${n === "1" ? "" : "s"}` : "Not found in any transcript.";
    list.replaceChildren(...hits.map(renderHit));
  } catch (err) {
    if (mine !== asked) return;
    list.replaceChildren();
    note.textContent = err.hint ? `${err.message} (${err.hint})` : err.message;
  }
}

function renderHit(hit) {
  const href = `/jobs/${hit.job_id}?t=${hit.start}`;
  return h("li", { class: "hit" },
    h("a", { href, "data-link": true, class: "hit-link" },
      h("span", { class: "hit-head" },
        h("span", { class: "hit-title" }, hit.title),
        h("span", { class: "hit-time" }, hit.clock || clock(hit.start))),
      hit.speaker ? h("span", { class: "speaker" }, hit.speaker) : null,
      h("span", { class: "hit-snippet" }, snippetNodes(hit.snippet))));
}
