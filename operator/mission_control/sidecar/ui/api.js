// Talking to the sidecar's API: the bearer token, JSON reads and the event stream.
// The token lives in sessionStorage and only ever travels in the Authorization header.

const TOKEN_KEY = "mission-control.token";

export class AuthError extends Error {}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// The API sits beside /ui/ (relative, so a proxy that mounts the sidecar under a prefix works).
export function apiUrl(path, params = {}) {
  const url = new URL("../api/v1/" + path, document.baseURI);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  return url;
}

function headers(extra = {}) {
  const found = token();
  return found ? { Authorization: "Bearer " + found, ...extra } : { ...extra };
}

async function failure(response) {
  let message = response.statusText;
  try {
    message = (await response.json()).message || message;
  } catch {
    // not JSON: keep the status text
  }
  if (response.status === 401) return new AuthError(message);
  return new Error(`${response.status}: ${message}`);
}

export async function getJson(path, params = {}, { signal } = {}) {
  const response = await fetch(apiUrl(path, params), {
    headers: headers({ Accept: "application/json" }),
    cache: "no-store",
    signal,
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

export function runPath(namespace, name) {
  return `task-runs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}

// Server-Sent Events read with fetch: EventSource cannot send an Authorization header.
class SseParser {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.pending = "";
    this.reset();
  }

  reset() {
    this.data = [];
    this.id = null;
    this.event = "";
    this.retry = null;
  }

  feed(text) {
    this.pending += text;
    const lines = /\r\n|\r|\n/g;
    let start = 0;
    let match;
    while ((match = lines.exec(this.pending)) !== null) {
      // A lone CR at the end may be the first half of CRLF: wait for the next chunk.
      if (match[0] === "\r" && match.index === this.pending.length - 1) break;
      this.line(this.pending.slice(start, match.index));
      start = lines.lastIndex;
    }
    this.pending = this.pending.slice(start);
  }

  line(line) {
    if (line === "") {
      if (this.data.length || this.retry !== null) {
        this.onMessage({ id: this.id, event: this.event, data: this.data.join("\n"), retry: this.retry });
      }
      this.reset();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "id") this.id = value;
    else if (field === "event") this.event = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

// Follows a run's journal after seq `after` until run.finished or `signal` aborts, resuming
// with Last-Event-ID after a dropped connection. onState gets "live", "reconnecting", "ended".
export async function followEvents(namespace, name, { after, onEvent, onState, signal }) {
  let last = after;
  let delay = 2000;
  let failures = 0;
  while (!signal.aborted) {
    let finished = false;
    try {
      const extra = { Accept: "text/event-stream" };
      if (last > 0) extra["Last-Event-ID"] = String(last);
      const response = await fetch(apiUrl(runPath(namespace, name) + "/events/stream"), {
        headers: headers(extra),
        cache: "no-store",
        signal,
      });
      if (!response.ok) throw await failure(response);
      onState("live");
      const parser = new SseParser((message) => {
        if (message.retry !== null) delay = message.retry;
        if (!message.data) return;
        const event = JSON.parse(message.data);
        if (event.seq <= last) return;
        last = event.seq;
        failures = 0;
        onEvent(event);
        if (event.type === "run.finished") finished = true;
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      while (!finished) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
      if (finished) await reader.cancel();
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof AuthError) throw error;
      failures += 1;
    }
    if (finished) {
      onState("ended");
      return;
    }
    onState("reconnecting");
    await pause(Math.min(delay * Math.max(failures, 1), 15000), signal);
  }
}
