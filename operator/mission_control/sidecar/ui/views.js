// The runs list and one run (token usage is in usage.js). Each view returns a function that
// stops its polling or stream when the route changes.

import { followEvents, getJson, runPath } from "./api.js";
import { badge, clock, el, json, timelineEntry } from "./timeline.js";

//: Seconds between refreshes of the runs list and a run's totals.
export const POLL_SECONDS = 3;

const REASONS = [
  "Pending", "Queued", "Started", "Running", "AwaitingApproval", "WaitingForJournal",
  "Succeeded", "Failed", "Cancelled", "TimedOut", "LimitExceeded", "ApprovalTimedOut",
  "ProviderError", "InvalidTask", "InvalidParams", "Interrupted",
];

// Colours as kubectl users read them: green done, red failed, amber waiting on a person,
// blue running, grey not started.
const FAILED = new Set([
  "Failed", "Cancelled", "TimedOut", "LimitExceeded", "ApprovalTimedOut", "ProviderError",
  "InvalidTask", "InvalidParams", "Interrupted",
]);

export function reasonTone(run) {
  if (run.reason === "Succeeded" || run.succeeded === "True") return "ok";
  if (FAILED.has(run.reason) || run.succeeded === "False") return "bad";
  if (run.reason === "AwaitingApproval") return "warn";
  if (run.reason === "Pending" || run.reason === "Queued" || !run.reason) return "quiet";
  return "info";
}

function reasonBadge(run) {
  return badge(run.reason || "Pending", reasonTone(run));
}

export function money(value) {
  const number = Number(value ?? 0);
  if (number === 0) return "$0";
  // Cents for dollars; below a dollar up to four decimals, since runs often cost fractions
  // of a cent.
  if (Math.abs(number) >= 1) return "$" + number.toFixed(2);
  return "$" + number.toFixed(4).replace(/(\.\d{2}\d*?)0+$/, "$1");
}

export function count(value) {
  return Number(value ?? 0).toLocaleString("en-US");
}

