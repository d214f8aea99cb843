// Charts drawn by the page as SVG (no library), each with a table of the same numbers beside it.

const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function text(x, y, content, attributes = {}) {
  const node = svgEl("text", { x, y, ...attributes });
  node.textContent = content;
  return node;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

// Columns over time (cost per day).
export function columnChart({ rows, label, format }) {
  const width = 560;
  const height = 220;
  const pad = { top: 12, right: 12, bottom: 40, left: 64 };
  const svg = svgEl("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart",
  });
  const max = niceMax(Math.max(0, ...rows.map((row) => row.value)));
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  for (let tick = 0; tick <= 4; tick += 1) {
    const y = pad.top + plotH - (plotH * tick) / 4;
    svg.append(svgEl("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid" }));
    svg.append(text(pad.left - 6, y + 4, format((max * tick) / 4), { "text-anchor": "end", class: "tick" }));
  }
  const slot = plotW / Math.max(rows.length, 1);
  const labelEvery = Math.ceil(rows.length / 10);
  rows.forEach((row, index) => {
    const h = (plotH * row.value) / max;
    const x = pad.left + index * slot + slot * 0.15;
    const bar = svgEl("rect", {
      x, y: pad.top + plotH - h, width: Math.max(slot * 0.7, 1), height: Math.max(h, 0), class: "bar",
    });
    const title = svgEl("title");
    title.textContent = `${row.label}: ${format(row.value)}`;
    bar.append(title);
    svg.append(bar);
    if (index % labelEvery === 0) {
      svg.append(text(x + slot * 0.35, height - pad.bottom + 16, row.short ?? row.label, {
        "text-anchor": "middle", class: "tick",
      }));
    }
  });
  if (!rows.length) svg.append(text(width / 2, height / 2, "no usage in this period", { "text-anchor": "middle", class: "tick" }));
  return svg;
}

// Horizontal bars by category (per model, per namespace).
export function barChart({ rows, label, format }) {
  const width = 560;
  const rowH = 26;
  const pad = { top: 8, right: 90, bottom: 8, left: 170 };
  const height = pad.top + pad.bottom + Math.max(rows.length, 1) * rowH;
  const svg = svgEl("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart",
  });
  const max = Math.max(0, ...rows.map((row) => row.value)) || 1;
  const plotW = width - pad.left - pad.right;
  rows.forEach((row, index) => {
    const y = pad.top + index * rowH;
    const w = (plotW * row.value) / max;
    const name = row.label.length > 26 ? row.label.slice(0, 25) + "…" : row.label;
    svg.append(text(pad.left - 8, y + rowH / 2 + 4, name, { "text-anchor": "end", class: "tick" }));
    const bar = svgEl("rect", { x: pad.left, y: y + 4, width: Math.max(w, 1), height: rowH - 8, class: "bar" });
    const title = svgEl("title");
    title.textContent = `${row.label}: ${format(row.value)}`;
    bar.append(title);
    svg.append(bar);
    svg.append(text(pad.left + w + 6, y + rowH / 2 + 4, format(row.value), { class: "value" }));
  });
  if (!rows.length) svg.append(text(width / 2, height / 2 + 4, "no usage in this period", { "text-anchor": "middle", class: "tick" }));
  return svg;
}
