// The transcript page, /jobs/ID (?t=SECONDS opens it at that moment): the media in an <audio>
// or <video> element streamed from /api/jobs/ID/media (Range requests, so seeking is instant),
// the transcript beside it, one element per segment. Clicking a segment seeks there; while
// playing, the current segment is highlighted and kept in view (unless the reader scrolled in
// the last few seconds); find-in-transcript; naming a speaker; every download format; a link to
// the original. While the job runs its header follows the event stream, and live segments are
// shown where the daemon sends them; when it finishes, the transcript is fetched. What the
// [llm] model wrote (docs/llm.md) sits above the downloads: the title, the summary, and the
// chapters, each of which seeks the player; "Translate to…" asks for subtitles in another
// language, and the translated ones are downloads too.

import { state, on } from "./state.js";
import { get, post } from "./api.js";
import {
  h, $, fill, clock, duration, languageName, origin, progressText, RUNNING,
} from "./format.js";
import { steer, actionsFor, ACTION_LABELS, notify, fail } from "./ui.js";

const FORMATS = ["txt", "srt", "vtt", "tsv", "json", "md"];
const VIDEO = /\.(mp4|m4v|mkv|webm|mov|avi|ogv|mpe?g|ts)$/i;
const FOLLOW_PAUSE_MS = 4000; // how long a reader's own scrolling keeps the page from following

let page = null; // {id, job, segments, starts, current, media, userScrolled, summary, followups, unsubscribe}

export async function openJob(root, id, at) {
  closeJob();
  page = { id, job: null, segments: [], starts: [], current: -1, media: null, userScrolled: 0, found: [], foundAt: -1 };
  root.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  let result;
  try {
    result = await get(`/api/jobs/${id}?transcript=true`);
  } catch (err) {
    if (!page || page.id !== id) return;
    root.replaceChildren(h("div", { class: "card" },
      h("h2", {}, err.status === 404 ? `There is no job #${id}` : "The job could not be read"),
      h("p", {}, err.message), err.hint ? h("p", { class: "muted" }, err.hint) : null,
      h("p", {}, h("a", { href: "/", "data-link": true }, "Back to the queue"))));
    return;
  }
  if (!page || page.id !== id) return;
  page.job = result.job;
  page.segments = result.transcript ? result.transcript.segments : [];
  page.summary = result.summary || null;
  page.followups = result.followups || [];
  draw(root, result, at);
  const offJobs = on("jobs", ({ ids }) => {
    if (!page || !ids || !ids.includes(id)) return;
    const job = state.jobs.get(id);
    if (!job) return;
    const was = page.job.state;
    const staged = page.job.stage && !job.stage; // the [llm] stage finished: its summary
    page.job = job;
    drawHeader();
    if ((was !== job.state && job.state === "done") || staged) reload(root);
  });
  const offProgress = on("progress", ({ id: pid }) => {
    if (page && pid === id && state.jobs.get(id)) {
      page.job = state.jobs.get(id);
      drawProgress();
    }
  });
  const offSegments = on("segments", ({ id: sid, segments }) => {
    if (!page || sid !== id || page.job.state === "done") return;
    // job.get gave the lines so far; the stream brings the next ones (a line already held,
    // from before the page asked, is not added twice)
    const last = page.segments.length ? page.segments[page.segments.length - 1].start : -1;
    const fresh = segments.filter((s) => s.start > last);
    if (!fresh.length) return;
    page.segments.push(...fresh);
    appendSegments(fresh);
  });
  page.unsubscribe = () => {
    offJobs();
    offProgress();
    offSegments();
  };
}

export function closeJob() {
  if (page && page.unsubscribe) page.unsubscribe();
  if (page && page.media) page.media.pause();
  page = null;
}

async function reload(root) {
  const id = page.id;
  const time = page.media ? page.media.currentTime : null;
  try {
    const result = await get(`/api/jobs/${id}?transcript=true`);
    if (!page || page.id !== id) return;
    page.job = result.job;
    page.segments = result.transcript ? result.transcript.segments : [];
    page.summary = result.summary || null;
    page.followups = result.followups || [];
    if (!page.media && result.job.path) {
      draw(root, result, time);
    } else {
      drawHeader();
      drawSummary();
      drawDownloads();
      drawSegments();
      drawSpeakers();
    }
  } catch (err) {
    fail(err);
  }
}

