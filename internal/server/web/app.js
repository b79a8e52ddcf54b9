// app.js is berth's dashboard: overview, logs and jobs of one project, live.
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
  ["g o", "Overview"], ["g l", "Logs"], ["g j", "Jobs"], ["r", "Run a command"],
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
        const dest = { o: "#/", l: "#/logs", j: "#/jobs" }[e.key];
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
