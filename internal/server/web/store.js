// store.js is the dashboard's state: the project's services and their
// replicas, recent events, jobs, the logs of every service, toasts. It is
// fed by the API and the WebSocket; views read it and re-render on change().

import { api, ndjson, Conn } from "./api.js";
import { LineBuffer } from "./lines.js";
import { stripANSI } from "./ansi.js";
import { attachPath, probeTerminal } from "./terminal.js";

/** MAX_LOG_LINES caps the lines kept in the page; the on-disk log keeps all. */
export const MAX_LOG_LINES = 200000;
/** HISTORY_LINES is how many past lines per service the page loads at first. */
export const HISTORY_LINES = 5000;

export const state = {
  me: null, // {project, user, owner}
  conn: "connecting",
  services: new Map(), // name → {name, replicas: [ReplicaStatus]}
  events: [], // newest first
  jobs: [],
  jobsLoaded: false,
  toasts: [],
  logs: new LineBuffer(MAX_LOG_LINES),
  logServices: [], // services whose logs are followed
  missed: 0, // log lines the server could not send (slow page)
  notifyPerm: typeof Notification === "undefined" ? "unsupported" : Notification.permission,
  // The terminal dock: {target: {kind: "service", service, replica} or
  // {kind: "job", id, service, command}, key} or null.
  terminal: null,
};

export const conn = new Conn();

const listeners = new Set();
let pending = false;

/** change tells the views that state changed (coalesced per frame). */
export function change() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    for (const fn of listeners) fn();
  });
}

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

let toastID = 0;

/** toast shows a message for a while; kind is info, ok, error. */
export function toast(kind, title, body = "", href = "") {
  const t = { id: ++toastID, kind, title, body, href };
  state.toasts = [...state.toasts, t].slice(-5);
  change();
  setTimeout(() => dismiss(t.id), kind === "error" ? 12000 : 8000);
}

export function dismiss(id) {
  state.toasts = state.toasts.filter((t) => t.id !== id);
  change();
}

// Stable colours per service, in the order services appear.
const svcColour = new Map();
export function colourOf(name) {
  if (!svcColour.has(name)) svcColour.set(name, svcColour.size % 8);
  return svcColour.get(name);
}

function setReplicas(name, replicas) {
  state.services.set(name, { name, replicas: replicas || [] });
  colourOf(name);
}

/** logLine makes a stored line from a wire payload. */
function logLine(svc, seq, p) {
  return { svc, seq, rep: p.replica, t: Date.parse(p.time), err: p.stream === "stderr", text: p.text, plain: null };
}

/** plainText is a line's text without escapes, cached (for filters). */
export function plainText(line) {
  if (line.plain === null) line.plain = stripANSI(line.text);
  return line.plain;
}

// Log lines that arrive while a service's history loads wait here.
const waiting = new Map(); // service → [line] or absent once live
const lastLogSeq = new Map(); // service → last seq stored

function onLogFrame(f) {
  const svc = f.stream.slice("service/".length, -"/logs".length);
  const line = logLine(svc, f.seq, f.payload);
  const w = waiting.get(svc);
  if (w) { w.push(line); return; }
  if (f.seq <= (lastLogSeq.get(svc) || 0)) return;
  lastLogSeq.set(svc, f.seq);
  state.logs.push(line);
}

/** followLogs subscribes to the live logs of services, then loads their recent history. */
async function followLogs(names) {
  names = names.filter((n) => !state.logServices.includes(n));
  if (!names.length) return;
  state.logServices.push(...names);
  for (const n of names) waiting.set(n, []);
  try {
    await conn.subscribe(names.map((n) => `service/${n}/logs`));
  } catch (e) {
    console.warn("subscribe logs", e);
  }
  const q = names.map((n) => "service=" + encodeURIComponent(n)).join("&");
  const cursors = new Map();
  const history = [];
  try {
    await ndjson(`/v1/logs?${q}&tail=${HISTORY_LINES}`, (l) => {
      if (!l.replica && !l.missed) { cursors.set(l.service, l.cursor || 0); return; } // the service's cursor
      if (l.missed) return;
      history.push({ svc: l.service, seq: l.seq, rep: l.replica, t: Date.parse(l.time), err: l.stream === "stderr", text: l.text, plain: null });
    });
  } catch (e) {
    console.warn("load log history", e);
  }
  for (const l of history) {
    state.logs.push(l);
    lastLogSeq.set(l.svc, Math.max(lastLogSeq.get(l.svc) || 0, l.seq));
  }
  for (const n of names) {
    const w = waiting.get(n) || [];
    waiting.delete(n);
    for (const l of w) {
      if (l.seq <= (lastLogSeq.get(n) || 0)) continue;
      lastLogSeq.set(n, l.seq);
      state.logs.push(l);
    }
  }
  change();
}

async function loadServices() {
  const [info, ps] = await Promise.all([api("GET", "/v1/info"), api("GET", "/v1/ps")]);
  const byName = new Map();
  for (const r of ps || []) {
    if (!byName.has(r.Service)) byName.set(r.Service, []);
    byName.get(r.Service).push(r);
  }
  const fresh = [];
  for (const name of info.services || []) {
    if (!state.services.has(name)) fresh.push(name);
    const cur = state.services.get(name);
    if (!cur || !cur.fromStream) setReplicas(name, byName.get(name) || []);
  }
  if (fresh.length) {
    await conn.subscribe(fresh.map((n) => `service/${n}/status`), { since: Object.fromEntries(fresh.map((n) => [`service/${n}/status`, 0])) });
    followLogs(fresh);
  }
  change();
}

