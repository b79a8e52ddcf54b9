// api.js talks to berth's API: JSON over fetch, and the one multiplexed
// WebSocket (/api/ws) that carries every live stream.

/** APIError is an error answer of the API; code is stable, message is for people. */
export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** api calls method path with an optional JSON body and returns the JSON answer. */
export async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const e = data && data.error;
    if (res.status === 401) { location.reload(); }
    throw new APIError(res.status, e ? e.code : "http_" + res.status, e ? e.message : text || res.statusText);
  }
  return data;
}

/** ndjson fetches path and calls fn with each JSON value of the stream. */
export async function ndjson(path, fn) {
  const res = await fetch(path, { credentials: "same-origin" });
  if (!res.ok) {
    let e = null;
    try { e = (await res.json()).error; } catch { /* not JSON */ }
    throw new APIError(res.status, e ? e.code : "http_" + res.status, e ? e.message : res.statusText);
  }
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buf += dec.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line) fn(JSON.parse(line));
    }
    if (done) break;
  }
  if (buf.trim()) fn(JSON.parse(buf));
}

/**
 * Conn is the WebSocket to /api/ws. It keeps a set of subscribed streams,
 * remembers the last seq of each, and on reconnect subscribes again with
 * since = that seq, so nothing is missed or repeated.
 */
export class Conn {
  constructor() {
    this.handlers = new Map(); // stream → fn(frame)
    this.prefixHandlers = []; // [prefix, fn(frame)]
    this.noticeHandler = null; // fn(payload) for missed/gap notices
    this.stateHandler = null; // fn("live" | "connecting" | "offline")
    this.streams = new Map(); // stream → {resume: bool}
    this.lastSeq = new Map(); // stream → last seq seen
    this.pending = new Map(); // request id → {resolve, reject}
    this.nextID = 1;
    this.ws = null;
    this.backoff = 250;
    this.closed = false;
    this.state = "connecting";
    this.opened = new Promise((resolve) => { this.resolveOpened = resolve; });
  }

  connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/ws";
    const ws = new WebSocket(url);
    this.ws = ws;
    this.setState("connecting");
    ws.onopen = () => {
      this.backoff = 250;
      this.setState("live");
      const fresh = [], since = {}, resumed = [];
      for (const [st, o] of this.streams) {
        if (this.lastSeq.has(st) && o.resume) { resumed.push(st); since[st] = this.lastSeq.get(st); }
        else fresh.push(st);
      }
      if (resumed.length) this.send({ op: "subscribe", streams: resumed, since });
      if (fresh.length) {
        const req = { op: "subscribe", streams: fresh };
        const s0 = o0(fresh, this.streams);
        if (Object.keys(s0).length) req.since = s0;
        this.send(req);
      }
      this.resolveOpened();
    };
    ws.onmessage = (ev) => this.onMessage(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      for (const p of this.pending.values()) p.reject(new Error("connection closed"));
      this.pending.clear();
      if (this.closed) return;
      this.setState("offline");
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 5000);
    };
  }

  setState(s) {
    this.state = s;
    if (this.stateHandler) this.stateHandler(s);
  }

  send(payload) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ stream: "control", payload }));
    return true;
  }

  request(payload) {
    const id = this.nextID++;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...payload, id })) { reject(new Error("not connected")); return; }
      this.pending.set(id, { resolve, reject });
    });
  }

  /**
   * subscribe adds streams. opts.since maps a stream to the seq to resume
   * after (0: everything retained); without it only new frames come.
   * Resolves when the server has subscribed them.
   */
  subscribe(streams, opts = {}) {
    const since = {};
    for (const st of streams) {
      this.streams.set(st, { resume: opts.resume !== false, since: opts.since ? opts.since[st] : undefined });
      if (opts.since && opts.since[st] !== undefined) since[st] = opts.since[st];
    }
    const req = { op: "subscribe", streams };
    if (Object.keys(since).length) req.since = since;
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return Promise.resolve(null); // subscribed on open
    return this.request(req).catch((e) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return null; // subscribed again on reconnect
      throw e;
    });
  }

  unsubscribe(streams) {
    for (const st of streams) { this.streams.delete(st); this.lastSeq.delete(st); }
    this.send({ op: "unsubscribe", streams });
  }

  on(stream, fn) { this.handlers.set(stream, fn); }
  off(stream) { this.handlers.delete(stream); }
  onPrefix(prefix, fn) { this.prefixHandlers.push([prefix, fn]); }

  onMessage(data) {
    let start = 0;
    for (;;) {
      const nl = data.indexOf("\n", start);
      const part = nl < 0 ? data.slice(start) : data.slice(start, nl);
      if (part) this.onFrame(JSON.parse(part));
      if (nl < 0) break;
      start = nl + 1;
    }
  }

  onFrame(f) {
    if (f.stream === "control") {
      const p = f.payload || {};
      if (p.id !== undefined && this.pending.has(p.id)) {
        const q = this.pending.get(p.id);
        this.pending.delete(p.id);
        if (p.op === "error") q.reject(new Error(p.message || p.code)); else q.resolve(p);
        return;
      }
      if (this.noticeHandler) this.noticeHandler(p);
      return;
    }
    if (f.seq) {
      const last = this.lastSeq.get(f.stream);
      if (last !== undefined && f.seq <= last && f.stream !== "notifications") return; // a replay we already have
      this.lastSeq.set(f.stream, f.seq);
    }
    const h = this.handlers.get(f.stream);
    if (h) { h(f); return; }
    for (const [prefix, fn] of this.prefixHandlers) {
      if (f.stream.startsWith(prefix)) { fn(f); return; }
    }
  }
}

// o0 gives the since map of a first subscription: the streams asked with an
// explicit since keep it.
function o0(streams, opts) {
  const since = {};
  for (const st of streams) {
    const o = opts.get(st);
    if (o && o.since !== undefined) since[st] = o.since;
  }
  return since;
}