function draw(root, result, at) {
  const job = result.job;
  document.title = `${job.title} · earwig`;
  const find = h("input", {
    type: "search", id: "find", placeholder: "Find in this transcript", "aria-label": "Find in this transcript",
    autocomplete: "off",
    oninput: (e) => findText(e.target.value),
    onkeydown: (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        stepFound(e.shiftKey ? -1 : 1);
      }
    },
  });
  root.replaceChildren(
    h("div", { class: "job-page" },
      h("header", { class: "job-header", id: "job-header" }),
      h("div", { class: "job-columns" },
        h("div", { class: "player-column" },
          h("div", { id: "player", class: "player" }),
          h("section", { class: "card", id: "summary", "aria-label": "Summary" }),
          h("section", { class: "card", id: "downloads" }),
          h("section", { class: "card", id: "speakers" })),
        h("section", { class: "transcript-column", "aria-label": "Transcript" },
          h("div", { class: "toolbar find-bar" }, find,
            h("span", { id: "find-count", class: "muted", role: "status" }),
            h("button", { type: "button", "aria-label": "Previous match", onclick: () => stepFound(-1) }, "↑"),
            h("button", { type: "button", "aria-label": "Next match", onclick: () => stepFound(1) }, "↓")),
          h("ol", { id: "segments", class: "segments" }))),
    ),
  );
  drawHeader();
  drawPlayer(job, at);
  drawSummary();
  drawDownloads();
  drawSegments();
  drawSpeakers();
  if (at != null) {
    const i = indexAt(at);
    if (i >= 0) setCurrent(i, true);
  }
}

function drawHeader() {
  const box = $("#job-header");
  if (!box || !page) return;
  const job = page.job;
  const meta = [origin(job), languageName(job.language), duration(job.duration),
    job.backend && job.model ? `${job.backend} · ${job.model}` : null,
    job.text_from ? `text from ${job.text_from}` : null].filter(Boolean);
  fill(box, 
    h("p", { class: "crumbs" }, h("a", { href: "/", "data-link": true }, "← Queue")),
    h("div", { class: "job-head" },
      h("span", { class: `badge ${job.state}` }, job.state),
      h("h1", { class: "job-title" }, job.title)),
    h("div", { class: "job-meta" }, meta.join(" · ")),
    job.url ? h("div", { class: "job-meta" }, "Original: ",
      h("a", { href: job.url, target: "_blank", rel: "noreferrer", id: "original" }, job.url)) : null,
    h("div", { id: "job-progress" }),
    (job.warnings || []).length
      ? h("ul", { class: "job-warnings" }, job.warnings.map((w) => h("li", {}, w))) : null,
    job.state === "failed" && job.error ? h("div", { class: "job-error" },
      h("div", { class: "error-message" }, job.error),
      job.hint ? h("div", { class: "error-hint" }, job.hint) : null) : null,
    h("div", { class: "job-actions" }, actionsFor(job).map((action) =>
      h("button", {
        type: "button", class: `act ${action}`, dataset: { action },
        onclick: async () => {
          if (await steer(action, page.job) && action === "delete") {
            history.pushState({}, "", "/");
            window.dispatchEvent(new PopStateEvent("popstate"));
          }
        },
      }, ACTION_LABELS[action]))),
  );
  drawProgress();
}

function drawProgress() {
  const box = $("#job-progress");
  if (!box || !page) return;
  const job = page.job;
  if (!RUNNING.includes(job.state) && !job.stage) return box.replaceChildren();
  const f = job.progress && job.progress.fraction;
  box.replaceChildren(h("div", { class: "job-progress" },
    h("div", { class: "bar" }, h("span", { style: `width:${f != null ? (f * 100).toFixed(1) : 0}%` })),
    h("span", { class: "ptext" }, progressText(job) || job.stage || job.state)));
}

// The [llm] model's title, summary and chapters (a chapter seeks the player), and what of
// the stage is not done yet.
function drawSummary() {
  const box = $("#summary");
  if (!box || !page) return;
  const s = page.summary;
  const pending = page.followups.filter((f) => f.state !== "done");
  box.hidden = !s && !pending.length;
  if (box.hidden) return box.replaceChildren();
  const chapters = s && !(page.job.chapters || []).length ? s.chapters : [];
  box.replaceChildren(...[
    h("h2", {}, "Summary"),
    s && s.title ? h("p", { class: "summary-title", id: "summary-title" }, s.title) : null,
    s ? h("div", { class: "summary-text", id: "summary-text" },
      s.summary.split(/\n+/).filter(Boolean).map((line) => h("p", {}, line))) : null,
    chapters.length ? h("ol", { class: "chapters", id: "chapters" }, chapters.map((c) =>
      h("li", {}, h("button", {
        type: "button", class: "chapter", dataset: { start: c.start },
        onclick: () => seekTime(c.start),
      }, h("span", { class: "seg-time" }, clock(c.start)), " ", c.title)))) : null,
    pending.map((f) => h("p", { class: "muted" },
      `${f.kind === "summary" ? "Summary" : `Translation into ${languageName(f.language) || f.language}`}: ${f.state}`
      + (f.error ? ` (${f.error})` : ""))),
    s && s.model ? h("p", { class: "muted" }, `by ${s.model}`) : null,
  ].flat().filter(Boolean));
}

