// The page's entry: which view the address asks for (/ with #queue, #add, #search or #status;
// /jobs/ID for a transcript), the login message when the daemon answers 401, the banner while
// the daemon is away, and the queue's pause in the header. Links marked data-link move within
// the page (history.pushState) instead of loading it again.

import { state, on } from "./state.js";
import { get, post, onUnauthorized } from "./api.js";
import { connect, setStatus } from "./live.js";
import { $, h } from "./format.js";
import { mountQueue } from "./queue.js";
import { mountAdd } from "./add.js";
import { mountSearch, focusSearch } from "./search.js";
import { mountStatus, showStatus } from "./status.js";
import { openJob, closeJob } from "./job.js";
import { fail, notify } from "./ui.js";

const TABS = ["queue", "add", "search", "status"];
let mounted = false;

function route() {
  if (state.loggedIn === false) return;
  const match = location.pathname.match(/^\/jobs\/(\d+)\/?$/);
  const tab = match ? null : TABS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "queue";
  for (const name of TABS) {
    $(`#view-${name}`).hidden = name !== tab;
    const link = $(`.tabs a[data-tab="${name}"]`);
    if (name === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  $("#view-job").hidden = !match;
  showStatus(tab === "status");
  if (match) {
    const at = new URLSearchParams(location.search).get("t");
    openJob($("#view-job"), Number(match[1]), at != null ? Number(at) : null);
  } else {
    closeJob();
    document.title = "earwig";
    if (tab === "search") focusSearch();
  }
}

function showLogin() {
  state.loggedIn = false;
  document.body.dataset.login = "needed";
  for (const el of document.querySelectorAll("main > section")) el.hidden = el.id !== "login";
  $("#banner").hidden = true;
  $("#queue-toggle").hidden = true;
  $(".tabs").hidden = true;
}

function updateQueueButton() {
  const button = $("#queue-toggle");
  button.textContent = state.queuePaused ? "Resume queue" : "Pause queue";
  button.setAttribute("aria-pressed", String(state.queuePaused));
  $("#queue-paused").hidden = !state.queuePaused;
}

function updateBanner({ connected, since }) {
  const banner = $("#banner");
  document.body.dataset.connected = connected ? "yes" : "no";
  if (state.loggedIn === false) return;
  if (connected) {
    if (!banner.hidden) notify("Connected to earwig again.");
    banner.hidden = true;
    return;
  }
  const when = since ? new Date(since).toLocaleTimeString() : "";
  banner.replaceChildren(h("strong", {}, "earwig is not answering"),
    ` (since ${when}). Reconnecting by itself; what is shown may be out of date.`);
  banner.hidden = false;
}

// A login link whose token was refused (web/guard.py sends the browser here): say so in the
// login card, and take the word out of the address bar.
function loginRefused() {
  const params = new URLSearchParams(location.search);
  if (params.get("login") !== "refused") return;
  $("#login-refused").hidden = false;
  history.replaceState({}, "", "/" + location.hash);
  notify("That login link is not this daemon's.", "`earwig web` opens a fresh one.");
}

function start() {
  onUnauthorized(showLogin);
  loginRefused();
  if (!mounted) {
    mountQueue($("#view-queue"));
    mountAdd($("#view-add"));
    mountSearch($("#view-search"));
    mountStatus($("#view-status"));
    mounted = true;
  }
  document.addEventListener("click", (e) => {
    const link = e.target.closest("a[data-link]");
    if (!link || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    if (link.href !== location.href) history.pushState({}, "", link.href);
    route();
    window.scrollTo(0, 0);
  });
  window.addEventListener("popstate", route);
  window.addEventListener("hashchange", route);
  $("#queue-toggle").addEventListener("click", async () => {
    try {
      await post(state.queuePaused ? "/api/queue/resume" : "/api/queue/pause");
    } catch (err) {
      fail(err);
    }
  });
  on("queue", updateQueueButton);
  on("connection", updateBanner);
  route();
  connect();
  get("/api/status").then(setStatus).catch(() => {}); // a 401 shows the login message
}

start();
