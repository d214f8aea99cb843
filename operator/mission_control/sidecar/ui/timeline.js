// One journal event as a timeline entry. Everything from the model or a tool is set with
// textContent (or the safe Markdown subset), never parsed as HTML.

import { renderMarkdown } from "./markdown.js";

//: Lines of a tool's output shown before "Show all".
export const RESULT_LINES = 6;

export function el(tag, className, content) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (content !== undefined && content !== null) node.textContent = String(content);
  return node;
}

export function badge(value, kind) {
  return el("span", `badge ${kind}`, value);
}

export function json(value) {
  return typeof value === "string" ? value : JSON.stringify(value ?? {}, null, 2);
}

function oneLine(value) {
  const textValue = JSON.stringify(value ?? {});
  return textValue.length > 160 ? textValue.slice(0, 159) + "…" : textValue;
}

export function clock(stamp) {
  const date = new Date(stamp);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour12: false });
}

const VERDICT = { Allow: "ok", Deny: "bad", RequireApproval: "warn" };
const RISK = { READ_ONLY: "quiet", SAFE_MUTATE: "warn", DESTRUCTIVE: "bad" };

// Output collapsed to a few lines with a button that shows the rest.
export function collapsible(content) {
  const textValue = json(content);
  const lines = textValue.split("\n");
  const box = el("div", "output");
  const pre = el("pre");
  box.append(pre);
  if (lines.length <= RESULT_LINES) {
    pre.textContent = textValue;
    return box;
  }
  const short = lines.slice(0, RESULT_LINES).join("\n");
  pre.textContent = short;
  const toggle = el("button", "quiet small", `Show all ${lines.length} lines`);
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", "false");
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") === "true";
    pre.textContent = open ? short : textValue;
    toggle.textContent = open ? `Show all ${lines.length} lines` : "Show less";
    toggle.setAttribute("aria-expanded", String(!open));
  });
  box.append(toggle);
  return box;
}

function callLine(tool, args) {
  const line = el("div", "call");
  line.append(el("span", "tool", tool ?? "?"), el("span", "args", `(${oneLine(args)})`));
  return line;
}

function resultOutput(p) {
  if (p.output !== undefined && p.output !== null) return p.output;
  const contents = (p.messages ?? []).map((m) => m.content).filter(Boolean);
  return contents.length ? contents.join("\n") : "";
}

function who(p) {
  const approved = (p.approvedBy ?? []).join(", ");
  return approved || p.rejectedBy || "nobody";
}

// {title, tone, body: [nodes]} for an event.
function describe(event) {
  const p = event.payload ?? {};
  switch (event.type) {
    case "run.started":
      return { title: "Run started", tone: "info", body: p.identity ? [el("p", "dim", `acting as ${p.identity}`)] : [] };
    case "run.resumed":
      return { title: `Resumed after step ${p.step ?? "?"}`, tone: "info", body: [] };
    case "run.nudge":
      return { title: `Step ${p.step}: empty answer, asked again`, tone: "warn", body: [] };
    case "llm.request":
      return { title: `Step ${p.step}: asking ${p.provider ?? "the model"} ${p.model ?? ""}`.trim(), tone: "dim", body: [] };
    case "llm.response": {
      const body = [];
      for (const message of p.messages ?? []) {
        if (message.content) body.push(renderMarkdown(message.content));
        for (const call of message.tool_calls ?? []) body.push(callLine(call.name, call.arguments));
      }
      const tokens = `${p.promptTokens ?? 0}+${p.completionTokens ?? 0} tokens · $${p.costUSD ?? "0"}`;
      return { title: `Model turn, step ${p.step}`, tone: "model", meta: `${p.finishReason ?? ""} · ${tokens}`, body };
    }
    case "llm.error":
      return { title: "Model failed", tone: "bad", body: [el("pre", "", json(p.error))] };
    case "tool.decision": {
      const verdict = String(p.verdict ?? "?");
      const body = [callLine(p.tool, p.arguments)];
      const line = el("div", "chips");
      line.append(badge(`risk ${p.risk ?? "?"}`, RISK[p.risk] ?? "quiet"), badge(verdict, VERDICT[verdict] ?? "quiet"));
      body.push(line);
      if (p.reason) body.push(el("p", "dim", p.reason));
      return { title: `Tool call: ${p.tool ?? "?"}`, tone: VERDICT[verdict] ?? "info", body };
    }
    case "tool.refused":
      return { title: `Step ${p.step}: ${p.refused} calls refused (limit ${p.limit})`, tone: "bad", body: [] };
    case "tool.started":
      return { title: `Running ${p.tool ?? "?"}`, tone: "dim", body: [el("p", "dim", `as ${p.identity || "the operator"}`)] };
    case "tool.result": {
      const status = String(p.status ?? "?");
      return {
        title: `Result of ${p.tool ?? "?"}`,
        tone: status === "completed" ? "ok" : "bad",
        meta: status,
        body: [collapsible(resultOutput(p))],
      };
    }
    case "approval.requested": {
      const body = [callLine(p.tool, p.arguments)];
      if (p.reason) body.push(el("p", "dim", p.reason));
      return { title: `Held for approval: ${p.tool ?? "?"}`, tone: "warn", meta: `risk ${p.risk ?? "?"}`, body };
    }
    case "approval.decided": {
      const state = String(p.state ?? "?");
      const body = [el("p", "", `${state} by ${who(p)} at ${clock(event.created_at)}`)];
      if (p.message) body.push(el("p", "dim", p.message));
      return { title: `${state}: ${p.tool ?? "tool call"}`, tone: state === "Approved" ? "ok" : "bad", body };
    }
    case "run.finished": {
      const reason = String(p.reason ?? "?");
      const body = [];
      if (p.message) body.push(el("p", "dim", p.message));
      if (p.summary) {
        const answer = el("section", "answer");
        answer.append(el("h3", "", "Final answer"), renderMarkdown(p.summary));
        body.push(answer);
      }
      return { title: `Finished: ${reason}`, tone: reason === "Succeeded" ? "ok" : "bad", body };
    }
    default: {
      const rest = Object.fromEntries(Object.entries(p).filter(([key]) => key !== "messages"));
      return { title: event.type, tone: "dim", body: [el("pre", "", oneLine(rest))] };
    }
  }
}

export function timelineEntry(event) {
  const shown = describe(event);
  const item = el("li", `event tone-${shown.tone}`);
  item.dataset.seq = String(event.seq);
  item.dataset.type = event.type;
  const head = el("div", "event-head");
  head.append(el("span", "seq", `#${event.seq}`), el("h3", "event-title", shown.title));
  if (shown.meta) head.append(el("span", "meta", shown.meta));
  const time = el("time", "when", clock(event.created_at));
  time.dateTime = event.created_at;
  head.append(time);
  item.append(head, ...shown.body);
  return item;
}
