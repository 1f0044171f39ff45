// Adding work: URLs (one a line), files (the picker, or dropped anywhere on the page; several
// at once, with upload progress), and subscriptions (the form, and the list with each one's
// last check, error and a check-now).

import { state, on } from "./state.js";
import { post, del, upload } from "./api.js";
import { h, $, age, size } from "./format.js";
import { confirm, notify, fail } from "./ui.js";

// One job.add result as people read it (formatting.add_outcome's words).
export function outcome(result) {
  if (result.job) return ["queued", `queued #${result.job.id} ${result.job.title}`, "", result.job.id];
  if (result.duplicate_of) {
    const d = result.duplicate_of;
    return ["duplicate", `skipped ${result.input || ""}: same content as #${d.id} (${d.state})`,
      result.hint || "", d.id];
  }
  if (result.skipped) {
    return ["duplicate", `skipped ${result.input || ""}: ${result.reason || result.skipped}`,
      result.hint || "", null];
  }
  return ["error", `${result.input || ""}: ${result.error}`, result.hint || "", null];
}

function showResults(box, results) {
  box.replaceChildren(...results.map((r) => {
    const [kind, line, hint, id] = outcome(r);
    return h("li", { class: `outcome ${kind}` },
      id ? h("a", { href: `/jobs/${id}`, "data-link": true }, line) : line,
      hint ? h("div", { class: "hint" }, hint) : null);
  }));
}

// A URL as the daemon reads one (urls.meant_as_url: it names a scheme), with no spaces; the
// daemon judges the rest (ftp://, a private address) and says why.
export function looksLikeUrl(line) {
  return !/\s/.test(line) && line.includes("://");
}

export function mountAdd(root) {
  const urls = h("textarea", {
    id: "add-urls", rows: "3", placeholder: "https://… (one URL a line)", "aria-label": "URLs to transcribe",
    autocomplete: "off", spellcheck: "false",
  });
  const urlResults = h("ul", { class: "outcomes", id: "url-results" });
  const urlForm = h("form", {
    class: "card", onsubmit: async (e) => {
      e.preventDefault();
      // One input a line, as the placeholder says: a line with spaces is one (wrong) input,
      // answered as not a URL here, never split into words each "not an absolute path"
      const lines = urls.value.split("\n").map((s) => s.trim()).filter(Boolean);
      if (!lines.length) return notify("Paste one URL a line first.");
      const notUrls = lines.filter((line) => !looksLikeUrl(line));
      const sent = lines.filter(looksLikeUrl);
      const refused = notUrls.map((line) => ({
        input: line, error: "not a URL",
        hint: "one web address a line, starting https://; a file is added with “Choose files” " +
          "or dropped on the page",
      }));
      const button = urlForm.querySelector("button");
      button.disabled = true;
      try {
        const result = sent.length ? await post("/api/jobs", { urls: sent }) : { results: [] };
        showResults(urlResults, [...(result.results || []), ...refused]);
        urls.value = notUrls.join("\n");
      } catch (err) {
        fail(err);
      } finally {
        button.disabled = false;
      }
    },
  },
  h("h2", {}, "Add URLs"),
  h("label", { for: "add-urls", class: "sr-only" }, "URLs"),
  urls,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Add")),
  urlResults);

  const picker = h("input", {
    type: "file", id: "file-input", multiple: true, accept: "audio/*,video/*", class: "sr-only",
    onchange: (e) => {
      sendFiles([...e.target.files]);
      e.target.value = "";
    },
  });
  const uploads = h("ul", { class: "uploads", id: "uploads" });
  const fileCard = h("section", { class: "card", id: "file-card" },
    h("h2", {}, "Upload files"),
    h("label", { for: "file-input", class: "dropzone", id: "dropzone" },
      h("strong", {}, "Choose files"), h("span", {}, " or drop them anywhere on this page"),
      picker),
    uploads);

  root.append(urlForm, fileCard, subscriptionCard());
  dropAnywhere();
}

// Upload `files` in one request, its progress in one row; the results replace the bar.
export async function sendFiles(files) {
  if (!files.length) return;
  const total = files.reduce((n, f) => n + f.size, 0);
  const names = files.length === 1 ? files[0].name : `${files.length} files`;
  const bar = h("progress", { max: "1", value: "0" });
  const label = h("span", { class: "upload-label" }, `${names} · ${size(total)}`);
  const done = h("ul", { class: "outcomes" });
  const row = h("li", { class: "upload" }, label, bar, done);
  $("#uploads").prepend(row);
  try {
    const result = await upload(files, (sent, all) => {
      bar.value = all ? sent / all : 0;
      label.textContent = `${names} · ${size(sent)} of ${size(all)}`;
    });
    bar.remove();
    label.textContent = `${names} · uploaded`;
    showResults(done, result.results || []);
  } catch (err) {
    bar.remove();
    label.textContent = `${names} · not uploaded`;
    done.replaceChildren(h("li", { class: "outcome error" }, err.message,
      err.hint ? h("div", { class: "hint" }, err.hint) : null));
  }
}

