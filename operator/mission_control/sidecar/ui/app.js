// Mission Control's read-only web view: hash routes #/runs, #/runs/NS/NAME and #/usage.

import { AuthError, forgetToken, getJson, setToken, token } from "./api.js";
import { usageView } from "./usage.js";
import { runView, runsView } from "./views.js";

const view = document.getElementById("view");
const tokenPanel = document.getElementById("token-panel");
const tokenInput = document.getElementById("token-input");
const tokenError = document.getElementById("token-error");
const signOut = document.getElementById("sign-out");
const liveState = document.getElementById("live-state");

let stop = () => {};

const LIVE_TEXT = { live: "● live", reconnecting: "reconnecting…", ended: "run ended" };

function setLive(state) {
  liveState.textContent = LIVE_TEXT[state] ?? "";
  liveState.dataset.state = state;
}

function askForToken(message = "") {
  stop();
  stop = () => {};
  view.replaceChildren();
  tokenPanel.hidden = false;
  signOut.hidden = true;
  tokenError.textContent = message;
  tokenInput.focus();
}

// True when the error was a refused token (the panel is shown instead of the view).
function onAuthError(error) {
  if (!(error instanceof AuthError)) return false;
  forgetToken();
  askForToken("The sidecar refused that token: " + error.message);
  return true;
}

async function saveToken() {
  const value = tokenInput.value.trim();
  if (!value) {
    tokenError.textContent = "Paste a token first.";
    return;
  }
  setToken(value);
  tokenInput.value = "";
  try {
    await getJson("task-runs", { limit: 1 });
  } catch (error) {
    if (onAuthError(error)) return;
  }
  render();
}

function parseRoute() {
  const hash = location.hash.replace(/^#/, "") || "/runs";
  const [path, search = ""] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(search) };
}

// rerender false: only the address changes (a filter was applied in place).
function navigate(hash, { replace = false, rerender = true } = {}) {
  if (!rerender) {
    history[replace ? "replaceState" : "pushState"](null, "", hash);
    return;
  }
  location.hash = hash;
}

function render() {
  stop();
  stop = () => {};
  setLive("");
  if (!token()) {
    askForToken();
    return;
  }
  tokenPanel.hidden = true;
  signOut.hidden = false;
  view.replaceChildren();
  const { parts, query } = parseRoute();
  const context = { query, navigate, onAuthError, setLive };
  let section = "runs";
  if (parts[0] === "runs" && parts.length === 3) {
    document.title = `${parts[1]}/${parts[2]} · Mission Control`;
    stop = runView(view, { ...context, namespace: parts[1], name: parts[2] });
  } else if (parts[0] === "usage") {
    section = "usage";
    document.title = "Usage · Mission Control";
    stop = usageView(view, context);
  } else {
    document.title = "Runs · Mission Control";
    stop = runsView(view, context);
  }
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

document.getElementById("token-save").addEventListener("click", saveToken);
tokenInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter") saveToken();
});
signOut.addEventListener("click", () => {
  forgetToken();
  askForToken();
});
window.addEventListener("hashchange", render);
render();
