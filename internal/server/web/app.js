// app.js is berth's dashboard: overview, logs, jobs and the HTTP inspector
// of one project, live.
// Views are preact components written with htm (no build step); the log and
// job output lists are virtual lists (lines.js) outside preact's diffing.

import { h, render } from "./vendor/preact.mjs";
import { useState, useEffect, useRef, useReducer, useMemo, useCallback } from "./vendor/hooks.mjs";
import htm from "./vendor/htm.mjs";
import { api, ndjson } from "./api.js";
import { ansiToHTML, escapeHTML, hasANSI } from "./ansi.js";
import { LineBuffer, LineView, VList, clock } from "./lines.js";
import { state, conn, change, subscribe, start, toast, dismiss, colourOf, plainText, loadJobs, downloadLogs, onNotice, MAX_LOG_LINES, openTerminal, closeTerminal, onTerminal } from "./store.js";
import { TermSession, probeTerminal, attachPath } from "./terminal.js";
import * as insp from "./inspect.js";

const html = htm.bind(h);

// ---------- small helpers ----------

function useRoute() {
  const [hash, setHash] = useState(location.hash || "#/");
  useEffect(() => {
    const on = () => setHash(location.hash || "#/");
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  const parts = hash.replace(/^#\/?/, "").split("?")[0].split("/").filter(Boolean).map(decodeURIComponent);
  return parts;
}

function useStore() {
  const [, bump] = useReducer((x) => x + 1, 0);
  useEffect(() => subscribe(bump), []);
}

function useTick(ms) {
  const [, bump] = useReducer((x) => x + 1, 0);
  useEffect(() => {
    const t = setInterval(bump, ms);
    return () => clearInterval(t);
  }, [ms]);
}

function duration(ms) {
  if (ms < 0) ms = 0;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(hr / 24)}d ${hr % 24}h`;
}

function ago(t) {
  if (!t) return "";
  return duration(Date.now() - new Date(t).getTime()) + " ago";
}

function isZeroTime(t) {
  return !t || t.startsWith("0001-");
}

const CONDITIONS = {
  service_healthy: "to be healthy",
  service_completed_successfully: "to complete successfully",
  service_started: "to start",
};

/** waitingText turns WaitingFor ("web (service_healthy)") into words. */
function waitingText(w) {
  const m = /^(.*) \((\w+)\)$/.exec(w || "");
  if (!m) return w;
  return `${m[1]} ${CONDITIONS[m[2]] || m[2]}`;
}

/** serviceSummary is one state for a service: the worst of its replicas. */
function serviceSummary(svc) {
  const rs = svc.replicas;
  if (!rs.length) return { tone: "idle", label: "no replicas" };
  const states = rs.map((r) => r.State);
  const running = states.filter((s) => s === "running").length;
  if (states.includes("crash-looping")) return { tone: "bad", label: "crash-looping" };
  if (rs.some((r) => r.Health === "unhealthy")) return { tone: "bad", label: "unhealthy" };
  if (states.includes("restarting")) return { tone: "warn", label: "restarting" };
  if (states.includes("waiting")) return { tone: "wait", label: "waiting" };
  if (rs.some((r) => r.State === "running" && r.Health === "starting")) return { tone: "warn", label: "starting" };
  if (running === rs.length) return { tone: "ok", label: rs.some((r) => r.Health === "healthy") ? "healthy" : "running" };
  if (states.every((s) => s === "exited")) {
    const ok = rs.every((r) => r.ExitCode === 0 && !r.Error);
    return { tone: ok ? "done" : "bad", label: ok ? "completed" : `exited (${rs.find((r) => r.ExitCode !== 0)?.ExitCode ?? 1})` };
  }
  if (states.includes("created")) return { tone: "wait", label: "created" };
  return { tone: "warn", label: `${running}/${rs.length} running` };
}

function stateTone(r) {
  switch (r.State) {
    case "running": return r.Health === "unhealthy" ? "bad" : r.Health === "starting" ? "warn" : "ok";
    case "waiting": case "created": return "wait";
    case "restarting": return "warn";
    case "crash-looping": return "bad";
    case "exited": return r.ExitCode === 0 && !r.Error ? "done" : "bad";
    default: return "idle";
  }
}

function portHost(u) {
  return !u || u === "0.0.0.0" || u === "::" || u === "[::]" ? location.hostname : u;
}

const JOB_TONE = { queued: "wait", running: "warn", succeeded: "ok", failed: "bad", cancelled: "idle" };

/** splitCommand splits a command line like a shell would, for quotes only. */
export function splitCommand(s) {
  const out = [];
  let cur = "", q = null, any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === q) q = null;
      else if (c === "\\" && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') { q = c; any = true; }
    else if (c === "\\" && i + 1 < s.length) { cur += s[++i]; any = true; }
    else if (/\s/.test(c)) { if (cur || any) out.push(cur); cur = ""; any = false; }
    else cur += c;
  }
  if (cur || any) out.push(cur);
  return out;
}

function quoteArg(a) {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

function commandText(cmd) {
  return (cmd || []).map(quoteArg).join(" ");
}

async function act(label, fn) {
  try {
    return await fn();
  } catch (e) {
    toast("error", `${label} failed`, e.message);
    return null;
  }
}

/** openShell starts `sh` on a terminal next to a running service (an exec job) and attaches to it. */
async function openShell(service) {
  const job = await act(`Shell in ${service}`, () => api("POST", "/v1/jobs", { kind: "exec", service, command: ["sh"], tty: true }));
  if (!job) return;
  loadJobs();
  openTerminal({ kind: "job", id: job.ID, service, command: job.Command });
}

// ---------- shell ----------

function Badge({ tone, children, title }) {
  return html`<span class="badge tone-${tone}" title=${title}>${children}</span>`;
}

function Dot({ tone }) {
  return html`<span class="dot tone-${tone}" aria-hidden="true"></span>`;
}

function Header({ route }) {
  const me = state.me;
  const tab = route[0] || "overview";
  const link = (id, href, label, name, key) => html`
    <a href=${href} class=${"tab" + (tab === id ? " active" : "")} aria-current=${tab === id ? "page" : undefined} title=${`${name} (g ${key})`}>${label}</a>`;
  const running = state.jobs.filter((j) => j.Status === "running").length;
  return html`
    <header class="top">
      <a class="brand" href="#/" aria-label="berth overview">
        <img src="/ui/favicon.svg" alt="" width="22" height="22" />
        <span>berth</span>
      </a>
      <span class="project" id="project">${me ? me.project : ""}</span>
      <nav class="tabs">
        ${link("overview", "#/", "Overview", "Overview", "o")}
        ${link("logs", "#/logs", "Logs", "Logs", "l")}
        ${link("jobs", "#/jobs", html`Jobs${running ? html` <span class="count">${running}</span>` : ""}`, "Jobs", "j")}
        ${link("inspect", "#/inspect", "Inspect", "Inspect: the HTTP requests your services get", "i")}
      </nav>
      <div class="spacer"></div>
      ${state.notifyPerm === "default" && html`
        <button class="ghost small" onClick=${async () => { state.notifyPerm = await Notification.requestPermission(); change(); }}
          title="Get a desktop notification when a job you launched or watch ends">Enable notifications</button>`}
      <span class=${"conn conn-" + state.conn} title=${state.conn === "live" ? "Live: updates stream in" : "Reconnecting…"}>
        <${Dot} tone=${state.conn === "live" ? "ok" : "warn"} />${state.conn === "live" ? "live" : "reconnecting"}
      </span>
      <span class="user" title="You are signed in with this token name">
        <span class="avatar" aria-hidden="true">${me ? me.user.slice(0, 1).toUpperCase() : "?"}</span><span id="whoami">${me ? me.user : ""}</span>
      </span>
    </header>`;
}

function Toasts() {
  return html`
    <div class="toasts" role="status" aria-live="polite">
      ${state.toasts.map((t) => html`
        <div class=${"toast toast-" + t.kind} key=${t.id}>
          <div class="toast-main">
            <div class="toast-title">${t.href ? html`<a href=${t.href} onClick=${() => dismiss(t.id)}>${t.title}</a>` : t.title}</div>
            ${t.body && html`<div class="toast-body">${t.body}</div>`}
          </div>
          <button class="icon" aria-label="Dismiss" onClick=${() => dismiss(t.id)}>×</button>
        </div>`)}
    </div>`;
}

const SHORTCUTS = [
  ["g o", "Overview"], ["g l", "Logs"], ["g j", "Jobs"], ["g i", "Inspect"], ["r", "Run a command"],
  ["/", "Filter logs"], ["f", "Follow / pause logs"], ["End", "Jump to newest line"], ["?", "This help"], ["Esc", "Close, leave a field"],
  ["Ctrl-p Ctrl-q", "Detach the terminal (in the terminal)"],
];

function Help({ onClose }) {
  return html`
    <div class="overlay" onClick=${(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="help-title">
        <h2 id="help-title">Keyboard shortcuts</h2>
        <table class="keys">
          ${SHORTCUTS.map(([k, d]) => html`<tr><td>${k.split(" ").map((x) => html`<kbd>${x}</kbd> `)}</td><td>${d}</td></tr>`)}
        </table>
        <div class="dialog-actions"><button onClick=${onClose}>Close</button></div>
      </div>
    </div>`;
}

// ---------- run dialog ----------

function RunDialog({ initial, onClose }) {
  const names = [...state.services.keys()];
  const [service, setService] = useState(initial.service || names[0] || "");
  const [kind, setKind] = useState(initial.kind || "exec");
  const [command, setCommand] = useState(initial.command || "");
  const [tty, setTTY] = useState(!!initial.tty);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState("");
  const input = useRef(null);
  useEffect(() => { input.current && input.current.focus(); }, []);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setErr("");
    try {
      const argv = splitCommand(command);
      const job = await api("POST", "/v1/jobs", { kind, service, command: argv.length ? argv : undefined, tty: tty || undefined });
      onClose();
      loadJobs();
      if (tty) openTerminal({ kind: "job", id: job.ID, service, command: job.Command });
      else location.hash = `#/jobs/${job.ID}`;
    } catch (e2) {
      setErr(e2.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <div class="overlay" onClick=${(e) => e.target === e.currentTarget && onClose()}>
      <form class="dialog" role="dialog" aria-modal="true" aria-labelledby="run-title" onSubmit=${submit} id="run-dialog">
        <h2 id="run-title">Run a command</h2>
        <p class="muted">It runs as a job: its output streams live, it is kept in the history, and you are told when it ends.</p>
        <div class="form-row">
          <label>Service
            <select id="run-service" value=${service} onChange=${(e) => setService(e.target.value)}>
              ${names.map((n) => html`<option value=${n}>${n}</option>`)}
            </select>
          </label>
          <label>How
            <select id="run-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
              <option value="exec">exec — next to the running service</option>
              <option value="run">run — a one-off with the service's setup</option>
            </select>
          </label>
        </div>
        <label>Command
          <input id="run-command" ref=${input} class="mono" value=${command} onInput=${(e) => setCommand(e.target.value)}
            placeholder=${kind === "run" ? "empty: the service's own command" : "e.g. python3 manage.py migrate"} autocomplete="off" spellcheck="false" />
        </label>
        <label class="check">
          <input type="checkbox" id="run-tty" checked=${tty} onChange=${(e) => setTTY(e.target.checked)} />
          <span>Interactive, in a terminal <span class="muted">(a shell, a REPL, a debugger: you type into it here)</span></span>
        </label>
        ${err && html`<div class="callout bad">${err}</div>`}
        <div class="dialog-actions">
          <button type="button" class="ghost" onClick=${onClose}>Cancel</button>
          <button type="submit" class="primary" id="run-submit" disabled=${busy || (!command.trim() && kind === "exec")}>${busy ? "Starting…" : "Run"}</button>
        </div>
      </form>
    </div>`;
}

// ---------- overview ----------

function Overview({ openRun }) {
  useTick(1000);
  const names = [...state.services.keys()].sort();
  const all = names.map((n) => state.services.get(n));
  const counts = { ok: 0, bad: 0, other: 0 };
  for (const s of all) {
    const t = serviceSummary(s).tone;
    if (t === "ok" || t === "done") counts.ok++; else if (t === "bad") counts.bad++; else counts.other++;
  }
  return html`
    <main class="page overview">
      <div class="page-head">
        <div>
          <h1>Services</h1>
          <p class="muted">${names.length} services · ${counts.ok} up or done${counts.bad ? html` · <span class="text-bad">${counts.bad} failing</span>` : ""}${counts.other ? ` · ${counts.other} starting or waiting` : ""}</p>
        </div>
        <div class="actions">
          <button onClick=${() => openRun({})} title="Run a one-off command (r)">Run a command…</button>
        </div>
      </div>
      <div class="layout-2">
        <div class="services">
          ${all.map((s) => html`<${ServiceCard} key=${s.name} svc=${s} openRun=${openRun} />`)}
          ${!names.length && html`<div class="empty">No services yet.</div>`}
        </div>
        <aside class="activity">
          <h2>Activity</h2>
          <ol class="events">
            ${state.events.slice(0, 30).map((e) => html`
              <li><span class="ev-time">${clock(Date.parse(e.time)).slice(0, 8)}</span>
                <span class=${"svc-name c" + colourOf(e.service)}>${e.service}</span>
                <span class="ev-action">${e.action.replace(/_/g, " ")}${e.attributes && e.attributes.exitCode ? ` (exit ${e.attributes.exitCode})` : ""}${e.attributes && e.attributes.health_status ? `: ${e.attributes.health_status}` : ""}</span></li>`)}
            ${!state.events.length && html`<li class="muted">Nothing has happened yet.</li>`}
          </ol>
        </aside>
      </div>
    </main>`;
}

function ServiceCard({ svc, openRun }) {
  const [busy, setBusy] = useState("");
  const sum = serviceSummary(svc);
  const rs = svc.replicas;
  const [scale, setScale] = useState(null);
  const ports = rs.length ? rs[0].Publishers || [] : [];
  const anyRunning = rs.some((r) => ["running", "restarting", "waiting", "crash-looping"].includes(r.State));
  const doAction = async (action, extra = {}) => {
    setBusy(action);
    await act(`${action} ${svc.name}`, () => api("POST", "/v1/actions", { action, service: svc.name, ...extra }));
    setBusy("");
    loadJobs();
  };
  const command = rs.length ? rs[0].Command : "";
  const me = state.me ? state.me.user : "";
  const last = state.jobs.find((j) => j.Service === svc.name && isActionJob(j));
  const tty = onTerminal(svc);
  const hasProcess = rs.some((r) => r.State === "running");
  return html`
    <section class=${"card service tone-edge-" + sum.tone} id=${"svc-" + svc.name} data-service=${svc.name} data-state=${sum.label}>
      <div class="card-head">
        <div class="svc-title">
          <${Dot} tone=${sum.tone} />
          <h2>${svc.name}</h2>
          <${Badge} tone=${sum.tone}>${sum.label}<//>
          ${rs.length > 1 && html`<span class="muted small">${rs.length} replicas</span>`}
        </div>
        <div class="actions">
          ${ports.map((p) => html`<a class="port" href=${`http://${portHost(p.URL)}:${p.PublishedPort}/`} target="_blank" rel="noopener" title="Open in a new tab">:${p.PublishedPort}${p.TargetPort !== p.PublishedPort ? ` → ${p.TargetPort}` : ""} ↗</a>`)}
          ${rs.some((r) => r.Inspected) && html`<a class="button ghost small inspecting" data-action="inspect" href=${"#/inspect?service=" + encodeURIComponent(svc.name)}
            title="The HTTP inspector records this service's requests: see them">● Requests</a>`}
          <a class="button ghost small" href=${"#/logs/" + encodeURIComponent(svc.name)}>Logs</a>
          ${tty && html`<button class="small" data-action="terminal" onClick=${() => openTerminal({ kind: "service", service: svc.name })}
            title="Attach to its terminal: see it and type into it (a debugger at a breakpoint, a REPL)">Terminal</button>`}
          ${hasProcess && html`<button class="small" data-action="shell" onClick=${() => openShell(svc.name)}
            title="Open a shell next to the running service, in its environment (exec sh on a terminal)">Shell</button>`}
          ${anyRunning
            ? html`<button class="small" data-action="restart" disabled=${!!busy} onClick=${() => doAction("restart")}>${busy === "restart" ? "Restarting…" : "Restart"}</button>
                   <button class="small" data-action="stop" disabled=${!!busy} onClick=${() => doAction("stop")}>${busy === "stop" ? "Stopping…" : "Stop"}</button>`
            : html`<button class="small" data-action="start" disabled=${!!busy} onClick=${() => doAction("start")}>${busy === "start" ? "Starting…" : "Start"}</button>`}
          <button class="small" data-action="run" onClick=${() => openRun({ service: svc.name, kind: anyRunning ? "exec" : "run" })} title="Run a command in this service">Run…</button>
          ${scale === null
            ? html`<button class="small ghost" data-action="scale" title="Change the number of replicas" onClick=${() => setScale(String(rs.length || 1))}>Scale</button>`
            : html`<form class="scale" onSubmit=${(e) => { e.preventDefault(); const n = parseInt(scale, 10); setScale(null); doAction("scale", { replicas: n }); }}>
                <input type="number" min="0" max="100" value=${scale} aria-label="Replicas" onInput=${(e) => setScale(e.target.value)}
                  onKeyDown=${(e) => e.key === "Escape" && setScale(null)} ref=${(el) => el && !el._f && (el._f = el.focus() || 1)} />
                <button class="small primary" type="submit">Set</button>
              </form>`}
        </div>
      </div>
      <div class="svc-sub">
        ${command && html`<span class="command mono" title="Command">${command}</span>`}
        ${last && html`<a class="last-action muted" href=${`#/jobs/${last.ID}`} title="The last action on this service">
          ${jobLabel(last)} by ${last.LaunchedBy === me ? "you" : last.LaunchedBy || "?"}, ${ago(last.CreatedAt)}${last.Status === "failed" ? " (failed)" : ""}</a>`}
      </div>
      ${rs.length > 0 && html`
        <table class="replicas">
          <thead><tr><th>Replica</th><th>State</th><th>Health</th><th class="num">Restarts</th><th>Uptime</th><th class="num">PID</th></tr></thead>
          <tbody>
            ${rs.map((r) => html`<${ReplicaRow} key=${r.Name} r=${r} />`)}
          </tbody>
        </table>`}
      ${rs.map((r) => html`<${ReplicaNotes} key=${r.Name + "-n"} r=${r} many=${rs.length > 1} />`)}
    </section>`;
}

function ReplicaRow({ r }) {
  const tone = stateTone(r);
  let uptime = "—";
  if (r.State === "running" && !isZeroTime(r.StartedAt)) uptime = duration(Date.now() - Date.parse(r.StartedAt));
  else if (r.State === "exited" && !isZeroTime(r.FinishedAt)) uptime = `exited ${ago(r.FinishedAt)}`;
  const healthTone = r.Health === "healthy" ? "ok" : r.Health === "unhealthy" ? "bad" : r.Health === "starting" ? "warn" : "idle";
  return html`
    <tr data-replica=${r.Name} data-state=${r.State} data-health=${r.Health}>
      <td class="mono">${r.Name}</td>
      <td><${Badge} tone=${tone}>${r.State}${r.State === "exited" ? ` (${r.ExitCode})` : ""}<//></td>
      <td>${r.Health ? html`<${Badge} tone=${healthTone}>${r.Health}<//>` : html`<span class="muted">—</span>`}</td>
      <td class="num">${r.Restarts}</td>
      <td>${uptime}</td>
      <td class="num mono">${r.Pid || "—"}</td>
    </tr>`;
}

function ReplicaNotes({ r, many }) {
  const who = many ? `${r.Name}: ` : "";
  const notes = [];
  if (r.State === "waiting" && r.WaitingFor) notes.push(html`<div class="callout wait">${who}Waiting for <strong>${waitingText(r.WaitingFor)}</strong>.</div>`);
  if (r.HealthOutput && r.Health !== "healthy") notes.push(html`<div class="callout bad"><div>${who}Last failing health check:</div><pre>${r.HealthOutput}</pre></div>`);
  if (r.Error) notes.push(html`<div class="callout bad">${who}${r.Error}</div>`);
  return notes.length ? html`<div class="notes">${notes}</div>` : null;
}

// ---------- logs ----------

function makePredicate(text, isRegex, services, streams) {
  let test = null;
  let error = "";
  if (text) {
    if (isRegex) {
      try {
        const re = new RegExp(text, "i");
        test = (s) => re.test(s);
      } catch (e) {
        error = e.message;
      }
    } else {
      const needle = text.toLowerCase();
      test = (s) => s.toLowerCase().includes(needle);
    }
  }
  const svcSet = services ? new Set(services) : null;
  const pred = !test && !svcSet && !streams ? null : (l) =>
    (!svcSet || svcSet.has(l.svc)) && (!streams || (streams === "stderr") === l.err) && (!test || test(plainText(l)));
  return { pred, error };
}

/** highlighter wraps filter matches in <mark> in a line's escaped text. */
function highlighter(text, isRegex) {
  if (!text) return null;
  let re;
  try {
    re = new RegExp(isRegex ? text : text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
  } catch {
    return null;
  }
  return (s) => {
    let out = "", last = 0, m;
    re.lastIndex = 0;
    while ((m = re.exec(s)) !== null) {
      if (m[0] === "") { re.lastIndex++; continue; }
      out += escapeHTML(s.slice(last, m.index)) + "<mark>" + escapeHTML(m[0]) + "</mark>";
      last = m.index + m[0].length;
    }
    return out + escapeHTML(s.slice(last));
  };
}

function LogsPage({ route }) {
  const names = [...state.services.keys()].sort();
  const routeSvc = route[1] || "";
  const [selected, setSelected] = useState(routeSvc ? [routeSvc] : []); // [] = all
  const [text, setText] = useState("");
  const [regex, setRegex] = useState(false);
  const [streams, setStreams] = useState("");
  const [follow, setFollow] = useState(true);
  const [count, setCount] = useState(0);
  const [jump, setJump] = useState("");
  const [detail, setDetail] = useState(null);
  const [downloading, setDownloading] = useState(false);
  const box = useRef(null);
  const list = useRef(null);
  const viewRef = useRef(null);
  const combined = selected.length !== 1;

  useEffect(() => { setSelected(routeSvc ? [routeSvc] : []); }, [routeSvc]);

  const { pred, error } = useMemo(() => makePredicate(text, regex, selected.length ? selected : null, streams || null), [text, regex, selected.join("\0"), streams]);

  // The list lives as long as the page.
  useEffect(() => {
    const vl = new VList(box.current, {
      rowHeight: 20,
      minInterval: 33,
      renderRow: () => "",
      onFollow: (on) => setFollow(on),
      onClick: (line) => setDetail(line),
    });
    list.current = vl;
    const stop = state.logs.listen(() => {
      vl.schedule();
    });
    const t = setInterval(() => viewRef.current && setCount(viewRef.current.length), 250);
    return () => { stop(); clearInterval(t); vl.destroy(); };
  }, []);

  // A new filter: a new view and a new row renderer.
  useEffect(() => {
    const vl = list.current;
    const mark = highlighter(text, regex);
    vl.renderRow = (l) => {
      const body = mark && !hasANSI(l.text) ? mark(l.text) : ansiToHTML(l.text);
      return `<span class="lt">${clock(l.t)}</span>${combined ? `<span class="ls c${colourOf(l.svc)}">${escapeHTML(l.svc)}${l.rep > 1 ? "." + l.rep : ""}</span>` : ""}<span class="lx">${body}</span>`;
    };
    const v = new LineView(state.logs, pred);
    viewRef.current = v;
    v.update();
    setCount(v.length);
    vl.setView(v);
  }, [pred, combined]);

  const toggleSvc = (n) => {
    const cur = selected.length ? selected : [];
    const next = cur.includes(n) ? cur.filter((x) => x !== n) : [...cur, n];
    setSelected(next.length === names.length ? [] : next);
  };

  const doJump = (e) => {
    e.preventDefault();
    const v = viewRef.current;
    if (!v || !jump) return;
    const [hh, mm, ss = "0"] = jump.split(":");
    const d = new Date();
    d.setHours(+hh, +mm, +ss, 0);
    let t = d.getTime();
    if (v.length && t > v.line(v.length - 1).t + 60000) t -= 86400000; // a time of yesterday
    const i = v.indexAtTime(t);
    if (i >= v.length) { toast("info", "No line at or after " + jump, "The newest line in view is older."); return; }
    list.current.scrollTo(i);
  };

  const download = async () => {
    setDownloading(true);
    await act("Download logs", () => downloadLogs(selected.length ? selected : names));
    setDownloading(false);
  };

  const total = state.logs.lines.length;
  return html`
    <main class="page logs-page">
      <div class="toolbar" role="toolbar" aria-label="Log filters">
        <div class="chips" role="group" aria-label="Services">
          <button class=${"chip" + (!selected.length ? " on" : "")} aria-pressed=${!selected.length} onClick=${() => setSelected([])}>All</button>
          ${names.map((n) => html`
            <button class=${"chip c" + colourOf(n) + (selected.includes(n) ? " on" : "")} aria-pressed=${selected.includes(n)} data-service=${n}
              onClick=${(e) => (e.shiftKey || e.metaKey || e.ctrlKey ? toggleSvc(n) : setSelected(selected.length === 1 && selected[0] === n ? [] : [n]))}
              title="Click: only this service. Shift-click: add or remove it">${n}</button>`)}
        </div>
        <div class="filter">
          <input id="log-filter" type="search" placeholder=${regex ? "Filter (regular expression)" : "Filter logs  ( / )"} value=${text}
            class=${"mono" + (error ? " invalid" : "")} aria-label="Filter lines" aria-invalid=${!!error} title=${error || ""}
            onInput=${(e) => setText(e.target.value)} spellcheck="false" autocomplete="off" />
          <button class=${"toggle" + (regex ? " on" : "")} aria-pressed=${regex} title="Regular expression" id="log-regex" onClick=${() => setRegex(!regex)}>.*</button>
          <select aria-label="Stream" value=${streams} onChange=${(e) => setStreams(e.target.value)} title="Stream">
            <option value="">stdout + stderr</option><option value="stdout">stdout</option><option value="stderr">stderr</option>
          </select>
        </div>
        <form class="jump" onSubmit=${doJump}>
          <input type="time" step="1" value=${jump} onInput=${(e) => setJump(e.target.value)} aria-label="Jump to time" id="log-jump" />
          <button type="submit" class="small">Jump</button>
        </form>
        <div class="spacer"></div>
        <button class=${"small follow" + (follow ? " on" : "")} id="log-follow" aria-pressed=${follow} onClick=${() => list.current.setFollow(!follow)} title="Follow new lines (f)">
          ${follow ? "❚❚ Pause" : "▶ Follow"}
        </button>
        <button class="small ghost" onClick=${download} disabled=${downloading} title="Download the full logs from disk">${downloading ? "Preparing…" : "Download"}</button>
      </div>
      <div class="filter-error" role="alert">${error && html`<div class="callout bad slim">Regular expression: ${error}</div>`}</div>
      <div class="logbox" ref=${box} id="log-lines" tabindex="0" aria-label="Log lines"></div>
      <div class="statusbar">
        <span id="log-count">${count.toLocaleString()} ${count === 1 ? "line" : "lines"}${pred ? ` match of ${total.toLocaleString()}` : ""}</span>
        ${state.logs.dropped > 0 && html`<span class="muted">· the oldest ${state.logs.dropped.toLocaleString()} lines left the page (kept ${MAX_LOG_LINES.toLocaleString()}; Download has all)</span>`}
        ${state.missed > 0 && html`<span class="text-warn">· ${state.missed.toLocaleString()} lines arrived too fast to show; they are on disk (Download)</span>`}
        <div class="spacer"></div>
        ${!follow && html`<button class="link" onClick=${() => list.current.setFollow(true)}>Jump to newest ↓</button>`}
      </div>
      ${detail && html`
        <div class="line-detail">
          <div class="line-detail-head">
            <span class=${"svc-name c" + colourOf(detail.svc)}>${detail.svc}${detail.rep > 1 ? "." + detail.rep : ""}</span>
            <span class="mono muted">${new Date(detail.t).toISOString()} · ${detail.err ? "stderr" : "stdout"} · #${detail.seq}</span>
            <div class="spacer"></div>
            <button class="icon" aria-label="Close" onClick=${() => setDetail(null)}>×</button>
          </div>
          <pre class="mono" dangerouslySetInnerHTML=${{ __html: ansiToHTML(detail.text) }}></pre>
        </div>`}
    </main>`;
}

// ---------- jobs ----------

/** isAction reports whether a job is a lifecycle action (restart, stop, scale…), not a command. */
function isActionJob(j) {
  return j.Kind === "restart" || j.Kind === "api";
}

function jobLabel(j) {
  return isActionJob(j) ? (j.Command || []).join(" ") : commandText(j.Command);
}

function JobsPage({ openRun }) {
  useEffect(() => {
    loadJobs();
    const t = setInterval(loadJobs, 2000);
    return () => clearInterval(t);
  }, []);
  useTick(1000);
  const me = state.me ? state.me.user : "";
  return html`
    <main class="page jobs-page">
      <div class="page-head">
        <div>
          <h1>Jobs</h1>
          <p class="muted">One-off commands and actions, who launched them and who watches. You are told when yours or those you watch end.</p>
        </div>
        <div class="actions"><button class="primary" onClick=${() => openRun({})} id="new-job">Run a command…</button></div>
      </div>
      <div class="card flush">
        <table class="jobs" id="jobs-table">
          <thead><tr><th class="num">#</th><th>Status</th><th>Service</th><th>Command</th><th>Launched by</th><th>Watchers</th><th>Started</th><th class="num">Took</th></tr></thead>
          <tbody>
            ${state.jobs.map((j) => {
              const tone = JOB_TONE[j.Status] || "idle";
              const took = !isZeroTime(j.StartedAt) ? duration((isZeroTime(j.EndedAt) ? Date.now() : Date.parse(j.EndedAt)) - Date.parse(j.StartedAt)) : "—";
              return html`
                <tr key=${j.ID} class="clickable" data-job=${j.ID} data-status=${j.Status} tabindex="0"
                  onClick=${() => (location.hash = `#/jobs/${j.ID}`)} onKeyDown=${(e) => e.key === "Enter" && (location.hash = `#/jobs/${j.ID}`)}>
                  <td class="num mono"><a href=${`#/jobs/${j.ID}`}>${j.ID}</a></td>
                  <td><${Badge} tone=${tone}>${j.Status}${j.ExitCode != null && j.Status === "failed" ? ` (${j.ExitCode})` : ""}<//></td>
                  <td><span class=${"svc-name c" + colourOf(j.Service)}>${j.Service}</span></td>
                  <td class="mono cmd" title=${commandText(j.Command)}><span class="kind">${isActionJob(j) ? "action" : j.Kind}</span> ${jobLabel(j)}</td>
                  <td>${j.LaunchedBy === me ? html`<strong>you</strong>` : j.LaunchedBy || "—"}</td>
                  <td>${(j.Watchers || []).length ? (j.Watchers || []).map((w) => (w === me ? "you" : w)).join(", ") : html`<span class="muted">—</span>`}</td>
                  <td title=${j.CreatedAt}>${ago(j.CreatedAt)}</td>
                  <td class="num">${took}</td>
                </tr>`;
            })}
            ${state.jobsLoaded && !state.jobs.length && html`<tr><td colspan="8" class="empty">No jobs yet. Run a command, or restart a service: it shows here.</td></tr>`}
          </tbody>
        </table>
      </div>
    </main>`;
}

function JobPage({ id, openRun }) {
  const [job, setJob] = useState(null);
  const [err, setErr] = useState("");
  const [count, setCount] = useState(0);
  const [follow, setFollow] = useState(true);
  const box = useRef(null);
  const list = useRef(null);
  const buf = useMemo(() => new LineBuffer(100000), [id]);
  useTick(1000);

  const refresh = useCallback(async () => {
    try {
      const j = await api("GET", `/v1/jobs/${id}`);
      setJob(j);
      return j;
    } catch (e) {
      setErr(e.message);
      return null;
    }
  }, [id]);

  useEffect(() => {
    const vl = new VList(box.current, {
      rowHeight: 20,
      renderRow: (l) => `<span class="lt">${clock(l.t)}</span><span class="lx">${ansiToHTML(l.text)}</span>`,
      onFollow: setFollow,
    });
    list.current = vl;
    vl.setView(new LineView(buf));
    const stopListen = buf.listen(() => { vl.schedule(); setCount(buf.lines.length); });
    const stream = `job/${id}`;
    let subscribed = false;
    let cancelled = false;
    const add = (o) => buf.push({ t: Date.parse(o.time), err: o.stream === "stderr", text: o.text, plain: null });
    const loadFile = async () => {
      buf.clear();
      await ndjson(`/v1/jobs/${id}/output`, add);
    };
    (async () => {
      const j = await refresh();
      if (!j || cancelled) return;
      if (j.Status === "succeeded" || j.Status === "failed" || j.Status === "cancelled") {
        await act("Load output", loadFile);
        return;
      }
      conn.on(stream, (f) => {
        const p = f.payload;
        if (p.type === "output") add(p);
        else if (p.type === "end") refresh();
      });
      subscribed = true;
      try {
        await conn.subscribe([stream], { since: { [stream]: 0 } });
      } catch (e) {
        toast("error", "Follow job failed", e.message);
      }
      refresh(); // opening a running job makes you one of its watchers
    })();
    const stopNotice = onNotice((p) => {
      if (p.op === "gap" && p.stream === stream) act("Load output", loadFile);
    });
    return () => {
      cancelled = true;
      stopListen();
      stopNotice();
      if (subscribed) { conn.unsubscribe([stream]); conn.off(stream); }
      vl.destroy();
    };
  }, [id]);

  // A running job may be on a terminal (started with tty): then it can be attached.
  const [tty, setTTY] = useState(false);
  const isRunning = !!job && job.Status === "running";
  useEffect(() => {
    if (!isRunning) { setTTY(false); return; }
    let live = true;
    probeTerminal(attachPath({ kind: "job", id })).then((r) => live && setTTY(r.ok)).catch(() => {});
    return () => { live = false; };
  }, [id, isRunning]);

  if (err) return html`<main class="page"><div class="callout bad">Job #${id}: ${err}</div><p><a href="#/jobs">← All jobs</a></p></main>`;
  const me = state.me ? state.me.user : "";
  const tone = job ? JOB_TONE[job.Status] || "idle" : "idle";
  const running = job && (job.Status === "running" || job.Status === "queued");
  const watching = job && (job.Watchers || []).includes(me);
  const mine = job && job.LaunchedBy === me;
  const rerun = async () => {
    if (isActionJob(job)) {
      const [action, ...args] = job.Command || [];
      let ok;
      if (action === "restart" && args.length !== 1) {
        ok = await act("Re-run", () => api("POST", "/v1/restart", { services: args }));
      } else {
        const [service, n] = (args[0] || job.Service).split("=");
        ok = await act("Re-run", () => api("POST", "/v1/actions", { action, service, ...(n !== undefined ? { replicas: +n } : {}) }));
      }
      if (ok) toast("ok", `${jobLabel(job)}: done`);
      loadJobs();
      location.hash = "#/jobs";
      return;
    }
    const j = await act("Re-run", () => api("POST", "/v1/jobs", { kind: job.Kind, service: job.Service, command: job.Command }));
    if (j) location.hash = `#/jobs/${j.ID}`;
  };
  const watch = async (on) => {
    await act(on ? "Watch" : "Unwatch", () => api(on ? "POST" : "DELETE", `/v1/jobs/${id}/watch`));
    refresh();
  };
  return html`
    <main class="page job-page">
      <div class="page-head">
        <div class="grow">
          <p class="crumbs"><a href="#/jobs">Jobs</a> / #${id}</p>
          <h1 class="job-title" title=${job ? jobLabel(job) : ""}>
            <span class="mono">${job ? jobLabel(job) || "(the service's command)" : "…"}</span>
          </h1>
          ${job && html`
            <dl class="facts">
              <div><dt>Status</dt><dd id="job-status" data-status=${job.Status}><${Badge} tone=${tone}>${job.Status}<//></dd></div>
              <div><dt>Exit code</dt><dd id="job-exit">${job.ExitCode != null ? job.ExitCode : "—"}</dd></div>
              <div><dt>Service</dt><dd><span class=${"svc-name c" + colourOf(job.Service)}>${job.Service}</span> <span class="muted">(${job.Kind})</span></dd></div>
              <div><dt>Launched by</dt><dd id="job-launcher">${mine ? "you" : job.LaunchedBy || "—"}</dd></div>
              <div><dt>Watchers</dt><dd id="job-watchers">${(job.Watchers || []).length ? job.Watchers.map((w) => (w === me ? "you" : w)).join(", ") : "—"}</dd></div>
              <div><dt>Started</dt><dd title=${job.StartedAt}>${isZeroTime(job.StartedAt) ? "—" : ago(job.StartedAt)}</dd></div>
              <div><dt>Took</dt><dd>${isZeroTime(job.StartedAt) ? "—" : duration((isZeroTime(job.EndedAt) ? Date.now() : Date.parse(job.EndedAt)) - Date.parse(job.StartedAt))}</dd></div>
            </dl>`}
          ${job && job.Error && html`<div class="callout bad">${job.Error}</div>`}
        </div>
        <div class="actions">
          ${job && !mine && (watching
            ? html`<button key="unwatch" id="job-unwatch" onClick=${() => watch(false)} title="Stop being told when it ends">Unwatch</button>`
            : html`<button key="watch" id="job-watch" class="primary" onClick=${() => watch(true)} disabled=${!running} title="Be told when it ends">Watch</button>`)}
          ${running && tty && html`<button id="job-terminal" class="primary" onClick=${() => openTerminal({ kind: "job", id: job.ID, service: job.Service, command: job.Command })}
            title="It runs on a terminal: attach to it">Terminal</button>`}
          ${running && html`<button class="danger" onClick=${() => act("Cancel", () => api("POST", `/v1/jobs/${id}/cancel`)).then(refresh)}>Cancel</button>`}
          ${job && !running && html`<button id="job-rerun" onClick=${rerun}>Re-run</button>`}
        </div>
      </div>
      <div class="output-head">
        <span>Output</span><span class="muted">${count.toLocaleString()} lines</span>
        <div class="spacer"></div>
        ${running && html`<span class="live"><${Dot} tone="warn" /> running</span>`}
        ${!follow && html`<button class="link" onClick=${() => list.current.setFollow(true)}>Jump to newest ↓</button>`}
      </div>
      <div class="logbox job-output" ref=${box} id="job-output" tabindex="0" aria-label="Job output"></div>
    </main>`;
}

// ---------- inspect ----------

const NO_FILTER = { service: "", method: "", status: "", path: "", header: "", body: "" };

/** hashQuery is the query part of the address's hash (#/inspect?service=api). */
function hashQuery() {
  return new URLSearchParams(location.hash.split("?")[1] || "");
}

function Method({ m }) {
  return html`<span class=${"method m-" + (insp.METHODS.includes(m) ? m.toLowerCase() : "other")}>${m}</span>`;
}

function Status({ ex }) {
  const r = ex.response;
  const label = r.status ? String(r.status) : ex.upgraded ? "101" : "error";
  return html`<${Badge} tone=${insp.statusTone(r.status)} title=${ex.error || (r.status ? `${r.status} ${r.reason || ""}` : "no response")}>${label}<//>`;
}

/**
 * InspectPage is the HTTP inspector: the exchanges recorded on inspected
 * ports, newest first, live from the inspect stream, filtered by the list
 * API; the selected one's detail beside; the per-service switches.
 */
function InspectPage({ route }) {
  const selID = route[1] ? +route[1] : 0;
  const [filter, setFilter] = useState(() => ({ ...NO_FILTER, service: hashQuery().get("service") || "" }));
  const [typed, setTyped] = useState({ path: "", header: "", body: "" });
  const [list, setList] = useState([]);
  const [loaded, setLoaded] = useState(false);
  const [more, setMore] = useState(false);
  const [picked, setPicked] = useState(() => new Set());
  const [live, setLive] = useState("connecting");
  const [fresh, setFresh] = useState(() => new Set());
  const [downloading, setDownloading] = useState(false);
  const filterRef = useRef(filter);
  filterRef.current = filter;
  const listRef = useRef(list);
  listRef.current = list;
  const gen = useRef(0);

  const load = useCallback(async (f) => {
    const g = ++gen.current;
    try {
      const rows = await api("GET", "/api/inspect?" + insp.query(f, { limit: insp.LIST_LIMIT }));
      if (g !== gen.current) return;
      setFresh(new Set());
      setList(rows || []);
      setMore((rows || []).length === insp.LIST_LIMIT);
    } catch (e) {
      if (g === gen.current) toast("error", "Loading the requests failed", e.message);
    } finally {
      if (g === gen.current) setLoaded(true);
    }
  }, []);
  useEffect(() => { load(filter); }, [filter]);

  // Typing in a text filter asks the API once the typing pauses.
  useEffect(() => {
    const t = setTimeout(() => setFilter((f) => (f.path === typed.path && f.header === typed.header && f.body === typed.body ? f : { ...f, ...typed })), 250);
    return () => clearTimeout(t);
  }, [typed.path, typed.header, typed.body]);

  // addNew puts exchanges that just arrived at the top (each once).
  const addNew = useCallback((exs) => {
    if (!exs.length) return;
    setList((cur) => {
      const have = new Set(cur.map((e) => e.id));
      const add = exs.filter((e) => !have.has(e.id));
      if (!add.length) return cur;
      setFresh((s) => new Set([...s, ...add.map((e) => e.id)]));
      return [...add, ...cur].sort((a, b) => b.id - a.id).slice(0, insp.MAX_LIST);
    });
  }, []);
  // catchUp asks the API for what matches and is newer than the top row.
  const catchUp = useCallback(async () => {
    const f = filterRef.current;
    const g = gen.current;
    const top = listRef.current[0];
    const rows = await api("GET", "/api/inspect?" + insp.query(f, { after: top ? top.id : "", limit: insp.LIST_LIMIT }));
    if (g === gen.current && f === filterRef.current) addNew(rows || []);
  }, []);

  // The inspect stream: every stored exchange (without bodies), live. If
  // berth does not offer it, the page asks for news every 1.5 s instead.
  useEffect(() => {
    let alive = true, timer = 0, poll = 0;
    const later = () => { clearTimeout(timer); timer = setTimeout(() => catchUp().catch(() => {}), 150); };
    conn.on("inspect", (f) => {
      const m = insp.matches(f.payload, filterRef.current);
      if (m === true) addNew([f.payload]);
      else if (m === null) later(); // a body filter: the API decides
    });
    // A berth that does not know the stream refuses the subscription; the
    // refusal may come without the request's id, as a notice.
    let refused = null;
    const refusal = new Promise((resolve) => { refused = resolve; });
    (async () => {
      await conn.opened;
      try {
        const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("no answer to the subscription")), 5000));
        await Promise.race([conn.subscribe(["inspect"]), refusal.then((m) => { throw new Error(m); }), timeout]);
        if (!alive) return;
        setLive("stream");
        catchUp().catch(() => {}); // what was stored between the list and the subscription
      } catch (e) {
        if (!alive) return;
        console.warn("subscribe inspect:", e.message);
        conn.unsubscribe(["inspect"]);
        setLive("poll");
        poll = setInterval(() => catchUp().catch(() => {}), 1500);
      }
    })();
    const stopNotice = onNotice((p) => {
      if (p.stream === "inspect" && (p.op === "gap" || p.op === "missed")) later();
      if (p.op === "error" && /"inspect"/.test(p.message || "")) refused(p.message);
    });
    return () => {
      alive = false;
      clearTimeout(timer);
      clearInterval(poll);
      stopNotice();
      conn.unsubscribe(["inspect"]);
      conn.off("inspect");
    };
  }, []);
  // Back from a lost connection: fetch what was recorded meanwhile.
  const wasConn = useRef(state.conn);
  useEffect(() => {
    if (state.conn === "live" && wasConn.current === "offline") catchUp().catch(() => {});
    wasConn.current = state.conn;
  }, [state.conn]);
  // The highlight of new rows fades.
  useEffect(() => {
    if (!fresh.size) return;
    const t = setTimeout(() => setFresh(new Set()), 1600);
    return () => clearTimeout(t);
  }, [fresh]);

  const older = async () => {
    const last = list[list.length - 1];
    const rows = await act("Load older requests", () => api("GET", "/api/inspect?" + insp.query(filter, { before: last ? last.id : "", limit: insp.LIST_LIMIT })));
    if (!rows) return;
    setList((cur) => [...cur, ...rows.filter((r) => !cur.some((c) => c.id === r.id))]);
    setMore(rows.length === insp.LIST_LIMIT);
  };

  const set = (k, v) => setFilter((f) => ({ ...f, [k]: v }));
  const clear = () => { setTyped({ path: "", header: "", body: "" }); setFilter(NO_FILTER); };
  const filtered = Object.values(filter).some(Boolean) || Object.values(typed).some(Boolean);
  const togglePick = (id) => setPicked((s) => { const n = new Set(s); n.has(id) ? n.delete(id) : n.add(id); return n; });
  const allPicked = list.length > 0 && list.every((e) => picked.has(e.id));
  const pickAll = () => setPicked(allPicked ? new Set() : new Set(list.map((e) => e.id)));
  const har = async () => {
    setDownloading(true);
    await act("Download HAR", () => insp.downloadHAR([...picked].sort((a, b) => a - b), filter, state.me && state.me.project));
    setDownloading(false);
  };
  const open = (id) => { location.hash = `#/inspect/${id}`; };
  const onRowKey = (e, id) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(id); return; }
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp" && e.key !== "j" && e.key !== "k") return;
    e.preventDefault();
    const row = e.key === "ArrowDown" || e.key === "j" ? e.currentTarget.nextElementSibling : e.currentTarget.previousElementSibling;
    if (row && row.dataset.id) { row.focus(); open(row.dataset.id); }
  };

  const names = [...state.services.keys()].sort();
  return html`
    <main class="page inspect-page" data-live=${live}>
      <div class="page-head">
        <div>
          <h1>Inspect</h1>
          <p class="muted">The HTTP requests your services get on their inspected ports, live: open one to see it whole, replay it, or edit and replay it.</p>
        </div>
        <div class="actions">
          <button id="insp-har" onClick=${har} disabled=${downloading || !list.length}
            title=${picked.size ? "Download the selected requests as HAR 1.2 (credentials redacted)" : "Download every request that matches the filter as HAR 1.2 (credentials redacted)"}>
            ${downloading ? "Preparing…" : picked.size ? `Download HAR (${picked.size} selected)` : "Download HAR (all)"}</button>
        </div>
      </div>
      <${Recording} />
      <div class="toolbar insp-filters" role="toolbar" aria-label="Request filters">
        <select id="insp-service" aria-label="Service" value=${filter.service} onChange=${(e) => set("service", e.target.value)}>
          <option value="">All services</option>
          ${names.map((n) => html`<option value=${n}>${n}</option>`)}
        </select>
        <select id="insp-method" aria-label="Method" value=${filter.method} onChange=${(e) => set("method", e.target.value)}>
          <option value="">Any method</option>
          ${insp.METHODS.map((m) => html`<option value=${m}>${m}</option>`)}
        </select>
        <select id="insp-status" aria-label="Status" value=${filter.status} onChange=${(e) => set("status", e.target.value)}>
          <option value="">Any status</option>
          ${[1, 2, 3, 4, 5].map((c) => html`<option value=${c}>${c}xx</option>`)}
        </select>
        <input id="insp-path" type="search" class="mono" placeholder="Path contains" aria-label="Path contains" value=${typed.path}
          onInput=${(e) => { const v = e.target.value; setTyped((t) => ({ ...t, path: v })); }} spellcheck="false" autocomplete="off" />
        <input id="insp-header" type="search" class="mono" placeholder="Header (name or name:value)" aria-label="Header" value=${typed.header}
          onInput=${(e) => { const v = e.target.value; setTyped((t) => ({ ...t, header: v })); }} spellcheck="false" autocomplete="off" />
        <input id="insp-body" type="search" class="mono" placeholder="Body contains" aria-label="Body contains" value=${typed.body}
          onInput=${(e) => { const v = e.target.value; setTyped((t) => ({ ...t, body: v })); }} spellcheck="false" autocomplete="off" />
        ${filtered && html`<button class="small ghost" id="insp-clear" onClick=${clear}>Clear</button>`}
        <div class="spacer"></div>
        <span class="live-state muted small" title=${live === "poll" ? "The inspect stream is not available: new requests are fetched every 1.5 s" : "New requests stream in"}>
          <${Dot} tone=${live === "stream" ? "ok" : live === "poll" ? "warn" : "idle"} /> ${live === "poll" ? "polling" : "live"}
        </span>
      </div>
      <div class=${"insp-split" + (selID ? " with-detail" : "")}>
        <div class="card flush insp-list" id="insp-list">
          <table class="exchanges">
            <thead><tr>
              <th class="pick"><input type="checkbox" aria-label="Select all" checked=${allPicked} onChange=${pickAll} /></th>
              <th>Time</th><th>Service</th><th>Method</th><th>Path</th><th>Status</th><th class="num">Duration</th><th class="num">Size</th>
            </tr></thead>
            <tbody>
              ${list.map((ex) => html`
                <tr key=${ex.id} class=${"clickable" + (ex.id === selID ? " selected" : "") + (fresh.has(ex.id) ? " fresh" : "")} tabindex="0"
                  data-id=${ex.id} data-status=${ex.response.status} aria-selected=${ex.id === selID}
                  onClick=${(e) => e.target.type !== "checkbox" && open(ex.id)} onKeyDown=${(e) => onRowKey(e, ex.id)}>
                  <td class="pick"><input type="checkbox" aria-label=${"Select " + ex.id} checked=${picked.has(ex.id)} onChange=${() => togglePick(ex.id)} /></td>
                  <td class="mono muted time" title=${ex.start}>${clock(Date.parse(ex.start))}</td>
                  <td><span class=${"svc-name c" + colourOf(ex.service)}>${ex.service}</span></td>
                  <td><${Method} m=${ex.request.method} /></td>
                  <td class="mono path" title=${ex.request.target}>${ex.request.target}${ex.replayOf ? html` <span class="kind" title=${"A replay of #" + ex.replayOf}>replay</span>` : ""}</td>
                  <td><${Status} ex=${ex} /></td>
                  <td class="num mono">${insp.fmtMs(insp.exchangeMs(ex))}</td>
                  <td class="num mono">${insp.fmtBytes(ex.response.size)}${ex.response.truncated ? "+" : ""}</td>
                </tr>`)}
              ${loaded && !list.length && html`<tr><td colspan="8" class="empty">${filtered ? "No request matches the filter." : html`<${NoRequests} />`}</td></tr>`}
            </tbody>
          </table>
          ${more && html`<div class="more"><button class="small" onClick=${older}>Load older requests</button></div>`}
        </div>
        ${selID ? html`<${ExchangeView} key=${selID} id=${selID} tab=${route[2] || ""} onReplayed=${(ex) => insp.matches(ex, filterRef.current) === true && addNew([ex])} />` : ""}
      </div>
    </main>`;
}

/** NoRequests says where to send a request to see it here. */
function NoRequests() {
  const ports = [];
  for (const s of state.services.values()) {
    if (!s.replicas.some((r) => r.Inspected)) continue;
    for (const p of (s.replicas[0].Publishers || []).filter(insp.inspectable)) ports.push([s.name, p]);
  }
  if (!ports.length) return html`Nothing is inspected yet: switch the inspector on for a service above (or set <code>x-berth: {inspect: true}</code> on it).`;
  return html`No request yet. Send one to ${ports.map(([n, p], i) => html`${i ? ", " : ""}<a href=${`http://${portHost(p.URL)}:${p.PublishedPort}/`} target="_blank" rel="noopener">${n} :${p.PublishedPort}</a>`)}: it shows here at once.`;
}

/**
 * Recording is the inspector's switch per service that publishes ports:
 * on, berth's proxy records the port's HTTP traffic.
 */
function Recording() {
  const [busy, setBusy] = useState("");
  const svcs = [...state.services.values()].filter((s) => s.replicas.length && (s.replicas[0].Publishers || []).some((p) => p.PublishedPort))
    .sort((a, b) => a.name.localeCompare(b.name));
  const flip = async (s, on) => {
    setBusy(s.name);
    const r = await act(on ? `Inspect ${s.name}` : `Stop inspecting ${s.name}`, () => api("POST", `/api/services/${encodeURIComponent(s.name)}/inspect`, { on }));
    setBusy("");
    if (!r) return;
    const cur = state.services.get(s.name);
    if (cur) for (const rep of cur.replicas) rep.Inspected = r.inspected;
    change();
  };
  return html`
    <div class="recording" role="group" aria-label="Inspected services">
      <span class="recording-label">Recording</span>
      ${svcs.map((s) => {
        const on = s.replicas.some((r) => r.Inspected);
        const ok = (s.replicas[0].Publishers || []).some(insp.inspectable);
        const ports = (s.replicas[0].Publishers || []).filter((p) => p.PublishedPort).map((p) => ":" + p.PublishedPort).join(" ");
        return html`
          <button class=${"switch" + (on ? " on" : "") + (ok ? "" : " unavailable")} role="switch" aria-checked=${on} id=${"insp-toggle-" + s.name} data-service=${s.name}
            disabled=${busy === s.name} onClick=${() => flip(s, !on)}
            title=${on ? `Recording ${s.name}'s HTTP traffic on ${ports}: click to stop` : ok ? `Record ${s.name}'s HTTP traffic on ${ports}` : `${s.name} binds ${ports} itself (published on the same port): publish another host port to inspect it`}>
            <span class="knob" aria-hidden="true"></span>
            <span class=${"svc-name c" + colourOf(s.name)}>${s.name}</span><span class="mono muted small">${ports}</span>
          </button>`;
      })}
      ${!svcs.length && html`<span class="muted small">No service publishes a port: add <code>ports: ["8080:8000"]</code> to one in compose.yaml to inspect it.</span>`}
    </div>`;
}

const INSPECT_TABS = [["response", "Response"], ["request", "Request"], ["timing", "Timing"], ["frames", "Frames"], ["diff", "Diff"]];

/** ExchangeView is one exchange whole: its request and response, timings, frames, and its diff with the exchange it replays. */
function ExchangeView({ id, tab, onReplayed }) {
  const [ex, setEx] = useState(null);
  const [err, setErr] = useState("");
  const [cur, setCur] = useState(tab || "");
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [curl, setCurl] = useState(false);

  useEffect(() => {
    let live = true;
    api("GET", `/api/inspect/${id}`).then((d) => live && setEx(d)).catch((e) => {
      if (!live) return;
      setErr(e.message);
      toast("error", `Exchange #${id}`, e.message);
    });
    return () => { live = false; };
  }, [id]);

  const close = html`<button class="icon" aria-label="Close" title="Close" onClick=${() => (location.hash = "#/inspect")}>×</button>`;
  if (err) return html`<section class="card insp-detail" id="insp-detail"><div class="detail-head"><div class="grow"><div class="callout bad">${err}</div></div>${close}</div></section>`;
  if (!ex) return html`<section class="card insp-detail" id="insp-detail"><div class="empty">Loading #${id}…</div></section>`;

  const tabs = INSPECT_TABS.filter(([k]) => (k !== "frames" || ex.upgraded || ex.frameCount) && (k !== "diff" || ex.replayOf));
  const active = tabs.some(([k]) => k === cur) ? cur : ex.upgraded ? "frames" : "response";
  const t = insp.timings(ex);
  const replay = async (body) => {
    setBusy(true);
    const r = await act(`Replay #${id}`, () => api("POST", `/api/inspect/${id}/replay`, body));
    setBusy(false);
    if (!r) return false;
    if (r.error) toast("error", `Replay of #${id} failed`, r.error);
    onReplayed(r.exchange);
    location.hash = `#/inspect/${r.exchange.id}/diff`;
    return true;
  };
  const copy = async () => {
    if (await insp.copyText(ex.curl)) toast("ok", "Copied as curl", ex.curl.length > 160 ? ex.curl.slice(0, 159) + "…" : ex.curl);
    else { setCurl(true); toast("info", "Copy it from the page", "The browser did not allow the clipboard: the command is shown below the request."); }
  };
  return html`
    <section class="card insp-detail" id="insp-detail" data-id=${ex.id} aria-label=${"Exchange " + ex.id}>
      <div class="detail-head">
        <div class="grow">
          <div class="detail-title">
            <${Method} m=${ex.request.method} />
            <span class="mono url" id="insp-url" title=${ex.request.target}>${ex.request.target}</span>
          </div>
          <div class="detail-sub">
            <span id="insp-detail-status"><${Status} ex=${ex} /> <span class="muted">${ex.response.reason || ""}</span></span>
            <span class=${"svc-name c" + colourOf(ex.service)}>${ex.service}</span>
            <span class="mono muted" title=${ex.start}>#${ex.id} · ${clock(Date.parse(ex.start))}</span>
            <span class="mono" title="Total time">${insp.fmtMs(t.total)}</span>
            <span class="mono" title="Response body">${insp.fmtBytes(ex.response.size)}</span>
            ${ex.replayOf ? html`<a href=${`#/inspect/${ex.replayOf}`} class="small" id="insp-replay-of">replay of #${ex.replayOf}</a>` : ""}
          </div>
        </div>
        ${close}
      </div>
      <div class="detail-actions">
        <button class="small" id="insp-copy-curl" onClick=${copy} title="Copy a curl command that sends this request again">Copy as curl</button>
        <button class="small primary" id="insp-replay" disabled=${busy || ex.upgraded} onClick=${() => replay(undefined)}
          title=${ex.upgraded ? "A WebSocket cannot be replayed as it was" : "Send the same request again and compare the responses"}>${busy ? "Replaying…" : "Replay"}</button>
        <button class="small" id="insp-edit" disabled=${busy} onClick=${() => setEditing(true)} title="Change the method, path, headers or body, then send it">Edit and replay…</button>
        <button class="small ghost" id="insp-har-one" onClick=${() => act("Download HAR", () => insp.downloadHAR([ex.id], null, state.me && state.me.project))}
          title="Download this exchange as HAR 1.2 (credentials redacted)">HAR</button>
      </div>
      ${ex.error && html`<div class="callout bad slim">${ex.error}</div>`}
      <div class="detail-tabs" role="tablist">
        ${tabs.map(([k, label]) => html`
          <button role="tab" class=${"dtab" + (k === active ? " active" : "")} aria-selected=${k === active} data-tab=${k} id=${"insp-tab-" + k}
            onClick=${() => setCur(k)}>${label}${k === "frames" && ex.frameCount ? html` <span class="muted">${ex.frameCount}</span>` : ""}</button>`)}
      </div>
      <div class="detail-body" role="tabpanel">
        ${active === "response" && html`
          <${Section} title="Headers" count=${insp.headerRows(ex.response.header).length}><${HeaderTable} h=${ex.response.header} /><//>
          <${Section} title="Body"><${BodyView} id="insp-response-body" headers=${ex.response.header} text=${ex.responseText} b64=${ex.response.body} size=${ex.response.size} truncated=${ex.response.truncated} /><//>`}
        ${active === "request" && html`
          <div class="kv-line mono small"><span class="muted">${ex.request.proto}</span> ${ex.request.method} http://${ex.request.host}${ex.request.target}</div>
          <${Section} title="Headers" count=${insp.headerRows(ex.request.header).length}><${HeaderTable} h=${ex.request.header} /><//>
          <${Section} title="Body"><${BodyView} id="insp-request-body" headers=${ex.request.header} text=${ex.requestText} b64=${ex.request.body} size=${ex.request.size} truncated=${ex.request.truncated} /><//>
          <${Section} title="curl" open=${curl}><pre class="code curl" id="insp-curl">${ex.curl}</pre><//>`}
        ${active === "timing" && html`<${TimingView} ex=${ex} t=${t} />`}
        ${active === "frames" && html`<${FramesView} ex=${ex} />`}
        ${active === "diff" && html`<${ReplayDiff} ex=${ex} />`}
      </div>
      ${editing && html`<${EditReplay} ex=${ex} onClose=${() => setEditing(false)} onSend=${replay} />`}
    </section>`;
}

/** Section is a titled, collapsible part of the detail pane. */
function Section({ title, count, open = true, children }) {
  return html`
    <details class="dsec" open=${open}>
      <summary>${title}${count !== undefined ? html` <span class="muted">${count}</span>` : ""}</summary>
      ${children}
    </details>`;
}

function HeaderTable({ h }) {
  const rows = insp.headerRows(h);
  if (!rows.length) return html`<p class="muted small">No headers.</p>`;
  return html`
    <table class="kv">
      <tbody>${rows.map(([k, v]) => html`<tr><th scope="row" class="mono">${k}</th><td class="mono">${v}</td></tr>`)}</tbody>
    </table>`;
}

/** BodyView shows a body as what it is: JSON indented and coloured, form fields as a table, XML indented, binary as hex. */
function BodyView({ id, headers, text, b64, size, truncated }) {
  const v = useMemo(() => insp.viewBody(headers, text, b64), [headers, text, b64]);
  const [raw, setRaw] = useState(false);
  const kept = insp.b64Bytes(b64).length;
  const note = html`
    <div class="body-meta small muted">
      <span>${v.mt || "no Content-Type"}</span><span>·</span><span>${insp.fmtBytes(size)}</span>
      ${truncated && html`<span class="text-warn">· only the first ${insp.fmtBytes(kept)} were kept (the recording cap)</span>`}
      ${header(headers, "Content-Encoding") && html`<span>· ${header(headers, "Content-Encoding")}${text != null ? ", decoded" : ""}</span>`}
      <div class="spacer"></div>
      ${(v.kind === "json" || v.kind === "xml" || v.kind === "form") && html`<button class="link small" onClick=${() => setRaw(!raw)}>${raw ? "Pretty" : "Raw"}</button>`}
    </div>`;
  let body;
  if (raw && text != null) body = html`<pre class="code" id=${id} data-kind="raw">${text}</pre>`;
  else switch (v.kind) {
    case "empty": return html`<p class="muted small" id=${id} data-kind="empty">${size ? `${insp.fmtBytes(size)}, not kept.` : "No body."}</p>`;
    case "json": body = html`<pre class="code json" id=${id} data-kind="json" dangerouslySetInnerHTML=${{ __html: v.html }}></pre>`; break;
    case "form": body = html`
      <table class="kv form-fields" id=${id} data-kind="form">
        <thead><tr><th>Field</th><th>Value</th></tr></thead>
        <tbody>${v.fields.map(([k, val]) => html`<tr><th scope="row" class="mono">${k}</th><td class="mono">${val}</td></tr>`)}</tbody>
      </table>`; break;
    case "binary": body = html`
      <div id=${id} data-kind="binary">
        <p class="small">Binary: ${insp.fmtBytes(size)}${v.size < size ? ` (${insp.fmtBytes(v.size)} kept)` : ""}. The first ${Math.min(v.size, 512)} bytes:</p>
        <pre class="code hex">${v.hex}</pre>
      </div>`; break;
    default: body = html`<pre class="code" id=${id} data-kind=${v.kind}>${v.text}</pre>`;
  }
  return html`${note}${body}`;
}

function header(h, name) { return insp.header(h, name); }

/** TimingView shows the phases of an exchange as a waterfall, and the service's Server-Timing. */
function TimingView({ ex, t }) {
  const total = Math.max(t.total, 0.001);
  const pct = (ms) => `${Math.max(0, Math.min(100, (ms / total) * 100))}%`;
  const wait = Math.max(0, t.first - t.connect);
  const st = ex.serverTiming || [];
  const stMax = Math.max(total, ...st.map((m) => m.dur || 0));
  return html`
    <div id="insp-timing">
      <dl class="facts timing-facts">
        <div><dt>Connect</dt><dd class="mono" title="Waiting for a backend connection (a restart, a dial); 0 on a reused one">${insp.fmtMs(t.connect)}</dd></div>
        <div><dt>First byte</dt><dd class="mono" title="From the first byte of the request to the first byte of the response">${ex.firstByte ? insp.fmtMs(t.first) : "—"}</dd></div>
        <div><dt>Transfer</dt><dd class="mono" title="The rest of the response">${insp.fmtMs(t.transfer)}</dd></div>
        <div><dt>Total</dt><dd class="mono">${insp.fmtMs(t.total)}</dd></div>
      </dl>
      <div class="waterfall" aria-hidden="true">
        <div class="wf-row"><span class="wf-label">connect</span><div class="wf-track"><span class="wf-bar wf-connect" style=${{ left: "0%", width: pct(t.connect) }}></span></div></div>
        <div class="wf-row"><span class="wf-label">waiting</span><div class="wf-track"><span class="wf-bar wf-wait" style=${{ left: pct(t.connect), width: pct(wait) }}></span></div></div>
        <div class="wf-row"><span class="wf-label">transfer</span><div class="wf-track"><span class="wf-bar wf-transfer" style=${{ left: pct(t.first), width: pct(t.transfer) }}></span></div></div>
      </div>
      <${Section} title="Server-Timing" count=${st.length}>
        ${st.length ? html`
          <table class="kv server-timing" id="insp-server-timing">
            <thead><tr><th>Metric</th><th>Description</th><th class="num">Duration</th><th class="bar-col"></th></tr></thead>
            <tbody>${st.map((m) => html`
              <tr><th scope="row" class="mono">${m.name}</th><td>${m.desc || html`<span class="muted">—</span>`}</td>
                <td class="num mono">${m.dur ? insp.fmtMs(m.dur) : "—"}</td>
                <td class="bar-col"><span class="st-bar" style=${{ width: `${((m.dur || 0) / stMax) * 100}%` }}></span></td></tr>`)}
            </tbody>
          </table>` : html`<p class="muted small">The response has no <code>Server-Timing</code> header.</p>`}
      <//>
      <${Section} title="Connection">
        <table class="kv"><tbody>
          <tr><th scope="row">Started</th><td class="mono">${ex.start}</td></tr>
          <tr><th scope="row">Client</th><td class="mono">${ex.remote || "—"}${ex.conn ? html` <span class="muted">(connection ${ex.conn}, request ${ex.seq})</span>` : ""}</td></tr>
          <tr><th scope="row">Served by</th><td class="mono">${ex.backend || "—"}</td></tr>
          <tr><th scope="row">Protocol</th><td class="mono">${ex.request.proto}${ex.upgraded ? " → WebSocket" : ""}</td></tr>
        </tbody></table>
      <//>
    </div>`;
}

/** FramesView lists the frames of a WebSocket exchange: ↑ from the client, ↓ from the service. */
function FramesView({ ex }) {
  const frames = ex.frames || [];
  const t0 = Date.parse(ex.start);
  return html`
    <div id="insp-frames">
      <p class="small muted">${ex.frameCount || frames.length} frames${frames.length < (ex.frameCount || 0) ? `, the first ${frames.length} kept` : ""}. ↑ from the client, ↓ from ${ex.service}.</p>
      <table class="kv frames">
        <thead><tr><th></th><th class="num">Time</th><th>Type</th><th class="num">Length</th><th>Payload</th></tr></thead>
        <tbody>${frames.map((f) => html`
          <tr class=${f.fromClient ? "from-client" : "from-server"}>
            <td class="dir" title=${f.fromClient ? "client → service" : "service → client"}>${f.fromClient ? "↑" : "↓"}</td>
            <td class="num mono muted">+${insp.fmtMs(Date.parse(f.time) - t0)}</td>
            <td class="mono">${insp.FRAME_OPS[f.opcode] || "op " + f.opcode}${f.fin ? "" : " …"}${f.compressed ? " (deflate)" : ""}</td>
            <td class="num mono">${insp.fmtBytes(f.length)}</td>
            <td class="mono payload">${insp.framePreview(f)}</td>
          </tr>`)}
        </tbody>
      </table>
    </div>`;
}

/** ReplayDiff compares a replay's response with its original's, side by side. */
function ReplayDiff({ ex }) {
  const [orig, setOrig] = useState(null);
  const [diff, setDiff] = useState(null);
  const [err, setErr] = useState("");
  useEffect(() => {
    let live = true;
    Promise.all([api("GET", `/api/inspect/${ex.replayOf}`), api("GET", `/api/inspect/${ex.replayOf}/diff/${ex.id}`)])
      .then(([o, d]) => { if (live) { setOrig(o); setDiff(d); } })
      .catch((e) => live && setErr(e.message));
    return () => { live = false; };
  }, [ex.id]);
  if (err) return html`<div class="callout bad" id="insp-diff">The original, #${ex.replayOf}: ${err}</div>`;
  if (!orig || !diff) return html`<div class="empty">Comparing with #${ex.replayOf}…</div>`;
  const reqA = `${orig.request.method} ${orig.request.target}\n${insp.headersText(orig.request.header)}\n\n${insp.bodyText(orig.request.header, orig.requestText, orig.request.body)}`;
  const reqB = `${ex.request.method} ${ex.request.target}\n${insp.headersText(ex.request.header)}\n\n${insp.bodyText(ex.request.header, ex.requestText, ex.request.body)}`;
  const parts = [];
  if (diff.statusA !== diff.statusB) parts.push(`status ${diff.statusA} → ${diff.statusB}`);
  if (diff.headers.length) parts.push(`${diff.headers.length} ${diff.headers.length === 1 ? "header differs" : "headers differ"}`);
  if (diff.body) parts.push("the body differs");
  return html`
    <div id="insp-diff" data-equal=${diff.equal}>
      <div class=${"callout slim " + (diff.equal ? "ok" : "warn")} id="insp-diff-summary">
        ${diff.equal ? "The responses are the same." : `The responses differ: ${parts.join(", ")}.`}
      </div>
      <div class="diff-cols">
        <div><a href=${`#/inspect/${orig.id}`}>#${orig.id}</a> <span class="muted">original</span> <${Status} ex=${orig} /> <span class="mono muted small">${insp.fmtMs(insp.exchangeMs(orig))}</span></div>
        <div><strong>#${ex.id}</strong> <span class="muted">replay</span> <${Status} ex=${ex} /> <span class="mono muted small">${insp.fmtMs(insp.exchangeMs(ex))}</span></div>
      </div>
      <${Section} title="Response: status and headers"><${SideBySide} id="insp-diff-head" a=${insp.headLines(orig)} b=${insp.headLines(ex)} /><//>
      <${Section} title="Response body"><${SideBySide} id="insp-diff-body" a=${insp.bodyText(orig.response.header, orig.responseText, orig.response.body)} b=${insp.bodyText(ex.response.header, ex.responseText, ex.response.body)} /><//>
      <${Section} title="Request" open=${reqA !== reqB}><${SideBySide} id="insp-diff-request" a=${reqA} b=${reqB} /><//>
    </div>`;
}

/** SideBySide shows two texts in two columns, their differing lines marked. */
function SideBySide({ id, a, b }) {
  const rows = useMemo(() => insp.sideBySide(a, b), [a, b]);
  if (!rows.length) return html`<p class="muted small" id=${id}>Both empty.</p>`;
  let na = 0, nb = 0;
  return html`
    <div class="sbs" id=${id} role="table">
      ${rows.map((r) => {
        const la = r.a !== null ? ++na : "", lb = r.b !== null ? ++nb : "";
        return html`
          <div class=${"sbs-row " + r.kind} role="row">
            <span class="ln-no">${la}</span><span class=${"sbs-a" + (r.a === null ? " void" : "")} role="cell">${r.a ?? ""}</span>
            <span class="ln-no">${lb}</span><span class=${"sbs-b" + (r.b === null ? " void" : "")} role="cell">${r.b ?? ""}</span>
          </div>`;
      })}
    </div>`;
}

/** EditReplay is the form that edits a request before it is replayed. */
function EditReplay({ ex, onClose, onSend }) {
  const rq = ex.request;
  const binary = ex.requestText == null && !!rq.body;
  const startHeaders = useMemo(() => insp.headersText(Object.fromEntries(Object.entries(rq.header || {}).filter(([k]) => k.toLowerCase() !== "content-length"))), [ex.id]);
  const startBody = ex.requestText ?? "";
  const [method, setMethod] = useState(rq.method);
  const [target, setTarget] = useState(rq.target);
  const [headers, setHeaders] = useState(startHeaders);
  const [body, setBody] = useState(startBody);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState("");
  const first = useRef(null);
  useEffect(() => { first.current && first.current.focus(); }, []);
  const formatJSON = () => {
    try { setBody(JSON.stringify(JSON.parse(body), null, 2)); } catch (e) { setErr("The body is not JSON: " + e.message); }
  };
  const isJSON = insp.mediaType(insp.header(rq.header, "Content-Type")).includes("json");
  const submit = async (e) => {
    e.preventDefault();
    setErr("");
    const req = {};
    if (method.trim().toUpperCase() !== rq.method) req.method = method.trim().toUpperCase();
    if (target.trim() !== rq.target) req.target = target.trim();
    // A body cut at the cap cannot be sent as recorded: send what is here.
    const bodyChanged = !binary && (body !== startBody || rq.truncated);
    if (bodyChanged) req.body = body;
    if (headers !== startHeaders || (bodyChanged && insp.header(rq.header, "Content-Encoding"))) {
      try {
        const h = insp.parseHeaders(headers);
        // An edited body is sent as typed: not in the original's content coding.
        if (bodyChanged) for (const k of Object.keys(h)) if (k.toLowerCase() === "content-encoding") delete h[k];
        req.headers = h;
      } catch (e2) {
        setErr(e2.message);
        return;
      }
    }
    setBusy(true);
    const ok = await onSend(req);
    setBusy(false);
    if (ok) onClose();
  };
  return html`
    <div class="overlay" onClick=${(e) => e.target === e.currentTarget && onClose()} onKeyDown=${(e) => e.key === "Escape" && onClose()}>
      <form class="dialog wide" role="dialog" aria-modal="true" aria-labelledby="edit-title" id="insp-edit-dialog" onSubmit=${submit}>
        <h2 id="edit-title">Edit and replay #${ex.id}</h2>
        <p class="muted">It is sent to ${ex.service} as you leave it; the replay is recorded and compared with #${ex.id}.</p>
        <div class="form-row req-line">
          <label>Method
            <input id="insp-edit-method" ref=${first} class="mono" list="insp-methods" value=${method} onInput=${(e) => setMethod(e.target.value)} spellcheck="false" autocomplete="off" />
            <datalist id="insp-methods">${insp.METHODS.map((m) => html`<option value=${m} />`)}</datalist>
          </label>
          <label>Path and query
            <input id="insp-edit-path" class="mono" value=${target} onInput=${(e) => setTarget(e.target.value)} spellcheck="false" autocomplete="off" />
          </label>
        </div>
        <label><span>Headers <span class="hint">one "Name: value" a line; Content-Length is set for you</span></span>
          <textarea id="insp-edit-headers" class="mono" rows="6" value=${headers} onInput=${(e) => setHeaders(e.target.value)} spellcheck="false"></textarea>
        </label>
        <label><span class="label-row">Body ${isJSON && !binary && html`<button type="button" class="link small" onClick=${formatJSON}>Format JSON</button>`}</span>
          ${binary
            ? html`<div class="callout wait slim">A binary body (${insp.fmtBytes(rq.size)}) is sent as recorded.</div>`
            : html`<textarea id="insp-edit-body" class="mono" rows="8" value=${body} onInput=${(e) => setBody(e.target.value)} spellcheck="false"></textarea>`}
        </label>
        ${rq.truncated && !binary && html`<div class="callout warn slim">The recorded body was cut at the cap (${insp.fmtBytes(rq.size)} sent): what is above is sent.</div>`}
        ${err && html`<div class="callout bad">${err}</div>`}
        <div class="dialog-actions">
          <button type="button" class="ghost" onClick=${onClose}>Cancel</button>
          <button type="submit" class="primary" id="insp-edit-send" disabled=${busy}>${busy ? "Sending…" : "Send"}</button>
        </div>
      </form>
    </div>`;
}

// ---------- terminal ----------

const DOCK_MIN = 120;
let dockHeight = 0;
try { dockHeight = +localStorage.getItem("berth.dock-height") || 0; } catch { /* no storage */ }

function clampDock(h) {
  return Math.max(DOCK_MIN, Math.min(Math.round(h), innerHeight - 52));
}

const TERM_STATES = {
  connecting: ["wait", "connecting"], attached: ["ok", "attached"], detached: ["idle", "detached"],
  ended: ["done", "ended"], lost: ["bad", "disconnected"], error: ["bad", "not attached"],
};

/**
 * TerminalDock is the terminal panel docked at the bottom of the page (it
 * stays while you move between pages): xterm.js attached to a service
 * replica or an interactive job. Its top edge resizes it (drag, or arrow
 * keys); the terminal follows its size.
 */
function TerminalDock({ target }) {
  const screen = useRef(null);
  const sess = useRef(null);
  const [st, setSt] = useState({ state: "connecting", info: null });
  const [size, setSize] = useState(null);
  const [height, setHeight] = useState(() => clampDock(dockHeight || innerHeight * 0.42));
  const [max, setMax] = useState(false);
  const [job, setJob] = useState(null);
  const isJob = target.kind === "job";
  const h = max ? innerHeight - 52 : height;

  useEffect(() => {
    const s = new TermSession(screen.current, target, {
      onState: (state, info) => setSt({ state, info: info || null }),
      onSize: (cols, rows) => setSize([cols, rows]),
    });
    sess.current = s;
    s.open().catch((e) => setSt({ state: "error", info: { message: "Could not load the terminal: " + e.message } }));
    return () => s.dispose();
  }, []);

  useEffect(() => {
    const onWindow = () => setHeight((v) => clampDock(v)); // also re-renders a maximised dock
    addEventListener("resize", onWindow);
    return () => removeEventListener("resize", onWindow);
  }, []);

  useEffect(() => {
    document.documentElement.style.setProperty("--dock-h", h + "px");
    return () => document.documentElement.style.removeProperty("--dock-h");
  }, [h]);

  // A job's terminal closes when its process ends: then say how the job ended.
  useEffect(() => {
    if (!isJob || (st.state !== "ended" && st.state !== "error")) return;
    let live = true;
    (async () => {
      for (let i = 0; i < 20 && live; i++) {
        try {
          const j = await api("GET", `/v1/jobs/${target.id}`);
          if (!live) return;
          setJob(j);
          if (j.Status !== "running" && j.Status !== "queued") return;
        } catch { return; }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    return () => { live = false; };
  }, [st.state]);

  const resizeTo = (px) => {
    const v = clampDock(px);
    dockHeight = v;
    try { localStorage.setItem("berth.dock-height", String(v)); } catch { /* no storage */ }
    setMax(false);
    setHeight(v);
  };
  const onGripDown = (e) => {
    e.preventDefault();
    const grip = e.currentTarget;
    grip.setPointerCapture(e.pointerId);
    const move = (ev) => resizeTo(innerHeight - ev.clientY);
    const up = () => { grip.removeEventListener("pointermove", move); grip.removeEventListener("pointerup", up); grip.removeEventListener("pointercancel", up); };
    grip.addEventListener("pointermove", move);
    grip.addEventListener("pointerup", up);
    grip.addEventListener("pointercancel", up);
  };
  const onGripKey = (e) => {
    const step = e.shiftKey ? 120 : 30;
    if (e.key === "ArrowUp") { e.preventDefault(); resizeTo(h + step); }
    else if (e.key === "ArrowDown") { e.preventDefault(); resizeTo(h - step); }
  };

  const svc = state.services.get(target.service);
  const running = svc ? svc.replicas.filter((r) => r.State === "running") : [];
  const replicaName = !isJob && (target.replica ? `replica ${target.replica}` : running.length > 1 ? `replica ${running[0].Replica}` : "");
  const close = () => {
    if (isJob && (st.state === "attached" || st.state === "detached") && !(job && job.Status !== "running")) {
      toast("info", `Job #${target.id} goes on`, "Its shell still runs: open it again from its page, or cancel it there.", `#/jobs/${target.id}`);
    }
    closeTerminal();
  };
  const endJob = async () => {
    await act("End the job", () => api("POST", `/v1/jobs/${target.id}/cancel`));
  };
  const [tone, label] = TERM_STATES[st.state] || ["idle", st.state];
  const who = isJob ? "the job" : target.service;
  let msg = null;
  switch (st.state) {
    case "detached": msg = html`Detached: ${who} goes on. <button class="link" onClick=${() => sess.current.connect()}>Attach again</button>`; break;
    case "ended":
      msg = isJob
        ? html`The process ended${job && job.Status !== "running" ? html`: job <a href=${`#/jobs/${target.id}`}>#${target.id}</a> ${job.Status}${job.ExitCode != null ? ` (exit ${job.ExitCode})` : ""}` : ""}.`
        : html`The process ended. ${target.service} may be restarted by its restart policy: <button class="link" onClick=${() => sess.current.connect()}>Attach again</button>`;
      break;
    case "lost": msg = html`The connection to berth was lost. <button class="link" onClick=${() => sess.current.connect()}>Attach again</button>`; break;
    case "error": msg = html`${(st.info && st.info.message) || "Could not attach."}`; break;
  }
  return html`
    <section class=${"dock" + (max ? " max" : "")} id="terminal" style=${{ height: h + "px" }} aria-label="Terminal"
      data-state=${st.state} data-cols=${size ? size[0] : ""} data-rows=${size ? size[1] : ""}>
      <div class="dock-grip" role="separator" aria-orientation="horizontal" aria-label="Resize the terminal" tabindex="0"
        title="Drag (or use the arrow keys) to resize" onPointerDown=${onGripDown} onKeyDown=${onGripKey}></div>
      <div class="dock-head">
        <span class="term-glyph" aria-hidden="true">❯_</span>
        ${isJob
          ? html`<strong>Shell</strong><span class=${"svc-name c" + colourOf(target.service)}>${target.service}</span>
                 <a class="mono small" href=${`#/jobs/${target.id}`} title="The job's page">#${target.id}</a>
                 <span class="mono muted small term-cmd">${commandText(target.command)}</span>`
          : html`<strong>Terminal</strong><span class=${"svc-name c" + colourOf(target.service)}>${target.service}</span>
                 ${replicaName && html`<span class="muted small">${replicaName}</span>`}`}
        <${Badge} tone=${tone}>${label}<//>
        ${size && html`<span class="muted small mono" title="Columns × rows">${size[0]}×${size[1]}</span>`}
        <div class="spacer"></div>
        ${!isJob && running.length > 1 && html`
          <select class="small" aria-label="Replica" value=${target.replica || running[0].Replica}
            onChange=${(e) => openTerminal({ ...target, replica: +e.target.value })}>
            ${running.map((r) => html`<option value=${r.Replica}>${r.Name}</option>`)}
          </select>`}
        ${st.state === "attached" || st.state === "connecting"
          ? html`<button class="small" id="term-detach" onClick=${() => sess.current.detach()} title=${`Close the connection; ${who} goes on (Ctrl-p Ctrl-q)`}>Detach</button>`
          : st.state !== "ended" && html`<button class="small" id="term-attach" onClick=${() => sess.current.connect()}>Attach again</button>`}
        ${isJob && st.state !== "ended" && !(job && job.Status !== "running") && html`<button class="small danger" id="term-end" onClick=${endJob} title="Cancel the job (ends its process)">End</button>`}
        <button class="icon" aria-label=${max ? "Restore the terminal's size" : "Maximise the terminal"} title=${max ? "Restore" : "Maximise"} onClick=${() => setMax(!max)}>${max ? "▾" : "▴"}</button>
        <button class="icon" aria-label="Close the terminal" title="Close (detaches)" id="term-close" onClick=${close}>×</button>
      </div>
      ${msg && html`<div class=${"dock-msg " + (st.state === "error" || st.state === "lost" ? "bad" : "")} id="term-message" role="status">${msg}</div>`}
      <div class="term-wrap" onClick=${() => sess.current && sess.current.focus()}>
        <div class="term-screen" ref=${screen} id="terminal-screen"></div>
      </div>
    </section>`;
}

// ---------- app ----------

function App() {
  useStore();
  const route = useRoute();
  const [run, setRun] = useState(null);
  const [help, setHelp] = useState(false);
  const openRun = useCallback((init) => setRun(init || {}), []);

  useEffect(() => {
    let g = false, gTimer = 0;
    const onKey = (e) => {
      const t = e.target;
      if (t && t.closest && t.closest(".term-screen")) return; // every key goes to the terminal
      const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
      if (e.key === "Escape") {
        if (typing) t.blur();
        setRun(null);
        setHelp(false);
        return;
      }
      if (typing || e.metaKey || e.ctrlKey || e.altKey) return;
      if (g) {
        g = false;
        clearTimeout(gTimer);
        const dest = { o: "#/", l: "#/logs", j: "#/jobs", i: "#/inspect" }[e.key];
        if (dest) { location.hash = dest; e.preventDefault(); }
        return;
      }
      switch (e.key) {
        case "g": g = true; gTimer = setTimeout(() => (g = false), 1200); break;
        case "?": setHelp(true); break;
        case "r": e.preventDefault(); setRun({}); break;
        case "/": {
          if (!location.hash.startsWith("#/logs")) location.hash = "#/logs";
          e.preventDefault();
          setTimeout(() => document.getElementById("log-filter")?.focus(), 0);
          break;
        }
        case "f": document.getElementById("log-follow")?.click(); break;
        case "End": {
          const b = document.getElementById("log-follow");
          if (b && b.getAttribute("aria-pressed") !== "true") { b.click(); e.preventDefault(); }
          break;
        }
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  let page;
  switch (route[0]) {
    case "logs": page = html`<${LogsPage} route=${route} />`; break;
    case "jobs": page = route[1] ? html`<${JobPage} key=${route[1]} id=${route[1]} openRun=${openRun} />` : html`<${JobsPage} openRun=${openRun} />`; break;
    case "inspect": page = html`<${InspectPage} route=${route} />`; break;
    default: page = html`<${Overview} openRun=${openRun} />`;
  }
  return html`
    <${Header} route=${route} />
    ${page}
    ${state.terminal && html`<${TerminalDock} key=${state.terminal.key} target=${state.terminal.target} />`}
    <${Toasts} />
    ${run && html`<${RunDialog} initial=${run} onClose=${() => setRun(null)} />`}
    ${help && html`<${Help} onClose=${() => setHelp(false)} />`}
    <footer class="hint muted">Press <kbd>?</kbd> for keyboard shortcuts</footer>`;
}

render(html`<${App} />`, document.getElementById("app"));
start().catch((e) => toast("error", "Could not load the project", e.message));