function age(stamp) {
  const seconds = Math.max(0, (Date.now() - new Date(stamp).getTime()) / 1000);
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

export function heading(text, level = 1) {
  return el("h" + level, "", text);
}

export function field(labelText, control) {
  const id = "f-" + labelText.toLowerCase().replace(/\W+/g, "-");
  control.id = id;
  const wrap = el("div", "field");
  const label = el("label", "", labelText);
  label.htmlFor = id;
  wrap.append(label, control);
  return wrap;
}

export function errorBox(error) {
  return el("p", "error", error.message || String(error));
}

// Repeats `work` every POLL_SECONDS until stopped; errors are shown by `work` itself.
function poll(work, onError) {
  let stopped = false;
  let timer = null;
  const loop = async () => {
    try {
      await work();
    } catch (error) {
      if (!stopped) onError(error);
    }
    if (!stopped) timer = setTimeout(loop, POLL_SECONDS * 1000);
  };
  loop();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// -- runs list -----------------------------------------------------------------------------

export function runsView(view, { query, navigate, onAuthError }) {
  view.append(heading("Task runs"));
  const filters = el("div", "filters");
  const namespace = el("input");
  namespace.type = "text";
  namespace.placeholder = "all namespaces";
  namespace.value = query.get("namespace") ?? "";
  namespace.setAttribute("list", "namespaces");
  const known = el("datalist");
  known.id = "namespaces";
  const reason = el("select");
  reason.append(new Option("any reason", ""));
  for (const value of REASONS) reason.append(new Option(value, value));
  reason.value = query.get("reason") ?? "";
  filters.append(field("Namespace", namespace), known, field("Reason", reason));
  const updated = el("p", "dim updated", "");
  updated.setAttribute("aria-live", "off");
  filters.append(updated);
  view.append(filters);

  const table = el("table", "runs");
  const caption = el("caption", "visually-hidden", "Task runs, newest first");
  const head = el("thead");
  const headRow = el("tr");
  for (const name of ["Namespace", "Name", "Task", "Reason", "Steps", "Tokens", "Cost", "Age"]) {
    const th = el("th", ["Steps", "Tokens", "Cost", "Age"].includes(name) ? "num" : "", name);
    th.scope = "col";
    headRow.append(th);
  }
  head.append(headRow);
  const body = el("tbody");
  table.append(caption, head, body);
  view.append(table);
  const problem = el("div", "");
  view.append(problem);
  const namespaces = new Set();

  const refresh = async () => {
    const page = await getJson("task-runs", { namespace: namespace.value.trim(), reason: reason.value, limit: 100 });
    problem.replaceChildren();
    const rows = page.items.map((run) => {
      if (!namespaces.has(run.namespace)) {
        namespaces.add(run.namespace);
        known.append(new Option(run.namespace));
      }
      const row = el("tr");
      row.dataset.run = `${run.namespace}/${run.name}`;
      const link = el("a", "", run.name);
      link.href = `#/runs/${encodeURIComponent(run.namespace)}/${encodeURIComponent(run.name)}`;
      const nameCell = el("td");
      nameCell.append(link);
      const reasonCell = el("td");
      reasonCell.append(reasonBadge(run));
      row.append(
        el("td", "", run.namespace), nameCell, el("td", "", run.task), reasonCell,
        el("td", "num", count(run.steps)), el("td", "num", count(run.total_tokens)),
        el("td", "num", money(run.cost_usd)), el("td", "num", age(run.created_at)),
      );
      row.lastChild.title = new Date(run.created_at).toLocaleString();
      return row;
    });
    if (!rows.length) {
      const empty = el("tr");
      const cell = el("td", "empty", "No runs match these filters.");
      cell.colSpan = 8;
      empty.append(cell);
      rows.push(empty);
    }
    body.replaceChildren(...rows);
    updated.textContent = `updated ${clock(new Date())} · every ${POLL_SECONDS}s`;
  };

  const onFilter = () => {
    const params = new URLSearchParams();
    if (namespace.value.trim()) params.set("namespace", namespace.value.trim());
    if (reason.value) params.set("reason", reason.value);
    const suffix = params.toString();
    navigate("#/runs" + (suffix ? "?" + suffix : ""), { replace: true, rerender: false });
    refresh().catch(onError);
  };
  const onError = (error) => {
    if (onAuthError(error)) return;
    problem.replaceChildren(errorBox(error));
  };
  namespace.addEventListener("change", onFilter);
  reason.addEventListener("change", onFilter);
  return poll(refresh, onError);
}

// -- one run -------------------------------------------------------------------------------

function copyButton(command) {
  const button = el("button", "small", "Copy");
  button.type = "button";
  button.setAttribute("aria-label", `Copy: ${command}`);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(command);
      button.textContent = "Copied";
    } catch {
      // No clipboard (a page served over plain HTTP to another host): select it instead.
      const range = document.createRange();
      range.selectNodeContents(button.previousSibling);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      button.textContent = "Selected";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
  return button;
}

function commandLine(command) {
  const line = el("div", "command");
  line.append(el("code", "", command), copyButton(command));
  return line;
}

function pendingPanel(run, request) {
  const p = request.payload ?? {};
  const panel = el("section", "pending");
  panel.setAttribute("aria-labelledby", "pending-title");
  const title = el("h2", "", `Waiting for approval: ${p.tool ?? "?"}`);
  title.id = "pending-title";
  panel.append(title);
  const facts = el("p", "");
  facts.append(badge(`risk ${p.risk ?? "?"}`, p.risk === "DESTRUCTIVE" ? "bad" : "warn"), document.createTextNode(` tool call ${p.toolCallId ?? "?"}`));
  panel.append(facts);
  if (p.reason) panel.append(el("p", "dim", p.reason));
  panel.append(el("h3", "", "Exact arguments"));
  panel.append(el("pre", "arguments", json(p.arguments)));
  if (p.argsDigest) panel.append(el("p", "dim mono", `argsDigest ${p.argsDigest}`));
  panel.append(el("h3", "", "Decide with kubectl"));
  const id = p.toolCallId ?? "ID";
  panel.append(
    commandLine(`kubectl mc approve ${run.name} -n ${run.namespace} --tool-call ${id}`),
    commandLine(`kubectl mc reject ${run.name} -n ${run.namespace} --tool-call ${id} -m "why"`),
  );
  panel.append(el("p", "dim", "This view never approves: the decision is a Kubernetes object, and the API server checks who makes it."));
  return panel;
}

// The stored row gets a run's counters when it ends; while it runs, the journal the page has
// read is newer, so the larger of the two is shown.
function liveTotals(run, seen) {
  return {
    ...run,
    steps: Math.max(run.steps, seen.steps),
    tool_calls: Math.max(run.tool_calls, seen.toolCalls),
    prompt_tokens: Math.max(run.prompt_tokens, seen.prompt),
    completion_tokens: Math.max(run.completion_tokens, seen.completion),
    cost_usd: Math.max(Number(run.cost_usd), seen.cost),
  };
}

function countEvent(seen, event) {
  const p = event.payload ?? {};
  if (event.type === "llm.response") {
    seen.steps += 1;
    seen.prompt += Number(p.promptTokens ?? 0);
    seen.completion += Number(p.completionTokens ?? 0);
    seen.cost += Number(p.costUSD ?? 0);
  } else if (event.type === "tool.decision") {
    seen.toolCalls += 1;
  }
}

function totals(run) {
  const list = el("dl", "totals");
  const add = (term, value) => {
    const pair = el("div", "");
    pair.append(el("dt", "", term), el("dd", "", value));
    list.append(pair);
  };
  add("Task", run.task);
  add("Model", `${run.provider || "?"} ${run.model || ""}`.trim());
  add("Steps", count(run.steps));
  add("Tool calls", count(run.tool_calls));
  add("Tokens", `${count(run.prompt_tokens)} + ${count(run.completion_tokens)}`);
  add("Cost", money(run.cost_usd));
  add("Created", new Date(run.created_at).toLocaleString());
  if (run.completion_time) add("Completed", new Date(run.completion_time).toLocaleString());
  return list;
}

export function runView(view, { namespace, name, onAuthError, setLive }) {
  const header = el("div", "run-head");
  const back = el("a", "back", "← All runs");
  back.href = "#/runs";
  const title = heading(`${namespace}/${name}`);
  const state = el("span", "");
  header.append(back, title, state);
  const message = el("p", "dim run-message");
  const summary = el("div", "");
  const pending = el("div", "");
  pending.id = "pending";
  const timelineTitle = heading("Timeline", 2);
  const timeline = el("ol", "timeline");
  timeline.setAttribute("aria-label", "Journal events, oldest first");
  const problem = el("div", "");
  view.append(header, message, summary, pending, problem, timelineTitle, timeline);

  let run = null;
  const seen = { steps: 0, toolCalls: 0, prompt: 0, completion: 0, cost: 0 };
  const requests = new Map();
  const decided = new Set();
  let finished = false;

  let shown = "";
  const showPending = () => {
    const open = finished || !run ? [] : [...requests.values()].filter((event) => !decided.has(event.payload?.toolCallId));
    // Rebuilt only when the held calls change, so a poll does not reset what the user selected.
    const key = open.map((event) => event.seq).join(",");
    if (key === shown) return;
    shown = key;
    pending.replaceChildren(...open.map((event) => pendingPanel(run, event)));
  };
  const loadRun = async () => {
    run = await getJson(runPath(namespace, name));
    state.replaceChildren(reasonBadge(run));
    message.textContent = run.message || "";
    showTotals();
    showPending();
  };
  const showTotals = () => {
    if (run) summary.replaceChildren(totals(liveTotals(run, seen)));
  };
  const onError = (error) => {
    if (onAuthError(error)) return;
    problem.replaceChildren(errorBox(error));
  };

  const controller = new AbortController();
  let stopPolling = () => {};
  loadRun()
    .then(() => {
      stopPolling = poll(loadRun, onError);
      return followEvents(namespace, name, {
        after: 0,
        signal: controller.signal,
        onState: setLive,
        onEvent: (event) => {
          timeline.append(timelineEntry(event));
          countEvent(seen, event);
          showTotals();
          const id = event.payload?.toolCallId;
          if (event.type === "approval.requested") requests.set(id, event);
          if (event.type === "approval.decided") decided.add(id);
          if (event.type === "run.finished") finished = true;
          showPending();
        },
      });
    })
    .catch(onError);
  return () => {
    controller.abort();
    stopPolling();
    setLive("");
  };
}
