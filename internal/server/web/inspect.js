// inspect.js holds the HTTP inspector page's pure helpers: how a recorded
// exchange is filtered, measured and shown (bodies pretty-printed, binary as
// hex, timings), a line diff for the side-by-side comparison of two
// responses, and the HAR download. The views are in app.js.

import { APIError } from "./api.js";
import { escapeHTML } from "./ansi.js";

export const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/** LIST_LIMIT is how many exchanges the page asks for at a time. */
export const LIST_LIMIT = 200;
/** MAX_LIST is how many exchanges the page keeps in its list. */
export const MAX_LIST = 2000;

/** header returns the first value of header name (any case) in h, or "". */
export function header(h, name) {
  if (!h) return "";
  const want = name.toLowerCase();
  for (const k of Object.keys(h)) {
    if (k.toLowerCase() === want) return (h[k] || [])[0] || "";
  }
  return "";
}

/** headerRows lists h as [name, value] rows, sorted by name, one per value. */
export function headerRows(h) {
  const rows = [];
  for (const k of Object.keys(h || {}).sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))) {
    for (const v of h[k] || []) rows.push([k, v]);
  }
  return rows;
}

/** statusTone is the badge tone of a status: by class; 0 (no response) is bad. */
export function statusTone(status) {
  if (!status) return "bad";
  switch (Math.floor(status / 100)) {
    case 2: return "ok";
    case 3: return "wait";
    case 4: return "warn";
    case 5: return "bad";
    default: return "idle";
  }
}

/** pathOf is a request target without its query. */
export function pathOf(target) {
  const i = target.indexOf("?");
  return i < 0 ? target : target.slice(0, i);
}

/** exchangeMs is the total time of an exchange in milliseconds. */
export function exchangeMs(ex) {
  const s = Date.parse(ex.start), e = Date.parse(ex.end);
  if (!s || !e) return 0;
  // Date.parse drops the sub-millisecond part: take it from the strings.
  return (e - s) + (subMs(ex.end) - subMs(ex.start));
}

/** timings returns an exchange's phases in milliseconds: connect (waiting for a backend), first byte, total. */
export function timings(ex) {
  const total = exchangeMs(ex);
  let first = 0;
  if (ex.firstByte) first = (Date.parse(ex.firstByte) - Date.parse(ex.start)) + (subMs(ex.firstByte) - subMs(ex.start));
  const connect = (ex.held || 0) / 1e6;
  return { connect, first, total, transfer: ex.firstByte ? Math.max(0, total - first) : 0 };
}

// subMs is the fraction of a millisecond in an RFC 3339 time with
// nanoseconds ("…35.908712344Z" → 0.712344).
function subMs(t) {
  const m = /\.(\d+)/.exec(t || "");
  if (!m || m[1].length <= 3) return 0;
  return +("0." + m[1].slice(3));
}

/** fmtMs formats milliseconds for people: 0.42 ms, 12.3 ms, 1.24 s. */
export function fmtMs(ms) {
  if (!ms || ms < 0) return "0 ms";
  if (ms < 1) return ms.toFixed(2) + " ms";
  if (ms < 100) return ms.toFixed(1) + " ms";
  if (ms < 1000) return Math.round(ms) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(2) + " s";
  return (ms / 60000).toFixed(1) + " min";
}

/** fmtBytes formats a size: 124 B, 2.4 KB, 50.0 MB. */
export function fmtBytes(n) {
  if (!n) return "0 B";
  if (n < 1024) return n + " B";
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
  if (n < 1024 * 1024 * 1024) return (n / 1024 / 1024).toFixed(1) + " MB";
  return (n / 1024 / 1024 / 1024).toFixed(2) + " GB";
}

/**
 * query builds the list API's query string from the page's filter
 * {service, method, status, path, header, body} and extra parameters.
 */
export function query(f, extra = {}) {
  const q = new URLSearchParams();
  for (const k of ["service", "method", "status", "path", "header", "body"]) {
    if (f[k]) q.set(k, f[k]);
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== "") q.set(k, v);
  return q.toString();
}