/** openTerminal shows the terminal dock attached to target (replacing any other). */
export function openTerminal(target) {
  const key = target.kind === "job" ? `job/${target.id}` : `service/${target.service}/${target.replica || 0}`;
  state.terminal = { target, key: key + "#" + Date.now() };
  change();
}

export function closeTerminal() {
  state.terminal = null;
  change();
}

// Whether a service runs on a terminal (tty or stdin_open). A replica
// status that says so (a TTY field) is the answer; without one, the attach
// endpoint is asked (probeTerminal) once per set of running processes.
const ttyProbes = new Map(); // service → {key, ok}

/** onTerminal reports whether a service has a running replica on a terminal. */
export function onTerminal(svc) {
  const running = svc.replicas.filter((r) => r.State === "running" && r.Pid);
  if (!running.length) return false;
  if (running.some((r) => typeof r.TTY === "boolean")) return running.some((r) => r.TTY);
  const key = running.map((r) => `${r.Replica}:${r.Pid}`).join(",");
  let p = ttyProbes.get(svc.name);
  if (!p || p.key !== key) {
    p = { key, ok: p ? p.ok : false }; // the last answer holds until the new one
    ttyProbes.set(svc.name, p);
    const mine = p;
    probeTerminal(attachPath({ kind: "service", service: svc.name }))
      .then((r) => {
        if (ttyProbes.get(svc.name) !== mine || mine.ok === r.ok) return;
        mine.ok = r.ok;
        change();
      })
      .catch(() => {});
  }
  return p.ok;
}

let jobsTimer = 0;

export async function loadJobs() {
  try {
    state.jobs = await api("GET", "/v1/jobs?limit=100");
    state.jobsLoaded = true;
    change();
  } catch (e) {
    console.warn("load jobs", e);
  }
}

function notify(p) {
  if (p.type !== "job_ended") return;
  let cmd = (p.command || []).join(" ");
  if (cmd.length > 120) cmd = cmd.slice(0, 119) + "…";
  const mine = state.me && p.launched_by === state.me.user;
  const who = mine ? "your job" : `${p.launched_by || "someone"}'s job`;
  const verb = p.status === "succeeded" ? "succeeded" : p.status === "cancelled" ? "was cancelled" : `failed${p.exit_code != null ? ` (exit ${p.exit_code})` : ""}`;
  const title = `Job #${p.job} ${verb}`;
  const body = `${who} in ${p.service}: ${cmd}`;
  toast(p.status === "succeeded" ? "ok" : "error", title, body, `#/jobs/${p.job}`);
  if (state.notifyPerm === "granted" && document.visibilityState !== "visible") {
    try {
      const n = new Notification(`berth · ${title}`, { body, tag: `berth-job-${p.job}` });
      n.onclick = () => { window.focus(); location.hash = `#/jobs/${p.job}`; };
    } catch { /* not allowed here */ }
  }
  loadJobs();
}

/** start loads who we are and the project, and opens the live streams. */
export async function start() {
  conn.stateHandler = (s) => {
    const was = state.conn;
    state.conn = s;
    change();
    if (s === "live" && was === "offline") loadServices().catch(() => {});
  };
  conn.onPrefix("service/", (f) => {
    if (f.stream.endsWith("/logs")) { onLogFrame(f); return; }
    if (f.stream.endsWith("/status")) {
      const p = f.payload;
      setReplicas(p.service, p.replicas);
      state.services.get(p.service).fromStream = true;
      change();
      // A state change may be someone's action: the jobs list says whose.
      clearTimeout(jobsTimer);
      jobsTimer = setTimeout(loadJobs, 500);
    }
  });
  conn.on("events", (f) => {
    state.events = [f.payload, ...state.events].slice(0, 50);
    if (f.payload.service && !state.services.has(f.payload.service)) loadServices().catch(() => {});
    change();
  });
  conn.on("notifications", (f) => notify(f.payload));
  conn.noticeHandler = (p) => {
    if (p.op === "missed" && p.stream && p.stream.endsWith("/logs")) {
      state.missed += p.count || 0;
      change();
    } else if (p.op === "gap" && p.stream && p.stream.endsWith("/status")) {
      loadServices().catch(() => {});
    }
    for (const fn of noticeListeners) fn(p);
  };
  conn.connect();
  state.me = await api("GET", "/v1/whoami");
  document.title = `${state.me.project || "berth"} · berth`;
  change();
  await conn.opened;
  await conn.subscribe(["events"], { since: { events: 0 } });
  await conn.subscribe(["notifications"], { resume: false });
  await loadServices();
  loadJobs();
}

const noticeListeners = new Set();
/** onNotice calls fn with every control notice (missed, gap). */
export function onNotice(fn) {
  noticeListeners.add(fn);
  return () => noticeListeners.delete(fn);
}

/** downloadLogs saves the complete on-disk logs of services as a text file. */
export async function downloadLogs(names) {
  const q = names.map((n) => "service=" + encodeURIComponent(n)).join("&");
  const parts = [];
  const many = names.length !== 1;
  await ndjson(`/v1/logs?${q}`, (l) => {
    if (!l.replica && !l.missed) return; // a cursor
    if (l.missed) { parts.push(`--- ${l.missed} lines missed ---\n`); return; }
    parts.push(`${l.time} ${many ? l.service + " | " : ""}${stripANSI(l.text)}\n`);
  });
  const blob = new Blob(parts, { type: "text/plain" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  a.download = `${state.me ? state.me.project : "berth"}-${many ? "logs" : names[0]}-${stamp}.log`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}
