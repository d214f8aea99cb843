// A small Markdown subset rendered as DOM nodes built with textContent: paragraphs, headings,
// fenced and inline code, bullet and numbered lists, emphasis and strong emphasis. Text from a
// model is untrusted, so no string ever becomes HTML and links stay plain text.

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

// Underscores count only at word boundaries, so names like delete_k8s_pod stay as written.
const INLINE = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|\*\*([^*]+)\*\*|(?<!\w)__([^_]+)__(?!\w)|\*([^*\s][^*]*)\*|(?<!\w)_([^_\s][^_]*)_(?!\w)/g;

function inline(parent, text) {
  let at = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > at) parent.append(document.createTextNode(text.slice(at, match.index)));
    let node;
    if (match[2] !== undefined) {
      node = el("code");
      node.textContent = match[2];
    } else if (match[3] !== undefined || match[4] !== undefined) {
      node = el("strong");
      inline(node, match[3] ?? match[4]);
    } else {
      node = el("em");
      inline(node, match[5] ?? match[6]);
    }
    parent.append(node);
    at = match.index + match[0].length;
  }
  if (at < text.length) parent.append(document.createTextNode(text.slice(at)));
}

const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;
const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const FENCE = /^\s*(```|~~~)/;

export function renderMarkdown(text) {
  const root = el("div", "markdown");
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const fence = line.match(FENCE);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) body.push(lines[i++]);
      i += 1;
      const pre = el("pre");
      const code = el("code");
      code.textContent = body.join("\n");
      pre.append(code);
      root.append(pre);
      continue;
    }
    const heading = line.match(HEADING);
    if (heading) {
      // Headings inside an answer sit below the page's own (h2/h3), so they start at h4.
      const node = el("h" + Math.min(3 + heading[1].length, 6));
      inline(node, heading[2]);
      root.append(node);
      i += 1;
      continue;
    }
    const kind = BULLET.test(line) ? BULLET : NUMBERED.test(line) ? NUMBERED : null;
    if (kind) {
      const list = el(kind === BULLET ? "ul" : "ol");
      while (i < lines.length && kind.test(lines[i])) {
        const item = el("li");
        let body = lines[i].match(kind)[1];
        i += 1;
        // Continuation lines: indented, not a new item.
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !BULLET.test(lines[i]) && !NUMBERED.test(lines[i])) {
          body += " " + lines[i].trim();
          i += 1;
        }
        inline(item, body);
        list.append(item);
      }
      root.append(list);
      continue;
    }
    const paragraph = [];
    while (
      i < lines.length && lines[i].trim() && !FENCE.test(lines[i]) && !HEADING.test(lines[i]) &&
      !BULLET.test(lines[i]) && !NUMBERED.test(lines[i])
    ) {
      paragraph.push(lines[i].trim());
      i += 1;
    }
    const p = el("p");
    inline(p, paragraph.join(" "));
    root.append(p);
  }
  return root;
}