// A chapter's start: the player there, and the line it begins with.
function seekTime(t) {
  const i = indexAt(t);
  if (i >= 0) setCurrent(i, true);
  history.replaceState(history.state, "", `/jobs/${page.id}?t=${t}`);
  if (page.media) {
    page.media.currentTime = t;
    page.media.play().catch(() => {});
  }
}

async function translateTo(language) {
  const code = language.trim().toLowerCase();
  if (!code) return;
  try {
    const result = await post(`/api/jobs/${page.id}/translate`, { language: code });
    page.job = result.job;
    notify(`Translation into ${languageName(code) || code} queued`);
    const detail = await get(`/api/jobs/${page.id}`);
    page.followups = detail.followups || [];
    drawHeader();
    drawSummary();
  } catch (err) {
    fail(err);
  }
}

function drawPlayer(job, at) {
  const box = $("#player");
  const src = `/api/jobs/${job.id}/media`;
  if (!job.path) {
    box.replaceChildren(h("p", { class: "muted no-media" },
      job.text_from ? `No media here: the text is ${job.text_from}.` : "No media file to play."));
    return;
  }
  const tag = VIDEO.test(job.path) ? "video" : "audio";
  const media = h(tag, { id: "media", controls: true, preload: "metadata", src, playsinline: true });
  media.addEventListener("error", () => {
    if (media.readyState === 0) { // nothing could be loaded: say so instead of a dead player
      box.replaceChildren(h("p", { class: "muted no-media" },
        "The media cannot be played here (moved, cleaned up, or a format this browser does not play)."));
      if (page) page.media = null;
    } else { // it loaded, then playing failed (no sound device, a broken stretch): keep it
      notify("Playing stopped", media.error ? media.error.message : "");
    }
  });
  media.addEventListener("timeupdate", follow);
  media.addEventListener("seeked", follow);
  if (at != null) media.currentTime = at;
  page.media = media;
  box.replaceChildren(media);
}

function drawDownloads() {
  const box = $("#downloads");
  const id = page.job.id;
  const translated = [...new Set(page.followups
    .filter((f) => f.kind === "translation" && f.state === "done").map((f) => f.language))];
  const input = h("input", {
    type: "text", id: "translate-language", placeholder: "de", size: 6, "aria-label": "Language code",
    autocomplete: "off",
  });
  box.replaceChildren(...[h("h2", {}, "Download"),
    h("ul", { class: "formats" }, FORMATS.map((fmt) =>
      h("li", {}, h("a", { href: `/api/jobs/${id}/transcript.${fmt}`, download: true, class: "button" }, `.${fmt}`)))),
    translated.length ? h("ul", { class: "formats", id: "translations" }, translated.flatMap((lang) =>
      ["srt", "vtt"].map((fmt) => h("li", {}, h("a", {
        href: `/api/jobs/${id}/transcript.${lang}.${fmt}`, download: true, class: "button",
      }, `.${lang}.${fmt}`))))) : null,
    h("form", {
      class: "toolbar", id: "translate-form",
      onsubmit: (e) => {
        e.preventDefault();
        translateTo(input.value);
      },
    }, h("label", { for: "translate-language" }, "Translate to…"), input,
    h("button", { type: "submit" }, "Translate"))].filter(Boolean));
  box.hidden = page.job.state !== "done";
}

function drawSpeakers() {
  const box = $("#speakers");
  const speakers = [...new Set(page.segments.map((s) => s.speaker).filter(Boolean))];
  box.hidden = !speakers.length || page.job.state !== "done";
  box.replaceChildren(h("h2", {}, "Speakers"),
    h("ul", { class: "speaker-list" }, speakers.map((sp) => h("li", {},
      h("span", { class: "speaker" }, sp),
      h("button", { type: "button", onclick: () => nameSpeaker(sp), "aria-label": `Name ${sp}` }, "Name…")))));
  const dl = $("#downloads");
  if (dl) dl.hidden = page.job.state !== "done";
}

async function nameSpeaker(speaker) {
  const dialog = $("#name-dialog");
  const form = $("#name-form");
  $("#name-speaker").textContent = speaker;
  form.reset();
  dialog.returnValue = "";
  dialog.showModal();
  $("#name-input").focus();
  const answer = await new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
  });
  const name = $("#name-input").value.trim();
  if (answer !== "save" || !name) return;
  try {
    await post(`/api/jobs/${page.id}/speakers/${encodeURIComponent(speaker)}`,
      { name, everywhere: $("#name-everywhere").checked });
    notify(`${speaker} is now ${name}`);
    for (const seg of page.segments) if (seg.speaker === speaker) seg.speaker = name;
    drawSegments();
    drawSpeakers();
  } catch (err) {
    fail(err);
  }
}

