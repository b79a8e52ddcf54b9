// terminal.js is the browser terminal: xterm.js on the terminal WebSocket of
// a service replica (/v1/attach/SERVICE?replica=N) or of a job started with a
// terminal (/v1/jobs/ID/attach). Binary messages are raw terminal bytes both
// ways; a text message {"resize": {"cols": C, "rows": R}} resizes; the server
// replays the recent output on attach and closes the socket normally when the
// process ends. xterm.js (vendored, ~350 KB) loads on first use.

let lib = null;

/** loadXterm imports xterm.js and its fit addon once. */
export function loadXterm() {
  if (!lib) {
    lib = Promise.all([import("./vendor/xterm.mjs"), import("./vendor/xterm-addon-fit.mjs")])
      .then(([x, f]) => ({ Terminal: x.Terminal, FitAddon: f.FitAddon }))
      .catch((e) => { lib = null; throw e; });
  }
  return lib;
}

/** attachPath is the API path of a target's terminal. */
export function attachPath(target) {
  if (target.kind === "job") return `/v1/jobs/${encodeURIComponent(target.id)}/attach`;
  return `/v1/attach/${encodeURIComponent(target.service)}${target.replica ? `?replica=${target.replica}` : ""}`;
}

/**
 * probeTerminal asks whether a target runs on a terminal, without staying
 * attached: a plain GET (no upgrade) of its attach path is answered 409
 * (no_tty: not on a terminal; not_running) or 404 before any upgrade, and
 * 426 (Upgrade Required) by a terminal that would have accepted a WebSocket.
 * Resolves to {ok: true} or {ok: false, code, message}.
 */
export async function probeTerminal(path) {
  const res = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (res.status === 426) return { ok: true };
  let e = null;
  try { e = (await res.json()).error; } catch { /* not JSON */ }
  return { ok: false, status: res.status, code: e ? e.code : "http_" + res.status, message: e ? e.message : res.statusText };
}

const CTRL_P = "\x10", CTRL_Q = "\x11";

/** theme maps the page's palette (light or dark) to xterm.js colours. */
function theme() {
  const cs = getComputedStyle(document.documentElement);
  const v = (n) => cs.getPropertyValue(n).trim();
  const names = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];
  const t = {
    background: v("--log-bg"), foreground: v("--fg"), cursor: v("--fg"), cursorAccent: v("--log-bg"),
    selectionBackground: v("--mark"),
  };
  names.forEach((n, i) => {
    t[n] = v(`--a${i}`);
    t["bright" + n[0].toUpperCase() + n.slice(1)] = v(`--a${i + 8}`);
  });
  return t;
}

/**
 * TermSession is one xterm.js terminal in an element, attached to a target's
 * WebSocket. onState(state, info) hears "connecting", "attached",
 * "detached" (by us), "ended" (the process ended), "lost" (the connection
 * dropped) and "error" (could not attach; info.message says why).
 * onSize(cols, rows) hears the terminal's size.
 */
export class TermSession {
  constructor(el, target, { onState = () => {}, onSize = () => {} } = {}) {
    this.el = el;
    this.target = target;
    this.onState = onState;
    this.onSize = onSize;
    this.ws = null;
    this.term = null;
    this.disposed = false;
    this.heldP = false; // a ctrl-p waits for the next key (ctrl-q detaches)
    this.enc = new TextEncoder();
  }

  async open() {
    const { Terminal, FitAddon } = await loadXterm();
    if (this.disposed) return;
    const cs = getComputedStyle(document.documentElement);
    const term = new Terminal({
      fontFamily: cs.getPropertyValue("--mono").trim() || "monospace",
      fontSize: 13,
      lineHeight: 1.15,
      cursorBlink: true,
      scrollback: 5000,
      theme: theme(),
    });
    this.term = term;
    this.fit = new FitAddon();
    term.loadAddon(this.fit);
    term.open(this.el);
    term.onData((d) => this.type(d));
    term.onBinary((d) => this.send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 255)));
    term.onResize(({ cols, rows }) => { this.onSize(cols, rows); this.sendSize(); });
    this.refit();
    this.onSize(term.cols, term.rows);
    this.ro = new ResizeObserver(() => this.scheduleFit());
    this.ro.observe(this.el);
    this.mq = matchMedia("(prefers-color-scheme: dark)");
    this.onScheme = () => { term.options.theme = theme(); };
    this.mq.addEventListener("change", this.onScheme);
    this.connect();
  }

  /** connect opens the WebSocket; the server replays the recent output first. */
  connect() {
    if (this.disposed || !this.term) return;
    if (this.ws) { const old = this.ws; this.ws = null; old.close(1000, "detached"); }
    this.detaching = false;
    this.heldP = false;
    this.term.reset();
    this.onState("connecting");
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + attachPath(this.target));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.sendSize();
      this.onState("attached");
      this.term.focus();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") this.term.write(new Uint8Array(ev.data));
    };
    ws.onclose = async (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.disposed) return;
      if (this.detaching) {
        this.note("detached");
        this.onState("detached");
      } else if (!opened) {
        // The browser does not say why an upgrade failed: ask the API.
        let info = { message: "Could not attach." };
        try {
          const p = await probeTerminal(attachPath(this.target));
          if (!p.ok) info = p;
        } catch { /* keep the default */ }
        this.onState("error", info);
      } else if (ev.code === 1000) {
        this.note("the process ended");
        this.onState("ended");
      } else {
        this.note("connection lost");
        this.onState("lost");
      }
    };
  }

  /** note writes a dim line in the terminal (not sent anywhere). */
  note(text) {
    if (this.term) this.term.write(`\r\n\x1b[2m[${text}]\x1b[0m\r\n`);
  }

  /** type sends keystrokes; ctrl-p ctrl-q detaches, as in `berth attach`. */
  type(d) {
    if (this.heldP) {
      this.heldP = false;
      if (d.startsWith(CTRL_Q)) { this.detach(); return; }
      d = CTRL_P + d;
    }
    if (d === CTRL_P) { this.heldP = true; return; }
    this.send(this.enc.encode(d));
  }

  send(bytes) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  sendSize() {
    if (!this.term || !this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify({ resize: { cols: this.term.cols, rows: this.term.rows } }));
  }

  refit() {
    if (!this.term || this.disposed) return;
    try { this.fit.fit(); } catch { /* not laid out yet */ }
  }

  scheduleFit() {
    if (this.fitTimer) return;
    this.fitTimer = requestAnimationFrame(() => { this.fitTimer = 0; this.refit(); });
  }

  /** detach closes the socket; the process goes on. */
  detach() {
    if (!this.ws) return;
    this.detaching = true;
    this.ws.close(1000, "detached");
  }

  focus() { if (this.term) this.term.focus(); }

  dispose() {
    this.disposed = true;
    if (this.ws) { this.ws.close(1000, "detached"); this.ws = null; }
    if (this.ro) this.ro.disconnect();
    if (this.mq) this.mq.removeEventListener("change", this.onScheme);
    if (this.fitTimer) cancelAnimationFrame(this.fitTimer);
    if (this.term) this.term.dispose();
  }
}
