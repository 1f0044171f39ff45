// The daemon's HTTP API (docs/http.md), as the page calls it. Every error comes back as an
// ApiError with the daemon's own message and hint; a 401 also tells the page to show the login
// message (the token cookie is missing or stale), whoever asked.

export class ApiError extends Error {
  constructor(status, code, message, hint = "") {
    super(message);
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
}

const listeners = { unauthorized: [] };

export function onUnauthorized(fn) {
  listeners.unauthorized.push(fn);
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: a proxy's page, or the daemon going away mid-answer
  }
  const err = body && body.error ? body.error : {};
  if (response.status === 401) for (const fn of listeners.unauthorized) fn();
  return new ApiError(
    response.status,
    err.code || `http ${response.status}`,
    err.message || `the daemon answered ${response.status} ${response.statusText}`,
    err.hint || "",
  );
}

export async function call(method, path, body) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new ApiError(0, "offline", "earwig is not answering", "is the daemon running?");
  }
  if (!response.ok) throw await failure(response);
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);
export const del = (path) => call("DELETE", path);

export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value == null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) q.append(key, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

// POST /api/jobs as multipart, one `file` part per file, reporting (sent, total) as it goes:
// XMLHttpRequest, because fetch has no upload progress in Firefox.
export function upload(files, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const file of files) form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/jobs");
    xhr.responseType = "json";
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      if (xhr.status === 401) for (const fn of listeners.unauthorized) fn();
      const err = (body && body.error) || {};
      reject(new ApiError(xhr.status, err.code || `http ${xhr.status}`,
        err.message || `the upload was refused (${xhr.status})`, err.hint || ""));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, "offline", "the upload broke off", "is the daemon running?")));
    xhr.send(form);
  });
}
