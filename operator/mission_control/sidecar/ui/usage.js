// The token usage view: cost per UTC day, per model and per namespace, each as an SVG chart
// with a table of the same numbers.

import { getJson } from "./api.js";
import { barChart, columnChart } from "./charts.js";
import { el } from "./timeline.js";
import { count, errorBox, field, heading, money } from "./views.js";

function dataTable(caption, columns, rows) {
  const table = el("table", "numbers");
  table.append(el("caption", "", caption));
  const head = el("tr");
  for (const column of columns) {
    const th = el("th", column.num ? "num" : "", column.title);
    th.scope = "col";
    head.append(th);
  }
  const thead = el("thead");
  thead.append(head);
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr");
    for (const column of columns) tr.append(el("td", column.num ? "num" : "", column.value(row)));
    body.append(tr);
  }
  table.append(thead, body);
  return table;
}

function panel(title, chart, table) {
  const section = el("section", "usage-panel");
  const id = "u-" + title.toLowerCase().replace(/\W+/g, "-");
  section.setAttribute("aria-labelledby", id);
  const h = heading(title, 2);
  h.id = id;
  const body = el("div", "usage-body");
  const figure = el("figure", "");
  figure.append(chart);
  body.append(figure, table);
  section.append(h, body);
  return section;
}

function sumBy(items, key) {
  const sums = new Map();
  for (const item of items) {
    const k = key(item);
    const found = sums.get(k) ?? { cost: 0, tokens: 0, requests: 0 };
    found.cost += Number(item.cost_usd);
    found.tokens += Number(item.total_tokens);
    found.requests += Number(item.requests);
    sums.set(k, found);
  }
  return sums;
}

export function usageView(view, { query, navigate, onAuthError }) {
  view.append(heading("Token usage"));
  const days = el("select");
  for (const n of [7, 30, 90]) days.append(new Option(`last ${n} days`, String(n)));
  days.value = ["7", "30", "90"].includes(query.get("days")) ? query.get("days") : "30";
  const controls = el("div", "filters");
  const total = el("p", "total");
  controls.append(field("Period", days), total);
  const body = el("div", "");
  view.append(controls, body);

  const load = async () => {
    const count_ = Number(days.value);
    const start = new Date();
    start.setUTCHours(0, 0, 0, 0);
    start.setUTCDate(start.getUTCDate() - (count_ - 1));
    const from = start.toISOString();
    const [byDay, byNamespace] = await Promise.all([
      getJson("usage/tokens", { from }),
      getJson("usage/namespaces", { from }),
    ]);
    total.textContent = `${money(byDay.cost_usd)} · ${count(byDay.total_tokens)} tokens`;
    const perDay = sumBy(byDay.items, (item) => item.day);
    const dayRows = [];
    for (let i = 0; i < count_; i += 1) {
      const day = new Date(start.getTime() + i * 86400000).toISOString().slice(0, 10);
      const found = perDay.get(day) ?? { cost: 0, tokens: 0, requests: 0 };
      dayRows.push({ label: day, short: day.slice(5), value: found.cost, ...found });
    }
    const perModel = [...sumBy(byDay.items, (item) => `${item.provider}/${item.model}`)]
      .map(([label, found]) => ({ label, value: found.cost, ...found }))
      .sort((a, b) => b.value - a.value || b.tokens - a.tokens);
    const perNamespace = byNamespace.items
      .map((item) => ({ label: item.namespace, value: Number(item.cost_usd), cost: Number(item.cost_usd), tokens: item.total_tokens, requests: item.requests }))
      .sort((a, b) => b.value - a.value || b.tokens - a.tokens);
    const columns = (first) => [
      { title: first, value: (row) => row.label },
      { title: "Requests", num: true, value: (row) => count(row.requests) },
      { title: "Tokens", num: true, value: (row) => count(row.tokens) },
      { title: "Cost", num: true, value: (row) => money(row.cost) },
    ];
    body.replaceChildren(
      panel("Cost per day", columnChart({ rows: dayRows, label: "Cost per UTC day", format: money }),
        dataTable("Cost per UTC day", columns("Day"), dayRows.filter((row) => row.requests > 0))),
      panel("Cost per model", barChart({ rows: perModel, label: "Cost per model", format: money }),
        dataTable("Cost per model", columns("Model"), perModel)),
      panel("Cost per namespace", barChart({ rows: perNamespace, label: "Cost per namespace", format: money }),
        dataTable("Cost per namespace", columns("Namespace"), perNamespace)),
    );
  };
  const onError = (error) => {
    if (onAuthError(error)) return;
    body.replaceChildren(errorBox(error));
  };
  days.addEventListener("change", () => {
    navigate(`#/usage?days=${days.value}`, { replace: true, rerender: false });
    load().catch(onError);
  });
  load().catch(onError);
  return () => {};
}