// Files dragged over any part of the page show the drop target; dropped, they are uploaded
// and the Add view opens to show their progress.
function dropAnywhere() {
  const overlay = $("#drop");
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
  window.addEventListener("dragenter", (e) => {
    if (!hasFiles(e) || state.loggedIn === false) return;
    depth += 1;
    overlay.hidden = false;
  });
  window.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) overlay.hidden = true;
  });
  window.addEventListener("dragover", (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  window.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    if (state.loggedIn === false) return;
    if (location.pathname !== "/" || location.hash !== "#add") {
      history.pushState({}, "", "/#add");
      window.dispatchEvent(new PopStateEvent("popstate"));
    }
    sendFiles([...e.dataTransfer.files]);
  });
}

function subscriptionCard() {
  const field = (id, label, attrs = {}) => h("div", { class: "field" },
    h("label", { for: id }, label), h("input", { id, name: id, autocomplete: "off", ...attrs }));
  const form = h("form", {
    class: "card", id: "sub-form", onsubmit: async (e) => {
      e.preventDefault();
      const data = new FormData(form);
      const params = { url: String(data.get("sub-url") || "").trim() };
      const name = String(data.get("sub-name") || "").trim();
      const every = String(data.get("sub-every") || "").trim();
      const backfill = String(data.get("sub-backfill") || "").trim();
      if (name) params.name = name;
      if (every) params[/\s/.test(every) ? "cron" : "every"] = every;
      if (backfill) params.backfill = Number(backfill);
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const result = await post("/api/subscriptions", params);
        notify(`subscribed: ${result.name || params.url}`);
        form.reset();
      } catch (err) {
        fail(err);
      } finally {
        button.disabled = false;
      }
    },
  },
  h("h2", {}, "Subscribe"),
  h("p", { class: "help" }, "A podcast feed, a channel or a playlist: new episodes are transcribed as they come."),
  field("sub-url", "Feed or channel URL", { type: "url", required: true, placeholder: "https://…" }),
  h("div", { class: "fields" },
    field("sub-name", "Name", { placeholder: "the feed's title" }),
    field("sub-every", "Check every", { placeholder: "6h (or a cron line)" }),
    field("sub-backfill", "Backfill", { type: "number", min: "0", inputmode: "numeric", placeholder: "3 latest" })),
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Subscribe")));

  const list = h("ul", { class: "subs", id: "subs" });
  const card = h("section", { class: "card" },
    h("div", { class: "card-head" }, h("h2", {}, "Subscriptions"),
      h("button", { type: "button", onclick: () => check(null) }, "Check all now")),
    list);
  on("subscriptions", () => renderSubs(list));
  renderSubs(list);
  return h("div", { class: "stack" }, form, card);
}

// Check one subscription now, or each of them (one request apiece), and say what was found.
async function check(name) {
  const names = name ? [name] : (state.subscriptions || []).map((s) => s.name);
  if (!names.length) return notify("No subscriptions to check.");
  const said = await Promise.all(names.map(async (n) => {
    try {
      const result = await post(`/api/subscriptions/${encodeURIComponent(n)}/check`);
      return (result.results || [result]).map((r) => {
        if (r.error) return `${r.name}: ${r.error}`;
        if (typeof r.skipped === "string") return `${r.name}: ${r.skipped}`;
        return r.unchanged ? `${r.name}: unchanged` : `${r.name}: ${r.new || 0} new`;
      }).join("; ");
    } catch (err) {
      return `${n}: ${err.message}`;
    }
  }));
  notify(said.join("; "));
}

function renderSubs(list) {
  const subs = state.subscriptions || [];
  if (!subs.length) {
    list.replaceChildren(h("li", { class: "empty" }, "No subscriptions yet."));
    return;
  }
  list.replaceChildren(...subs.map((s) => h("li", { class: "sub" },
    h("div", { class: "sub-head" },
      h("strong", {}, s.name),
      h("span", { class: "muted" }, s.schedule || "")),
    h("div", { class: "sub-url" }, h("a", { href: s.url, target: "_blank", rel: "noreferrer" }, s.url)),
    h("div", { class: "muted" },
      s.checking ? "checking now…"
        : s.last_check ? `last checked ${age(s.last_check)}` : "not checked yet",
      s.items_found ? ` · ${s.items_found} item${s.items_found === 1 ? "" : "s"} found` : "",
      s.next_check ? ` · next ${new Date(s.next_check * 1000).toLocaleString()}` : ""),
    s.last_error ? h("div", { class: "job-error" }, h("div", { class: "error-message" }, s.last_error)) : null,
    h("div", { class: "job-actions" },
      h("button", { type: "button", onclick: () => check(s.name), disabled: s.checking }, "Check now"),
      h("button", {
        type: "button", class: "danger", onclick: async () => {
          const ok = await confirm(`Unsubscribe from ${s.name}?`,
            "Its entry leaves the config file; its transcripts and history stay.", "Unsubscribe");
          if (!ok) return;
          try {
            await del(`/api/subscriptions/${encodeURIComponent(s.name)}`);
            notify(`unsubscribed ${s.name}`);
          } catch (err) {
            fail(err);
          }
        },
      }, "Unsubscribe")))));
}
