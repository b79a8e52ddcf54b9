// ansi.js turns a line of terminal output (SGR colour and style escapes)
// into HTML. Everything else (cursor movement, OSC titles) is dropped; text
// is always escaped. Colours are classes (ansi-fg-1 …) for the 16 base
// colours, so that light and dark themes pick readable shades, and inline
// styles for 256-colour and 24-bit ones.

const ESC_RE = /\x1b\[([0-9;:?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>78DEHM]|[\x00-\x08\x0b-\x1f\x7f]/g;

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** escapeHTML escapes text for use in HTML content and attributes. */
export function escapeHTML(s) {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** hasANSI reports whether s holds any escape or control character. */
export function hasANSI(s) {
  return /[\x00-\x08\x0b-\x1f\x7f]/.test(s);
}

/** stripANSI removes escapes and control characters (for filters and downloads). */
export function stripANSI(s) {
  return hasANSI(s) ? s.replace(ESC_RE, "") : s;
}

const CUBE = [0, 95, 135, 175, 215, 255];

function color256(n) {
  if (n < 16) return null;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  n -= 16;
  return `rgb(${CUBE[Math.floor(n / 36)]},${CUBE[Math.floor(n / 6) % 6]},${CUBE[n % 6]})`;
}

/** ansiToHTML renders s as HTML: escaped text in spans for styled runs. */
export function ansiToHTML(s) {
  if (!hasANSI(s)) return escapeHTML(s);
  let out = "";
  let st = { fg: null, bg: null, fgc: null, bgc: null, b: false, d: false, i: false, u: false, inv: false, s: false };
  let last = 0;
  const emit = (text) => {
    if (!text) return;
    const cls = [];
    let style = "";
    let fg = st.fg, bg = st.bg, fgc = st.fgc, bgc = st.bgc;
    if (st.inv) {
      [fg, bg, fgc, bgc] = [bg ?? "inv-bg", fg ?? "inv-fg", bgc, fgc];
    }
    if (fg !== null) cls.push(typeof fg === "number" ? `ansi-fg-${fg}` : `ansi-${fg}`);
    if (bg !== null) cls.push(typeof bg === "number" ? `ansi-bg-${bg}` : `ansi-${bg}`);
    if (fgc) style += `color:${fgc};`;
    if (bgc) style += `background:${bgc};`;
    if (st.b) cls.push("ansi-b");
    if (st.d) cls.push("ansi-d");
    if (st.i) cls.push("ansi-i");
    if (st.u) cls.push("ansi-u");
    if (st.s) cls.push("ansi-s");
    const t = escapeHTML(text);
    if (!cls.length && !style) out += t;
    else out += `<span${cls.length ? ` class="${cls.join(" ")}"` : ""}${style ? ` style="${style}"` : ""}>${t}</span>`;
  };
  ESC_RE.lastIndex = 0;
  let m;
  while ((m = ESC_RE.exec(s)) !== null) {
    emit(s.slice(last, m.index));
    last = ESC_RE.lastIndex;
    if (m[2] !== "m") continue;
    const codes = m[1] === "" ? [0] : m[1].split(/[;:]/).map((x) => (x === "" ? 0 : parseInt(x, 10)));
    for (let k = 0; k < codes.length; k++) {
      const c = codes[k];
      if (c === 0) st = { fg: null, bg: null, fgc: null, bgc: null, b: false, d: false, i: false, u: false, inv: false, s: false };
      else if (c === 1) st.b = true;
      else if (c === 2) st.d = true;
      else if (c === 3) st.i = true;
      else if (c === 4) st.u = true;
      else if (c === 7) st.inv = true;
      else if (c === 9) st.s = true;
      else if (c === 22) st.b = st.d = false;
      else if (c === 23) st.i = false;
      else if (c === 24) st.u = false;
      else if (c === 27) st.inv = false;
      else if (c === 29) st.s = false;
      else if (c >= 30 && c <= 37) { st.fg = c - 30; st.fgc = null; }
      else if (c >= 90 && c <= 97) { st.fg = c - 90 + 8; st.fgc = null; }
      else if (c === 39) { st.fg = null; st.fgc = null; }
      else if (c >= 40 && c <= 47) { st.bg = c - 40; st.bgc = null; }
      else if (c >= 100 && c <= 107) { st.bg = c - 100 + 8; st.bgc = null; }
      else if (c === 49) { st.bg = null; st.bgc = null; }
      else if (c === 38 || c === 48) {
        let col = null, idx = null;
        if (codes[k + 1] === 5) {
          const n = codes[k + 2] ?? 0;
          if (n < 16) idx = n; else col = color256(n);
          k += 2;
        } else if (codes[k + 1] === 2) {
          const [r, g, b] = [codes[k + 2] ?? 0, codes[k + 3] ?? 0, codes[k + 4] ?? 0].map((v) => Math.max(0, Math.min(255, v)));
          col = `rgb(${r},${g},${b})`;
          k += 4;
        }
        if (c === 38) { st.fg = idx; st.fgc = col; } else { st.bg = idx; st.bgc = col; }
      }
    }
  }
  emit(s.slice(last));
  return out;
}