function drawSegments() {
  const list = $("#segments");
  if (!list || !page) return;
  page.starts = page.segments.map((s) => s.start);
  page.current = -1;
  if (!page.segments.length) {
    const job = page.job;
    list.replaceChildren(h("li", { class: "empty" },
      RUNNING.includes(job.state) || job.state === "queued"
        ? "The transcript appears here as it is made." : "This job has no transcript."));
    return;
  }
  list.replaceChildren(...page.segments.map((seg, i) => segmentItem(seg, i)));
  const find = $("#find");
  if (find && find.value) findText(find.value);
  if (!list.dataset.watched) {
    list.addEventListener("wheel", userScroll, { passive: true });
    list.addEventListener("touchmove", userScroll, { passive: true });
    list.dataset.watched = "1";
  }
}

// A running job's new lines, added at the end (kept in view unless the reader scrolled).
function appendSegments(fresh) {
  const list = $("#segments");
  if (!list) return;
  if (list.querySelector(".empty")) list.replaceChildren();
  const first = page.segments.length - fresh.length;
  const items = fresh.map((seg, k) => segmentItem(seg, first + k));
  list.append(...items);
  page.starts = page.segments.map((s) => s.start);
  if (Date.now() - page.userScrolled > FOLLOW_PAUSE_MS) {
    items[items.length - 1].scrollIntoView({ block: "nearest" });
  }
}

function segmentItem(seg, i) {
  const before = i > 0 ? page.segments[i - 1].speaker : null;
  const speaker = seg.speaker && seg.speaker !== before ? seg.speaker : null;
  return h("li", {
    class: "segment", dataset: { index: i, start: seg.start }, tabindex: "0",
    onclick: () => seek(i),
    onkeydown: (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        seek(i);
      }
    },
  },
  h("span", { class: "seg-time" }, clock(seg.start)),
  h("span", { class: "seg-body" },
    speaker ? h("span", { class: "speaker" }, speaker) : null,
    h("span", { class: "seg-text" }, seg.text.trim())));
}

function userScroll() {
  if (page) page.userScrolled = Date.now();
}

function seek(i) {
  const seg = page.segments[i];
  setCurrent(i, false);
  history.replaceState(history.state, "", `/jobs/${page.id}?t=${seg.start}`);
  if (page.media) {
    page.media.currentTime = seg.start;
    page.media.play().catch(() => {}); // autoplay rules may refuse; the seek stands
  }
}

// The segment playing at time t: the last one starting at or before it.
function indexAt(t) {
  const starts = page.starts;
  let lo = 0, hi = starts.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= t + 0.05) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function follow() {
  if (!page || !page.media) return;
  const i = indexAt(page.media.currentTime);
  if (i !== page.current) setCurrent(i, Date.now() - page.userScrolled > FOLLOW_PAUSE_MS);
}

function setCurrent(i, scroll) {
  const list = $("#segments");
  if (!list) return;
  const old = list.querySelector(".segment.current");
  if (old) {
    old.classList.remove("current");
    old.removeAttribute("aria-current");
  }
  page.current = i;
  const el = list.children[i];
  if (!el || i < 0) return;
  el.classList.add("current");
  el.setAttribute("aria-current", "true");
  if (scroll) el.scrollIntoView({ block: "center", behavior: "smooth" });
}

function findText(text) {
  const list = $("#segments");
  const q = text.trim().toLowerCase();
  page.found = [];
  page.foundAt = -1;
  for (const el of list.querySelectorAll(".segment")) {
    const seg = page.segments[Number(el.dataset.index)];
    const textEl = el.querySelector(".seg-text");
    const plain = seg.text.trim();
    if (q && plain.toLowerCase().includes(q)) {
      page.found.push(el);
      textEl.replaceChildren(...markAll(plain, q));
      el.classList.add("found");
    } else if (el.classList.contains("found")) {
      textEl.textContent = plain;
      el.classList.remove("found");
    }
  }
  $("#find-count").textContent = q ? (page.found.length ? `${page.found.length} found` : "not found") : "";
  if (page.found.length) stepFound(1);
}

function markAll(text, q) {
  const out = [];
  const lower = text.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(q); i >= 0; i = lower.indexOf(q, at)) {
    out.push(text.slice(at, i), h("mark", {}, text.slice(i, i + q.length)));
    at = i + q.length;
  }
  out.push(text.slice(at));
  return out;
}

function stepFound(step) {
  if (!page.found.length) return;
  page.foundAt = (page.foundAt + step + page.found.length) % page.found.length;
  for (const el of page.found) el.classList.remove("found-current");
  const el = page.found[page.foundAt];
  el.classList.add("found-current");
  el.scrollIntoView({ block: "center" });
  page.userScrolled = Date.now();
  $("#find-count").textContent = `${page.foundAt + 1} of ${page.found.length}`;
}
