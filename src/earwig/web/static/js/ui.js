// Pieces every view shares: the yes/no question (a <dialog>, so Escape and the back gesture
// answer no), short notices, and the steering requests with the dashboard's questions.

import { h, $, RUNNING, percent } from "./format.js";
import { post, del } from "./api.js";

// Ask `question`; resolves true only when Yes is chosen.
export function confirm(question, detail = "", yes = "Yes") {
  const dialog = $("#confirm");
  $("#confirm-question").textContent = question;
  $("#confirm-detail").textContent = detail;
  $("#confirm-yes").textContent = yes;
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener("close", done);
      resolve(dialog.returnValue === "yes");
    };
    dialog.returnValue = "";
    dialog.addEventListener("close", done);
    dialog.showModal();
    $("#confirm-no").focus();
  });
}

export function notify(message, hint = "", kind = "info") {
  const box = $("#toasts");
  const toast = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("div", { class: "toast-message" }, message),
    hint ? h("div", { class: "toast-hint" }, hint) : null);
  box.append(toast);
  setTimeout(() => toast.remove(), kind === "error" ? 8000 : 3500);
}

export function fail(err) {
  notify(err.message || String(err), err.hint || "", "error");
}

const DONE = {
  pause: "paused", resume: "resumed", cancel: "cancelled", retry: "queued again",
  prioritize: "moved to the top", delete: "deleted (its transcript files stay)",
};

// One steering action on a job, asking first where the dashboard asks (and wherever running
// work would be lost): pausing or cancelling a running job, transcribing a done one again,
// deleting one. Resolves true when the daemon took it.
export async function steer(action, job) {
  const name = `#${job.id} ${job.title}`;
  const running = RUNNING.includes(job.state);
  if (action === "pause" && running && percent(job)) {
    const ok = await confirm(`Pause ${name}?`,
      `It is ${job.state} (${percent(job)}). A pause keeps every finished window of the ` +
      "file (up to ten minutes of audio each): resumed, it goes on from there, and the part " +
      "under way is transcribed again.", "Pause");
    if (!ok) return false;
  }
  if (action === "cancel" && running) {
    const ok = await confirm(`Cancel ${name}?`,
      `It is ${job.state}${percent(job) ? ` (${percent(job)})` : ""}; what it has done so far ` +
      "is lost.", "Cancel the job");
    if (!ok) return false;
  }
  if (action === "retry" && job.state === "done") {
    const ok = await confirm(`Transcribe ${name} again?`,
      "Its transcript, files and search hits are replaced by the new one.", "Transcribe again");
    if (!ok) return false;
  }
  if (action === "delete") {
    const ok = await confirm(`Delete ${name}?`,
      "Its history and search hits go; its transcript files stay on disk.", "Delete");
    if (!ok) return false;
  }
  try {
    if (action === "delete") await del(`/api/jobs/${job.id}`);
    else await post(`/api/jobs/${job.id}/${action}`);
  } catch (err) {
    fail(err);
    return false;
  }
  notify(`${name}: ${DONE[action]}`);
  return true;
}

// Which actions a job in this state offers, in the order the buttons appear.
export function actionsFor(job) {
  switch (job.state) {
    case "queued": return ["prioritize", "pause", "cancel"];
    case "paused": return ["resume", "prioritize", "cancel"];
    case "downloading": case "fetching": case "transcribing": return ["pause", "cancel"];
    case "failed": case "cancelled": return ["retry", "delete"];
    case "done": return ["retry", "delete"];
    default: return [];
  }
}

export const ACTION_LABELS = {
  pause: "Pause", resume: "Resume", cancel: "Cancel", retry: "Retry", prioritize: "To top",
  delete: "Delete",
};