/**
 * matches reports whether an exchange (a list summary, without bodies)
 * passes the filter as the API would. A body filter cannot be checked here,
 * nor a header filter on an exchange from the inspect stream (which carries
 * no header fields): matches returns null then, if the rest pass.
 */
export function matches(ex, f) {
  if (f.service && ex.service !== f.service) return false;
  if (f.method && ex.request.method.toUpperCase() !== f.method.toUpperCase()) return false;
  if (f.status && Math.floor((ex.response.status || 0) / 100) !== +String(f.status)[0]) return false;
  if (f.path && !ex.request.target.includes(f.path)) return false;
  if (f.header && !ex.request.header && !ex.response.header) return null;
  if (f.header) {
    const i = f.header.indexOf(":");
    const name = (i < 0 ? f.header : f.header.slice(0, i)).trim().toLowerCase();
    const value = i < 0 ? null : f.header.slice(i + 1).trim().toLowerCase();
    const has = (h) => Object.keys(h || {}).some((k) => k.toLowerCase() === name &&
      (value === null || (h[k] || []).some((v) => v.toLowerCase().includes(value))));
    if (!has(ex.request.header) && !has(ex.response.header)) return false;
  }
  if (f.body) return null;
  return true;
}

/** b64Bytes decodes a base64 body ("" or absent: none). */
export function b64Bytes(s) {
  if (!s) return new Uint8Array(0);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** mediaType is the media type of a Content-Type, lower case, without parameters. */
export function mediaType(ct) {
  return (ct || "").split(";")[0].trim().toLowerCase();
}

function isJSONType(mt) {
  return mt === "application/json" || mt.endsWith("+json") || mt === "text/json";
}

function isXMLType(mt) {
  return mt === "application/xml" || mt === "text/xml" || (mt.endsWith("+xml") && mt !== "image/svg+xml") || mt === "image/svg+xml";
}

/**
 * viewBody decides how to show a body. text is the body as text (the
 * server's decoded requestText/responseText) or null; b64 the recorded
 * bytes. It returns {kind, text, html, fields, hex, size}: kind is one of
 * empty, json, form, xml, text, binary.
 */
export function viewBody(headers, text, b64) {
  const mt = mediaType(header(headers, "Content-Type"));
  if (text == null) {
    const bytes = b64Bytes(b64);
    if (!bytes.length) return { kind: "empty" };
    return { kind: "binary", mt, size: bytes.length, hex: hexdump(bytes, 512) };
  }
  const trimmed = text.trim();
  if (isJSONType(mt) || (!mt && /^[[{]/.test(trimmed))) {
    try {
      const pretty = JSON.stringify(JSON.parse(text), null, 2);
      return { kind: "json", mt, text: pretty, html: highlightJSON(pretty) };
    } catch { /* cut at the cap, or not JSON after all */ }
  }
  if (mt === "application/x-www-form-urlencoded") {
    const fields = [...new URLSearchParams(text)];
    return { kind: "form", mt, text, fields };
  }
  if (isXMLType(mt) || (!mt && trimmed.startsWith("<?xml"))) {
    const pretty = indentXML(text);
    if (pretty !== null) return { kind: "xml", mt, text: pretty };
  }
  return { kind: "text", mt, text };
}

/** highlightJSON colours pretty-printed JSON (escaped HTML): keys, strings, numbers, literals. */
export function highlightJSON(s) {
  return escapeHTML(s).replace(
    /(&quot;(?:[^&\\]|\\.|&(?!quot;))*?&quot;)(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g,
    (m, str, colon, lit, num) => {
      if (str) return colon ? `<span class="j-key">${str}</span>${colon}` : `<span class="j-str">${str}</span>`;
      if (lit) return `<span class="j-lit">${lit}</span>`;
      return `<span class="j-num">${num}</span>`;
    });
}

/** indentXML re-indents an XML document, or returns null when it does not parse. */
export function indentXML(src) {
  let doc;
  try {
    doc = new DOMParser().parseFromString(src, "application/xml");
  } catch {
    return null;
  }
  if (doc.getElementsByTagName("parsererror").length) return null;
  const out = [];
  const decl = /^\s*(<\?xml[^?]*\?>)/.exec(src);
  if (decl) out.push(decl[1]);
  const attrs = (el) => [...el.attributes].map((a) => ` ${a.name}="${a.value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;")}"`).join("");
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const walk = (node, depth) => {
    const pad = "  ".repeat(depth);
    switch (node.nodeType) {
      case Node.ELEMENT_NODE: {
        const kids = [...node.childNodes].filter((c) => !(c.nodeType === Node.TEXT_NODE && !c.nodeValue.trim()));
        if (!kids.length) { out.push(`${pad}<${node.nodeName}${attrs(node)}/>`); return; }
        if (kids.length === 1 && kids[0].nodeType === Node.TEXT_NODE) {
          out.push(`${pad}<${node.nodeName}${attrs(node)}>${esc(kids[0].nodeValue.trim())}</${node.nodeName}>`);
          return;
        }
        out.push(`${pad}<${node.nodeName}${attrs(node)}>`);
        for (const c of kids) walk(c, depth + 1);
        out.push(`${pad}</${node.nodeName}>`);
        return;
      }
      case Node.TEXT_NODE: out.push(pad + esc(node.nodeValue.trim())); return;
      case Node.CDATA_SECTION_NODE: out.push(`${pad}<![CDATA[${node.nodeValue}]]>`); return;
      case Node.COMMENT_NODE: out.push(`${pad}<!--${node.nodeValue}-->`); return;
      case Node.PROCESSING_INSTRUCTION_NODE: out.push(`${pad}<?${node.target} ${node.data}?>`); return;
    }
  };
  for (const c of doc.childNodes) if (c.nodeType !== Node.DOCUMENT_TYPE_NODE) walk(c, 0);
  return out.join("\n");
}

/** hexdump shows the first max bytes as offset, hex and ASCII columns. */
export function hexdump(bytes, max) {
  const lines = [];
  const n = Math.min(bytes.length, max);
  for (let off = 0; off < n; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, n));
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0"));
    const asc = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${off.toString(16).padStart(8, "0")}  ${hex.slice(0, 8).join(" ").padEnd(23)}  ${hex.slice(8).join(" ").padEnd(23)}  ${asc}`);
  }
  return lines.join("\n");
}

/** bodyText is the text a body is compared by: pretty when it can be. */
export function bodyText(headers, text, b64) {
  const v = viewBody(headers, text, b64);
  switch (v.kind) {
    case "empty": return "";
    case "binary": return `(${v.size} bytes of ${v.mt || "binary data"})\n` + v.hex;
    case "form": return v.fields.map(([k, val]) => `${k}=${val}`).join("\n");
    default: return v.text;
  }
}

/** MAX_DIFF_LINES bounds the lines compared one by one (the diff is quadratic). */
const MAX_DIFF_LINES = 2000;

/**
 * sideBySide compares two texts line by line and returns rows
 * {a, b, kind}: kind is same, changed (a and b differ), removed (only a),
 * added (only b). a or b is null where the other side has a line alone.
 */
export function sideBySide(textA, textB) {
  const A = textA === "" ? [] : textA.split("\n");
  const B = textB === "" ? [] : textB.split("\n");
  if (A.length > MAX_DIFF_LINES || B.length > MAX_DIFF_LINES) {
    const rows = [];
    for (let i = 0; i < Math.max(A.length, B.length); i++) {
      const a = i < A.length ? A[i] : null, b = i < B.length ? B[i] : null;
      rows.push({ a, b, kind: a === b ? "same" : a === null ? "added" : b === null ? "removed" : "changed" });
    }
    return rows;
  }
  // Longest common subsequence, then walk it.
  const n = A.length, m = B.length;
  const L = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i][j] = A[i] === B[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    }
  }
  const rows = [];
  let i = 0, j = 0;
  let dels = [], adds = [];
  const flush = () => {
    // Pair removed and added lines side by side as changes.
    const k = Math.max(dels.length, adds.length);
    for (let x = 0; x < k; x++) {
      const a = x < dels.length ? dels[x] : null, b = x < adds.length ? adds[x] : null;
      rows.push({ a, b, kind: a === null ? "added" : b === null ? "removed" : "changed" });
    }
    dels = [];
    adds = [];
  };
  while (i < n || j < m) {
    if (i < n && j < m && A[i] === B[j]) {
      flush();
      rows.push({ a: A[i], b: B[j], kind: "same" });
      i++; j++;
    } else if (j < m && (i >= n || L[i][j + 1] >= L[i + 1][j])) {
      adds.push(B[j++]);
    } else {
      dels.push(A[i++]);
    }
  }
  flush();
  return rows;
}

/** headerLines is a response's status line and headers as comparable text lines. */
export function headLines(ex) {
  const r = ex.response;
  const lines = [`${r.proto || "HTTP/1.1"} ${r.status || "—"} ${r.reason || ""}`.trimEnd()];
  for (const [k, v] of headerRows(r.header)) lines.push(`${k}: ${v}`);
  return lines.join("\n");
}

/** parseHeaders reads "Name: value" lines into {Name: [values]}; it throws on a line without a colon. */
export function parseHeaders(text) {
  const h = {};
  for (const [n, raw] of text.split("\n").entries()) {
    const line = raw.replace(/\r$/, "");
    if (!line.trim()) continue;
    const i = line.indexOf(":");
    if (i <= 0) throw new Error(`header line ${n + 1}: want "Name: value", got ${JSON.stringify(line)}`);
    const k = line.slice(0, i).trim(), v = line.slice(i + 1).trim();
    (h[k] = h[k] || []).push(v);
  }
  return h;
}

/** headersText writes headers as "Name: value" lines (the edit form's text). */
export function headersText(h) {
  return headerRows(h).map(([k, v]) => `${k}: ${v}`).join("\n");
}

/** FRAME_OPS names WebSocket opcodes. */
export const FRAME_OPS = { 0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong" };

/** framePreview is a frame's payload for a list: text as text, the rest as hex. */
export function framePreview(fr) {
  const bytes = b64Bytes(fr.payload);
  if (!bytes.length) return "";
  if (fr.opcode === 1 && !fr.compressed) {
    try { return new TextDecoder("utf-8", { fatal: false }).decode(bytes); } catch { /* fall through */ }
  }
  if (fr.opcode === 8 && bytes.length >= 2) {
    const code = (bytes[0] << 8) | bytes[1];
    return `${code}${bytes.length > 2 ? " " + new TextDecoder().decode(bytes.subarray(2)) : ""}`;
  }
  return [...bytes.subarray(0, 48)].map((b) => b.toString(16).padStart(2, "0")).join(" ") + (bytes.length > 48 ? " …" : "");
}

/** copyText puts text on the clipboard; it reports success. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch { /* not allowed: try the old way */ }
  const ta = document.createElement("textarea");
  ta.value = text;
  ta.setAttribute("readonly", "");
  ta.style.position = "fixed";
  ta.style.opacity = "0";
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch { ok = false; }
  ta.remove();
  return ok;
}

/**
 * downloadHAR saves exchanges as a HAR 1.2 file: the ids given, else
 * every exchange that matches the filter f. Credentials are redacted by
 * the server.
 */
export async function downloadHAR(ids, f, project) {
  const q = ids && ids.length ? "ids=" + ids.join(",") : query(f || {});
  const res = await fetch("/api/inspect/export.har" + (q ? "?" + q : ""), { credentials: "same-origin" });
  if (!res.ok) {
    let e = null;
    try { e = (await res.json()).error; } catch { /* not JSON */ }
    throw new APIError(res.status, e ? e.code : "http_" + res.status, e ? e.message : res.statusText);
  }
  const blob = await res.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  a.download = `${project || "berth"}-${ids && ids.length === 1 ? "exchange-" + ids[0] : "inspect"}-${stamp}.har`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  return blob.size;
}

/** inspectable reports whether a publisher is a port berth's proxy owns (so it can be inspected). */
export function inspectable(p) {
  return p.PublishedPort && p.PublishedPort !== p.TargetPort && (!p.Protocol || p.Protocol === "tcp");
}
