package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/berthtest"
)

// TestDashboard_Browser drives the dashboard in headless Chromium against a
// real `berth up -d` of the quickstart: the services turn healthy, a restart
// shows live, a one-off streams its output to the end, a second user watching
// it is notified, the log view filters, and a wrong token gets the login page.
// Screenshots go to $BERTH_ARTIFACTS, else test-artifacts/dashboard/ at the
// repository's root.
//
// Without Chromium it fails, except with -short, where it is skipped.
func TestDashboard_Browser(t *testing.T) {
	chrome, berth := browserTools(t)
	artifacts := artifactsDir(t)

	// A real project: the quickstart, on free ports, with its own state folder.
	dir := t.TempDir()
	copyDir(t, filepath.Join(repoRoot, "examples", "quickstart"), dir)
	apiPort, webPort := berthtest.FreePort(t), berthtest.FreePort(t)
	run := berthUp(t, berth, dir, apiPort, "WEB_PORT="+strconv.Itoa(webPort))
	ownerURL := run("dashboard", "--url")
	base, _, _ := strings.Cut(ownerURL, "?")
	bobToken := run("token", "create", "bob")

	b := newBrowser(t, chrome)
	owner := b.tab(t)

	// Sign in with the token URL: the cookie is set and the token leaves the address bar.
	step(t, owner, "open the dashboard", 20*time.Second,
		chromedp.Navigate(ownerURL),
		chromedp.WaitVisible(chromedp.ID("whoami")),
	)
	if loc := evalString(t, owner, "location.href"); strings.Contains(loc, "token=") {
		t.Errorf("after sign-in the address still holds the token: %s", loc)
	}
	step(t, owner, "collect page errors", 5*time.Second, chromedp.Evaluate[chromedp.Void](collectPageErrors))
	waitJS(t, owner, "who am I", 10*time.Second, `document.getElementById("whoami").textContent.trim() === "owner"`)

	// The quickstart turns healthy: migrate completes, web is healthy, worker runs.
	waitJS(t, owner, "services healthy", 30*time.Second, `(() => {
		const st = (s) => document.querySelector("#svc-" + s)?.dataset.state;
		return st("migrate") === "completed" && st("web") === "healthy" && st("worker") === "running";
	})()`)
	if got := evalString(t, owner, `document.querySelector("#svc-web a.port")?.getAttribute("href") || ""`); !strings.Contains(got, ":"+strconv.Itoa(webPort)) {
		t.Errorf("web's published port link = %q, want one to port %d", got, webPort)
	}
	screenshot(t, owner, artifacts, "overview.png")
	step(t, owner, "dark mode", 5*time.Second, colorScheme("dark"))
	screenshot(t, owner, artifacts, "overview-dark.png")
	step(t, owner, "light mode", 5*time.Second, colorScheme(""))

	// Restart web from its card: its state changes live (no reload) and comes back healthy.
	step(t, owner, "watch web's state", 5*time.Second, chromedp.Evaluate[chromedp.Void](`(() => {
		window.__noReload = true;
		window.__webStates = [];
		const el = document.querySelector("#svc-web");
		new MutationObserver(() => {
			const s = document.querySelector("#svc-web")?.dataset.state;
			if (s && window.__webStates[window.__webStates.length - 1] !== s) window.__webStates.push(s);
		}).observe(el.parentNode, { attributes: true, subtree: true, attributeFilter: ["data-state"] });
	})()`))
	step(t, owner, "click restart", 5*time.Second, chromedp.Click(chromedp.CSS(`#svc-web button[data-action="restart"]`)))
	waitJS(t, owner, "web restarted and healthy again", 30*time.Second, `window.__noReload === true &&
		window.__webStates.some((s) => s !== "healthy") &&
		document.querySelector("#svc-web").dataset.state === "healthy" &&
		document.querySelector("#svc-web tbody tr td:nth-child(4)").textContent.trim() === "1"`)
	t.Logf("web went through: %s", evalString(t, owner, `window.__webStates.join(" → ")`))
	waitJS(t, owner, "the card says who restarted web", 10*time.Second, `(document.querySelector("#svc-web .last-action")?.textContent || "").includes("restart web by you")`)

	// Scale worker to 2 replicas and back, from its card.
	scale := func(n string) {
		t.Helper()
		step(t, owner, "scale worker to "+n, 10*time.Second,
			chromedp.Click(chromedp.CSS(`#svc-worker button[data-action="scale"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#svc-worker form.scale input`)),
			chromedp.SetValue(chromedp.CSS(`#svc-worker form.scale input`), ""),
			chromedp.SendKeys(chromedp.CSS(`#svc-worker form.scale input`), n+"\r"),
		)
		waitJS(t, owner, "worker has "+n+" running replicas", 20*time.Second,
			`document.querySelectorAll('#svc-worker tbody tr[data-state="running"]').length === `+n+` && document.querySelectorAll('#svc-worker tbody tr').length === `+n)
	}
	scale("2")
	screenshot(t, owner, artifacts, "overview-actions.png")
	scale("1")

	// A second user, in a browser context of their own, signs in as bob.
	bob := b.tab(t)
	step(t, bob, "bob opens the dashboard", 20*time.Second,
		chromedp.Navigate(base+"?token="+bobToken),
		chromedp.WaitVisible(chromedp.ID("whoami")),
	)
	waitJS(t, bob, "bob is bob", 10*time.Second, `document.getElementById("whoami").textContent.trim() === "bob"`)

	// The owner runs a one-off in web.
	step(t, owner, "open the run dialog", 10*time.Second,
		chromedp.Click(chromedp.CSS(`#svc-web button[data-action="run"]`)),
		chromedp.WaitVisible(chromedp.ID("run-command")),
	)
	waitJS(t, owner, "run dialog on web", 5*time.Second, `document.getElementById("run-service").value === "web"`)
	step(t, owner, "type a one-off", 10*time.Second,
		chromedp.SendKeys(chromedp.ID("run-command"), `sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do echo "step $i of 14"; sleep 0.4; done; printf "\\033[1;32mfinished\\033[0m in \\033[38;5;208morange\\033[0m\\n"'`),
	)
	screenshot(t, owner, artifacts, "run-dialog.png")
	step(t, owner, "run it", 10*time.Second,
		chromedp.Click(chromedp.ID("run-submit")),
		chromedp.WaitVisible(chromedp.ID("job-status")),
	)
	jobID := strings.TrimPrefix(evalString(t, owner, "location.hash"), "#/jobs/")
	if _, err := strconv.Atoi(jobID); err != nil {
		t.Fatalf("after Run the page is %q, want a job page", jobID)
	}

	// Bob opens the job while it runs and watches it.
	step(t, bob, "bob opens the job", 10*time.Second, chromedp.Navigate(base+"#/jobs/"+jobID))
	waitJS(t, bob, "bob sees the job running", 10*time.Second, `document.querySelector("#job-status")?.dataset.status === "running" && !!document.querySelector("#job-watch, #job-unwatch")`)
	// Opening a running job watches it; the buttons unwatch and watch again.
	waitJS(t, bob, "bob watches by opening it", 10*time.Second, `!!document.querySelector("#job-unwatch") && document.getElementById("job-watchers").textContent.includes("you")`)
	step(t, bob, "bob unwatches", 5*time.Second, chromedp.Click(chromedp.ID("job-unwatch")))
	waitJS(t, bob, "bob is not a watcher", 10*time.Second, `!!document.querySelector("#job-watch") && !document.getElementById("job-watchers").textContent.includes("you")`)
	step(t, bob, "bob watches", 5*time.Second, chromedp.Click(chromedp.ID("job-watch")))
	waitJS(t, bob, "bob is a watcher", 10*time.Second, `!!document.querySelector("#job-unwatch") && document.getElementById("job-watchers").textContent.includes("you")`)

	// The owner sees the output stream in while the job runs, then its end.
	waitJS(t, owner, "output streams in", 20*time.Second, `(() => {
		const n = document.querySelectorAll("#job-output .ln").length;
		return n >= 2 && n < 15 && document.querySelector("#job-status").dataset.status === "running";
	})()`)
	waitJS(t, owner, "job succeeded", 30*time.Second, `document.querySelector("#job-status").dataset.status === "succeeded" &&
		document.getElementById("job-exit").textContent.trim() === "0" &&
		[...document.querySelectorAll("#job-output .ln")].some((r) => r.textContent.endsWith("finished in orange"))`)
	// ANSI colours are rendered, not shown as escapes.
	waitJS(t, owner, "colours", 5*time.Second, `(() => {
		const green = document.querySelector("#job-output .ansi-fg-2.ansi-b");
		const orange = [...document.querySelectorAll("#job-output .lx span")].find((s) => s.textContent === "orange");
		return green && green.textContent === "finished" && orange && getComputedStyle(orange).color === "rgb(255, 135, 0)" &&
			![...document.querySelectorAll("#job-output .ln")].some((r) => r.textContent.includes("[0m"));
	})()`)
	if got := evalString(t, owner, `document.getElementById("job-watchers").textContent`); !strings.Contains(got, "bob") {
		t.Errorf("the owner's job page lists watchers %q, want bob among them", got)
	}

	// Both are notified in the page: the launcher and the watcher.
	toast := fmt.Sprintf(`[...document.querySelectorAll(".toast")].some((t) => t.textContent.includes("Job #%s succeeded"))`, jobID)
	waitJS(t, bob, "bob is notified", 20*time.Second, toast)
	waitJS(t, owner, "the owner is notified", 20*time.Second, toast)
	screenshot(t, owner, artifacts, "job.png")
	screenshot(t, bob, artifacts, "job-watcher.png")

	// The jobs list shows the one-off and the restart, with who launched them.
	step(t, owner, "open the jobs list", 10*time.Second, chromedp.Navigate(base+"#/jobs"))
	waitJS(t, owner, "jobs listed", 10*time.Second, fmt.Sprintf(`(() => {
		const row = document.querySelector('#jobs-table tr[data-job="%s"]');
		const restart = [...document.querySelectorAll("#jobs-table tbody tr")].some((r) => r.textContent.includes("restart web"));
		return row && row.dataset.status === "succeeded" && row.textContent.includes("you") && row.textContent.includes("bob") && restart;
	})()`, jobID))
	screenshot(t, owner, artifacts, "jobs.png")

	// The log view: every service's lines, then filtered by text and by regex.
	step(t, owner, "open the logs", 10*time.Second, chromedp.Navigate(base+"#/logs"))
	// More lines than fit, so that scrolling up below really scrolls.
	waitJS(t, owner, "log lines", 30*time.Second, `(() => {
		const list = document.getElementById("log-lines");
		const rows = [...document.querySelectorAll("#log-lines .ln")].map((r) => r.textContent);
		return rows.length > 10 && rows.some((r) => /worker\.?\d*job \d+: 50%/.test(r)) &&
			list.scrollHeight > list.clientHeight + 100;
	})()`)
	screenshot(t, owner, artifacts, "logs.png")
	step(t, owner, "dark mode", 5*time.Second, colorScheme("dark"))
	screenshot(t, owner, artifacts, "logs-dark.png")
	step(t, owner, "light mode", 5*time.Second, colorScheme(""))
	// Scrolling up pauses following and shows the oldest lines.
	step(t, owner, "scroll to the top", 5*time.Second, chromedp.Evaluate[chromedp.Void](`document.getElementById("log-lines").scrollTop = 0`))
	waitJS(t, owner, "oldest lines, paused", 10*time.Second, `(() => {
		const rows = [...document.querySelectorAll("#log-lines .ln")].map((r) => r.textContent);
		return rows.some((r) => r.includes("Applying app.0001")) && rows.some((r) => r.includes("listening on")) &&
			document.getElementById("log-follow").getAttribute("aria-pressed") === "false";
	})()`)
	step(t, owner, "follow again", 5*time.Second, chromedp.Click(chromedp.ID("log-follow")))
	step(t, owner, "filter by text", 5*time.Second, chromedp.SendKeys(chromedp.ID("log-filter"), "applying"))
	waitJS(t, owner, "text filter", 10*time.Second, `(() => {
		const rows = [...document.querySelectorAll("#log-lines .ln")].map((r) => r.textContent);
		return rows.length === 3 && rows.every((r) => r.includes("Applying app.")) && document.getElementById("log-count").textContent.startsWith("3 lines");
	})()`)
	screenshot(t, owner, artifacts, "logs-filtered.png")
	step(t, owner, "filter by regex", 5*time.Second,
		chromedp.Evaluate[chromedp.Void](`(() => { const i = document.getElementById("log-filter"); i.value = ""; i.dispatchEvent(new Event("input", { bubbles: true })); })()`),
		chromedp.Click(chromedp.ID("log-regex")),
		chromedp.SendKeys(chromedp.ID("log-filter"), `^job \d+: (0|100)%$`),
	)
	waitJS(t, owner, "regex filter", 10*time.Second, `(() => {
		const rows = [...document.querySelectorAll("#log-lines .ln .lx")].map((r) => r.textContent);
		return rows.length > 0 && rows.every((r) => /^job \d+: (0|100)%$/.test(r));
	})()`)
	step(t, owner, "filter by service", 5*time.Second,
		chromedp.Evaluate[chromedp.Void](`(() => { const i = document.getElementById("log-filter"); i.value = ""; i.dispatchEvent(new Event("input", { bubbles: true })); })()`),
		chromedp.Click(chromedp.CSS(`.chips button[data-service="migrate"]`)),
	)
	waitJS(t, owner, "service filter", 10*time.Second, `(() => {
		const rows = [...document.querySelectorAll("#log-lines .ln .lx")].map((r) => r.textContent);
		return rows.length === 4 && rows[3] === "migrations done";
	})()`)

	// A wrong token, in a fresh browser context: the login page, which says what to run.
	stranger := b.tab(t)
	step(t, stranger, "open with a wrong token", 10*time.Second,
		chromedp.Navigate(base+"?token=not-a-token"),
		chromedp.WaitVisible(chromedp.ID("login")),
	)
	if got := evalString(t, stranger, `document.getElementById("login").textContent`); !strings.Contains(got, "berth dashboard --url") || !strings.Contains(got, "not valid") {
		t.Errorf("login page says %q; want the command to get the URL and that the token is not valid", got)
	}
	step(t, stranger, "open without a token", 10*time.Second,
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.ID("login")),
	)
	screenshot(t, stranger, artifacts, "login.png")
}

// TestDashboard_Terminal drives the dashboard's terminal in headless
// Chromium: a Python service on a terminal (tty, stdin_open) stops at
// breakpoint(); its card's Terminal button attaches xterm.js to it; pdb is
// driven from the keyboard (p 6*7, the terminal's size as the process sees
// it before and after the panel is resized, c); detaching leaves the service
// running; and a shell (an interactive exec job) in another service echoes
// and exits, and the panel says how the job ended.
func TestDashboard_Terminal(t *testing.T) {
	chrome, berth := browserTools(t)
	artifacts := artifactsDir(t)

	dir := t.TempDir()
	files := map[string]string{
		"compose.yaml": `name: term
services:
  debug:
    command: python3 app.py
    tty: true
    stdin_open: true
  box:
    command: sleep 300
`,
		"app.py": `import time

x = 6
breakpoint()
y = x * 7
print("after", y, flush=True)
time.sleep(300)
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := berthUp(t, berth, dir, berthtest.FreePort(t))
	ownerURL := run("dashboard", "--url")

	b := newBrowser(t, chrome)
	tab := b.tab(t)
	step(t, tab, "open the dashboard", 20*time.Second,
		chromedp.Navigate(ownerURL),
		chromedp.WaitVisible(chromedp.ID("whoami")),
		chromedp.Evaluate[chromedp.Void](collectPageErrors),
	)

	// ps is the debug service's replicas as /v1/ps gives them: "state pid restarts".
	ps := func() string {
		t.Helper()
		sctx, cancel := context.WithTimeout(tab, 5*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Evaluate[string](`fetch("/v1/ps").then((r) => r.json()).then((ps) =>
			ps.filter((r) => r.Service === "debug").map((r) => r.State + " " + r.Pid + " " + r.Restarts).join(", "))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("GET /v1/ps: %v", err)
		}
		return s
	}

	// debug runs on a terminal: its card has a Terminal button; box does not, but has Shell.
	waitJS(t, tab, "debug's Terminal button", 20*time.Second, `!!document.querySelector('#svc-debug button[data-action="terminal"]') &&
		!!document.querySelector('#svc-box button[data-action="shell"]')`)
	before := ps()
	if !strings.HasPrefix(before, "running ") {
		t.Fatalf("debug before attach: %q, want running", before)
	}

	// The terminal's text: its rows, as xterm.js renders them.
	const rows = `[...document.querySelectorAll("#terminal-screen .xterm-rows > div")].map((r) => r.textContent.replace(/\u00a0/g, " ").trimEnd())`
	keys := func(what, s string) {
		t.Helper()
		step(t, tab, what, 10*time.Second, chromedp.Focus(chromedp.CSS("#terminal-screen textarea")), typeKeys(s))
	}
	step(t, tab, "open debug's terminal", 10*time.Second, chromedp.Click(chromedp.CSS(`#svc-debug button[data-action="terminal"]`)))
	waitJS(t, tab, "attached, at the pdb prompt", 15*time.Second, `document.getElementById("terminal")?.dataset.state === "attached" &&
		`+rows+`.some((r) => r.startsWith("(Pdb)"))`)
	keys("type p 6*7", "p 6*7\r")
	waitJS(t, tab, "42", 10*time.Second, rows+`.includes("42")`)

	// The process sees the terminal's size, and its new size once the panel is resized.
	size := func(what string) string {
		t.Helper()
		cr := evalString(t, tab, `(() => { const d = document.getElementById("terminal").dataset; return d.cols + "x" + d.rows; })()`)
		cols, rowsN, _ := strings.Cut(cr, "x")
		want := fmt.Sprintf("os.terminal_size(columns=%s, lines=%s)", cols, rowsN)
		keys("ask pdb the terminal's size", `p __import__("shutil").get_terminal_size()`+"\r")
		waitJS(t, tab, what+": "+want, 10*time.Second, rows+`.includes(`+strconv.Quote(want)+`)`)
		return cr
	}
	first := size("the size pdb sees")
	step(t, tab, "make the panel taller", 10*time.Second,
		chromedp.Focus(chromedp.CSS("#terminal .dock-grip")),
		chromedp.KeyEvent(kb.ArrowUp), chromedp.KeyEvent(kb.ArrowUp), chromedp.KeyEvent(kb.ArrowUp),
	)
	waitJS(t, tab, "more rows", 10*time.Second, `(() => { const d = document.getElementById("terminal").dataset; return d.cols + "x" + d.rows !== `+strconv.Quote(first)+`; })()`)
	second := size("the size pdb sees after a resize")
	t.Logf("terminal size: %s, then %s", first, second)

	keys("type c", "c\r")
	waitJS(t, tab, "after 42", 10*time.Second, rows+`.includes("after 42")`)
	screenshot(t, tab, artifacts, "terminal.png")
	step(t, tab, "dark mode", 5*time.Second, colorScheme("dark"))
	screenshot(t, tab, artifacts, "terminal-dark.png")
	step(t, tab, "light mode", 5*time.Second, colorScheme(""))

	// Detach: the panel says so, and the service goes on, the same process.
	step(t, tab, "detach", 5*time.Second, chromedp.Click(chromedp.ID("term-detach")))
	waitJS(t, tab, "detached", 10*time.Second, `document.getElementById("terminal").dataset.state === "detached" &&
		document.getElementById("term-message").textContent.includes("debug goes on")`)
	if after := ps(); after != before {
		t.Errorf("debug after detach: %q, want it unchanged: %q", after, before)
	}
	// Attach again: the recent output is replayed. Ctrl-p Ctrl-q detaches, as in `berth attach`.
	step(t, tab, "attach again", 5*time.Second, chromedp.Click(chromedp.ID("term-attach")))
	waitJS(t, tab, "attached again, with the recent output", 10*time.Second, `document.getElementById("terminal").dataset.state === "attached" && `+rows+`.includes("after 42")`)
	step(t, tab, "ctrl-p ctrl-q", 5*time.Second,
		chromedp.Focus(chromedp.CSS("#terminal-screen textarea")),
		chromedp.KeyEvent("p", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent("q", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
	)
	waitJS(t, tab, "detached by keys", 10*time.Second, `document.getElementById("terminal").dataset.state === "detached"`)

	// A shell next to box (an interactive exec job): it echoes, then exits, and the panel says how the job ended.
	step(t, tab, "open a shell in box", 10*time.Second, chromedp.Click(chromedp.CSS(`#svc-box button[data-action="shell"]`)))
	waitJS(t, tab, "the shell's prompt", 15*time.Second, `document.getElementById("terminal")?.dataset.state === "attached" &&
		document.querySelector("#terminal .dock-head").textContent.includes("Shell") && `+rows+`.some((r) => /[#$]$/.test(r))`)
	keys("type echo", "echo hi-from-exec\r")
	waitJS(t, tab, "hi-from-exec", 10*time.Second, rows+`.includes("hi-from-exec")`)
	screenshot(t, tab, artifacts, "terminal-shell.png")
	// The shell is a job: its page (the panel stays open across pages) records
	// its output and, while it runs, offers its terminal.
	step(t, tab, "open the shell's job page", 5*time.Second, chromedp.Click(chromedp.CSS(`#terminal .dock-head a[href^="#/jobs/"]`)))
	waitJS(t, tab, "the job page: running, on a terminal, with the output", 10*time.Second, `document.querySelector("#job-status")?.dataset.status === "running" &&
		!!document.getElementById("job-terminal") && document.getElementById("terminal")?.dataset.state === "attached" &&
		[...document.querySelectorAll("#job-output .ln .lx")].some((r) => r.textContent === "hi-from-exec")`)
	keys("type exit", "exit\r")
	waitJS(t, tab, "the shell ended", 15*time.Second, `document.getElementById("terminal").dataset.state === "ended" &&
		/job #\d+ succeeded \(exit 0\)/.test(document.getElementById("term-message").textContent)`)
	step(t, tab, "close the panel", 5*time.Second, chromedp.Click(chromedp.ID("term-close")))
	waitJS(t, tab, "the panel is gone", 5*time.Second, `!document.getElementById("terminal")`)
	if after := ps(); after != before {
		t.Errorf("debug at the end: %q, want it unchanged: %q", after, before)
	}
	if errs := evalString(t, tab, `window.__errors.join(" | ")`); errs != "" {
		t.Errorf("page errors: %s", errs)
	}
}

// TestDashboard_Inspector drives the dashboard's HTTP inspector page in
// headless Chromium against a real `berth up -d` of a small Python JSON
// service with x-berth inspect on its proxied port: requests made to the
// published port appear in the list live (no reload); the filters ask the
// API; a request's detail shows its JSON bodies pretty-printed, its
// Server-Timing and its curl command; edit and replay sends the edited body,
// which the service sees, and shows the side-by-side diff of the two
// responses; a selection downloads as HAR with the credentials redacted;
// the per-service switch turns recording off and on, and a service that
// binds its own port gets the API's error as a toast.
func TestDashboard_Inspector(t *testing.T) {
	chrome, berth := browserTools(t)
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("the service of this test needs python3")
	}
	artifacts := artifactsDir(t)

	dir := t.TempDir()
	files := map[string]string{
		"compose.yaml": `name: insp
services:
  api:
    command: python3 app.py ${APP_PORT}
    ports:
      - "127.0.0.1:${API_PORT}:${APP_PORT}"
    x-berth:
      inspect: true
  same:
    command: python3 app.py ${SAME_PORT}
    ports:
      - "127.0.0.1:${SAME_PORT}:${SAME_PORT}"
`,
		// A JSON API that answers with what it got, and logs it.
		"app.py": `import base64, hashlib, http.server, json, struct, sys

class API(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def websocket(self):
        # A WebSocket that echoes text frames until the client closes.
        key = self.headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", base64.b64encode(hashlib.sha1(key.encode()).digest()).decode())
        self.end_headers()
        self.wfile.flush()
        while True:
            b0, b1 = self.rfile.read(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack(">H", self.rfile.read(2))[0]
            mask = self.rfile.read(4)
            data = bytes(c ^ mask[i % 4] for i, c in enumerate(self.rfile.read(n)))
            op = b0 & 0x0f
            if op == 8:
                self.wfile.write(bytes([0x88, len(data)]) + data)
                self.wfile.flush()
                self.close_connection = True
                return
            out = b"echo: " + data
            self.wfile.write(bytes([0x81, len(out)]) + out)
            self.wfile.flush()

    def answer(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode()
        print("got", self.command, self.path, body, flush=True)
        status, ctype = 200, "application/json"
        if self.path.startswith("/missing"):
            status = 404
            out = json.dumps({"error": "not found", "path": self.path})
        elif self.path.startswith("/feed.xml"):
            ctype = "application/xml"
            out = '<?xml version="1.0"?><feed><title>berth</title><entry id="1"><name>cup</name></entry></feed>'
        else:
            got = json.loads(body) if self.headers.get("Content-Type") == "application/json" else body or None
            out = json.dumps({"method": self.command, "path": self.path, "received": got, "items": [{"id": 1, "name": "cup", "price": 4.5, "stock": True}]})
        out = out.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Server-Timing", 'db;dur=12.5;desc="Postgres query", render;dur=3.2')
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), API).serve_forever()
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	apiPort, appPort, samePort := berthtest.FreePort(t), berthtest.FreePort(t), berthtest.FreePort(t)
	run := berthUp(t, berth, dir, berthtest.FreePort(t),
		"API_PORT="+strconv.Itoa(apiPort),
		"APP_PORT="+strconv.Itoa(appPort),
		"SAME_PORT="+strconv.Itoa(samePort),
	)
	ownerURL := run("dashboard", "--url")
	base, _, _ := strings.Cut(ownerURL, "?")
	apiURL := "http://127.0.0.1:" + strconv.Itoa(apiPort)

	// send makes a request to the inspected port, as a client of the app would.
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(method, path, ctype, body string, hdr ...string) int {
		t.Helper()
		req, err := http.NewRequest(method, apiURL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	// The service listens a moment after up returns.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(appPort), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service does not listen on %d: %v", appPort, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	b := newBrowser(t, chrome)
	tab := b.tab(t)
	step(t, tab, "open the dashboard", 20*time.Second,
		chromedp.Navigate(ownerURL),
		chromedp.WaitVisible(chromedp.ID("whoami")),
		chromedp.Evaluate[chromedp.Void](collectPageErrors),
	)
	// The Inspect tab; api is recorded (x-berth), same is not.
	step(t, tab, "open the inspect page", 10*time.Second, chromedp.Click(chromedp.CSS(`nav.tabs a[href="#/inspect"]`)))
	waitJS(t, tab, "the switches", 20*time.Second, `document.getElementById("insp-toggle-api")?.getAttribute("aria-checked") === "true" &&
		document.getElementById("insp-toggle-same")?.getAttribute("aria-checked") === "false" && !!document.querySelector("#insp-list .empty")`)
	step(t, tab, "mark the page", 5*time.Second, chromedp.Evaluate[chromedp.Void](`window.__noReload = true`))

	// Requests to the published port show in the list as they are made, newest first.
	const rows = `[...document.querySelectorAll("#insp-list tbody tr[data-id]")]`
	if got := send("POST", "/api/items", "application/json", `{"name":"cup","qty":2}`, "Authorization", "Bearer s3cr3t-token"); got != 200 {
		t.Fatalf("POST /api/items: %d", got)
	}
	waitJS(t, tab, "the POST, live", 10*time.Second, rows+`.length === 1 && `+rows+`[0].textContent.includes("/api/items")`)
	send("GET", "/api/items?page=2", "", "")
	send("GET", "/missing/thing", "", "")
	send("POST", "/login", "application/x-www-form-urlencoded", "user=ada&remember=on&next=%2Fhome")
	send("GET", "/feed.xml", "", "")
	waitJS(t, tab, "five requests, live, newest first", 10*time.Second, `(() => {
		const r = `+rows+`;
		return r.length === 5 && r[0].textContent.includes("/feed.xml") && r[4].textContent.includes("POST") &&
			r[2].dataset.status === "404" && !!r[2].querySelector(".badge.tone-warn") && window.__noReload === true;
	})()`)
	if live := evalString(t, tab, `document.querySelector(".inspect-page").dataset.live`); live != "stream" {
		t.Errorf("the page follows new requests by %q, want the inspect stream", live)
	}
	screenshot(t, tab, artifacts, "inspect-list.png")

	// The filters ask the list API.
	filter := func(what, js, want string) {
		t.Helper()
		step(t, tab, what, 5*time.Second, chromedp.Evaluate[chromedp.Void](js))
		waitJS(t, tab, what, 10*time.Second, `(() => { const r = `+rows+`.map((x) => x.querySelector(".path").textContent); return r.join(" ") === `+strconv.Quote(want)+`; })()`)
	}
	setSelect := func(id, v string) string {
		return fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q; s.dispatchEvent(new Event("change", { bubbles: true })); })()`, id, v)
	}
	setInput := func(id, v string) string {
		return fmt.Sprintf(`(() => { const i = document.getElementById(%q); i.value = %q; i.dispatchEvent(new Event("input", { bubbles: true })); })()`, id, v)
	}
	filter("status 4xx", setSelect("insp-status", "4"), "/missing/thing")
	filter("any status, method POST", setSelect("insp-status", "")+";"+setSelect("insp-method", "POST"), "/login /api/items")
	filter("and body contains cup", setInput("insp-body", "cup"), "/login /api/items")
	filter("body contains qty, any method", setSelect("insp-method", "")+";"+setInput("insp-body", "qty"), "/api/items")
	filter("header authorization:bearer", setInput("insp-body", "")+";"+setInput("insp-header", "authorization:BEARER"), "/api/items")
	filter("path contains items", setInput("insp-header", "")+";"+setInput("insp-path", "items"), "/api/items?page=2 /api/items")
	screenshot(t, tab, artifacts, "inspect-filtered.png")
	step(t, tab, "clear the filters", 5*time.Second, chromedp.Click(chromedp.ID("insp-clear")))
	waitJS(t, tab, "all five again", 10*time.Second, rows+`.length === 5`)

	// The POST's detail: JSON bodies indented, headers, timings, curl.
	step(t, tab, "open the POST", 5*time.Second, chromedp.Click(chromedp.CSS(`#insp-list tbody tr[data-id]:last-child .path`)))
	waitJS(t, tab, "the response, pretty", 10*time.Second, `(() => {
		const b = document.getElementById("insp-response-body");
		return b && b.dataset.kind === "json" && b.textContent.includes('"received": {\n    "name": "cup",\n    "qty": 2\n  }') &&
			!!b.querySelector(".j-key") && document.getElementById("insp-url")?.textContent === "/api/items" &&
			document.getElementById("insp-detail-status").textContent.includes("200");
	})()`)
	id := evalString(t, tab, `document.getElementById("insp-detail").dataset.id`)
	if !strings.HasSuffix(evalString(t, tab, "location.hash"), "/"+id) {
		t.Errorf("the address does not name the exchange: %s", evalString(t, tab, "location.hash"))
	}
	screenshot(t, tab, artifacts, "inspect-detail.png")
	step(t, tab, "the request tab", 5*time.Second, chromedp.Click(chromedp.ID("insp-tab-request")))
	waitJS(t, tab, "the request, pretty, with its curl", 10*time.Second, `(() => {
		const b = document.getElementById("insp-request-body");
		const c = document.getElementById("insp-curl")?.textContent || "";
		return b && b.textContent === '{\n  "name": "cup",\n  "qty": 2\n}' && document.querySelector("#insp-detail .kv").textContent.includes("Bearer s3cr3t-token") &&
			c.startsWith("curl ") && c.includes("`+apiURL+`/api/items") && c.includes("--data-binary") && c.includes(`+"`'Authorization: Bearer s3cr3t-token'`"+`);
	})()`)
	step(t, tab, "copy as curl", 5*time.Second, chromedp.Click(chromedp.ID("insp-copy-curl")))
	waitJS(t, tab, "copied (or shown to copy)", 5*time.Second, `[...document.querySelectorAll(".toast")].some((t) => /Copied as curl|Copy it from the page/.test(t.textContent))`)
	t.Logf("copy as curl: %s", evalString(t, tab, `[...document.querySelectorAll(".toast .toast-title")].map((t) => t.textContent).join(" | ")`))
	screenshot(t, tab, artifacts, "inspect-request.png")
	step(t, tab, "the timing tab", 5*time.Second, chromedp.Click(chromedp.ID("insp-tab-timing")))
	waitJS(t, tab, "timings and Server-Timing", 5*time.Second, `(() => {
		const st = document.getElementById("insp-server-timing")?.textContent || "";
		const f = document.querySelector("#insp-timing .timing-facts").textContent;
		return st.includes("db") && st.includes("Postgres query") && st.includes("12.5 ms") && st.includes("render") &&
			f.includes("Connect") && f.includes("First byte") && f.includes("Total") && / ms/.test(f);
	})()`)
	screenshot(t, tab, artifacts, "inspect-timing.png")

	// Form fields as a table, XML indented.
	open := func(path string) {
		t.Helper()
		step(t, tab, "open "+path, 5*time.Second, chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#insp-list tbody tr[data-id]")].find((r) => r.querySelector(".path").textContent === `+strconv.Quote(path)+`).click()`))
	}
	open("/login")
	step(t, tab, "its request", 5*time.Second, chromedp.Click(chromedp.ID("insp-tab-request")))
	waitJS(t, tab, "form fields", 5*time.Second, `(() => {
		const f = document.getElementById("insp-request-body");
		return f && f.dataset.kind === "form" && [...f.querySelectorAll("tbody tr")].map((r) => r.textContent).join(",") === "userada,rememberon,next/home";
	})()`)
	open("/feed.xml")
	waitJS(t, tab, "XML indented", 5*time.Second, `(() => {
		const b = document.getElementById("insp-response-body");
		return b && b.dataset.kind === "xml" && b.textContent.includes('<feed>\n  <title>berth</title>\n  <entry id="1">\n    <name>cup</name>\n  </entry>\n</feed>');
	})()`)

	// A WebSocket through the inspected port: its frames are listed, with their direction.
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	ws, _, err := websocket.Dial(wctx, "ws://127.0.0.1:"+strconv.Itoa(apiPort)+"/ws", nil)
	if err != nil {
		wcancel()
		t.Fatalf("dial the WebSocket: %v", err)
	}
	for _, msg := range []string{"hello", "again"} {
		if err := ws.Write(wctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("write %q: %v", msg, err)
		}
		if _, got, err := ws.Read(wctx); err != nil || string(got) != "echo: "+msg {
			t.Fatalf("read the echo of %q: %q, %v", msg, got, err)
		}
	}
	if err := ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Logf("close the WebSocket: %v", err)
	}
	wcancel()
	waitJS(t, tab, "the WebSocket in the list", 10*time.Second, rows+`.some((r) => r.querySelector(".path").textContent === "/ws")`)
	open("/ws")
	step(t, tab, "its frames", 5*time.Second, chromedp.Click(chromedp.ID("insp-tab-frames")))
	waitJS(t, tab, "frames with arrows", 10*time.Second, `(() => {
		const r = [...document.querySelectorAll("#insp-frames tbody tr")].map((x) => x.querySelector(".dir").textContent + " " + x.querySelector(".payload").textContent);
		return r.length >= 4 && r[0] === "↑ hello" && r[1] === "↓ echo: hello" && r[2] === "↑ again" && r[3] === "↓ echo: again";
	})()`)
	screenshot(t, tab, artifacts, "inspect-websocket.png")

	// Edit and replay the POST: another body and path; the service sees the
	// edit, and the page shows the new exchange with the two responses side by side.
	step(t, tab, "back to the POST", 5*time.Second, chromedp.Navigate(base+"#/inspect/"+id))
	waitJS(t, tab, "the POST", 10*time.Second, `document.getElementById("insp-detail")?.dataset.id === `+strconv.Quote(id)+` && !!document.getElementById("insp-edit")`)
	dismissToasts := chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".toast button.icon").forEach((b) => b.click())`)
	step(t, tab, "edit and replay", 10*time.Second,
		dismissToasts,
		chromedp.Click(chromedp.ID("insp-edit")),
		chromedp.WaitVisible(chromedp.ID("insp-edit-body")),
	)
	if got := evalString(t, tab, `document.getElementById("insp-edit-body").value`); got != `{"name":"cup","qty":2}` {
		t.Errorf("the edit form's body is %q, want the request's", got)
	}
	step(t, tab, "edit", 5*time.Second, chromedp.Evaluate[chromedp.Void](
		setInput("insp-edit-body", `{"name":"mug","qty":3}`)+";"+setInput("insp-edit-path", "/api/items?edited=1")))
	screenshot(t, tab, artifacts, "inspect-edit.png")
	step(t, tab, "send", 5*time.Second, chromedp.Click(chromedp.ID("insp-edit-send")))
	waitJS(t, tab, "the replay and its diff", 15*time.Second, `(() => {
		const d = document.getElementById("insp-diff");
		const body = document.getElementById("insp-diff-body");
		const changed = body ? [...body.querySelectorAll(".sbs-row.changed")] : [];
		return /^#\/inspect\/\d+\/diff$/.test(location.hash) && d && d.dataset.equal === "false" &&
			document.getElementById("insp-replay-of")?.textContent === "replay of #`+id+`" &&
			document.getElementById("insp-url")?.textContent === "/api/items?edited=1" &&
			changed.some((r) => r.querySelector(".sbs-a").textContent.includes('"name": "cup"') && r.querySelector(".sbs-b").textContent.includes('"name": "mug"')) &&
			document.getElementById("insp-diff-summary").textContent.includes("body differs");
	})()`)
	replayID := strings.TrimSuffix(strings.TrimPrefix(evalString(t, tab, "location.hash"), "#/inspect/"), "/diff")
	waitJS(t, tab, "the replay in the list", 10*time.Second, fmt.Sprintf(`!!document.querySelector('#insp-list tr[data-id="%s"] .kind')`, replayID))
	logs := run("logs", "api")
	if !strings.Contains(logs, `got POST /api/items?edited=1 {"name":"mug","qty":3}`) {
		t.Errorf("the service did not see the edited request; its log:\n%s", logs)
	}
	screenshot(t, tab, artifacts, "inspect-diff.png")
	step(t, tab, "dark mode", 5*time.Second, colorScheme("dark"))
	screenshot(t, tab, artifacts, "inspect-diff-dark.png")
	step(t, tab, "light mode", 5*time.Second, colorScheme(""))

	// Replay as it was: the same request again, compared with the original.
	step(t, tab, "open the 404", 5*time.Second, chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#insp-list tbody tr[data-id]")].find((r) => r.dataset.status === "404").click()`))
	waitJS(t, tab, "the 404", 5*time.Second, `document.getElementById("insp-url")?.textContent === "/missing/thing"`)
	step(t, tab, "replay", 5*time.Second, chromedp.Click(chromedp.ID("insp-replay")))
	waitJS(t, tab, "the replay's diff", 15*time.Second, `(() => {
		const s = document.getElementById("insp-diff-summary")?.textContent || "";
		const body = document.getElementById("insp-diff-body");
		return document.getElementById("insp-url")?.textContent === "/missing/thing" && !!body &&
			!body.querySelector(".sbs-row:not(.same)") && (s.includes("same") || (s.includes("differ") && !s.includes("body")));
	})()`)

	// HAR: two selected exchanges, downloaded by the page, credentials redacted.
	downloads := t.TempDir()
	step(t, tab, "allow downloads", 5*time.Second, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		c := chromedp.FromContext(ctx)
		_, err := cdp.Call(ctx, c.Browser, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: c.BrowserContextID, DownloadPath: downloads,
		})
		return chromedp.Void{}, err
	})
	step(t, tab, "select two", 5*time.Second,
		chromedp.Navigate(base+"#/inspect"),
		chromedp.WaitVisible(chromedp.CSS(`#insp-list tr[data-id="`+id+`"] input[type=checkbox]`)),
		chromedp.Click(chromedp.CSS(`#insp-list tr[data-id="`+id+`"] input[type=checkbox]`)),
		chromedp.Click(chromedp.CSS(`#insp-list tr[data-id="`+replayID+`"] input[type=checkbox]`)),
	)
	waitJS(t, tab, "two selected", 5*time.Second, `document.getElementById("insp-har").textContent.includes("2 selected")`)
	step(t, tab, "download HAR", 5*time.Second, chromedp.Click(chromedp.ID("insp-har")))
	var har []byte
	deadline = time.Now().Add(15 * time.Second)
	for har == nil {
		matches, _ := filepath.Glob(filepath.Join(downloads, "*.har"))
		if len(matches) == 1 {
			har, _ = os.ReadFile(matches[0])
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HAR file was downloaded into %s: %v", downloads, matches)
		}
		if har == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	var doc struct {
		Log struct {
			Version string `json:"version"`
			Entries []struct {
				Request struct {
					Method  string `json:"method"`
					URL     string `json:"url"`
					Headers []struct{ Name, Value string }
				} `json:"request"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(har, &doc); err != nil {
		t.Fatalf("the downloaded HAR is not JSON: %v\n%.400s", err, har)
	}
	if doc.Log.Version != "1.2" || len(doc.Log.Entries) != 2 {
		t.Errorf("HAR version %q with %d entries, want 1.2 with 2", doc.Log.Version, len(doc.Log.Entries))
	}
	if bytes.Contains(har, []byte("s3cr3t-token")) {
		t.Errorf("the HAR holds the bearer token unredacted")
	}

	// The switch: off, a request is not recorded; on again, one is.
	step(t, tab, "switch api off", 5*time.Second, chromedp.Click(chromedp.ID("insp-toggle-api")))
	waitJS(t, tab, "api off", 10*time.Second, `document.getElementById("insp-toggle-api").getAttribute("aria-checked") === "false"`)
	if got := run("ps", "api"); strings.Contains(got, "inspected") {
		t.Errorf("after the switch is off, ps still says inspected:\n%s", got)
	}
	// The switch applies to new connections: open connections keep their mode.
	client.CloseIdleConnections()
	send("GET", "/while-off", "", "")
	client.CloseIdleConnections()
	step(t, tab, "switch api on", 5*time.Second, chromedp.Click(chromedp.ID("insp-toggle-api")))
	waitJS(t, tab, "api on", 10*time.Second, `document.getElementById("insp-toggle-api").getAttribute("aria-checked") === "true"`)
	send("GET", "/while-on", "", "")
	waitJS(t, tab, "only /while-on recorded", 10*time.Second, `(() => { const r = `+rows+`.map((x) => x.querySelector(".path").textContent);
		return r.includes("/while-on") && !r.includes("/while-off"); })()`)
	// A service that binds its own published port cannot be inspected: the API says why.
	step(t, tab, "switch same on", 5*time.Second, chromedp.Click(chromedp.ID("insp-toggle-same")))
	waitJS(t, tab, "the error toast", 10*time.Second, `[...document.querySelectorAll(".toast-error")].some((t) => t.textContent.includes("Inspect same failed") && t.textContent.includes("same host port"))`)
	if got := evalString(t, tab, `document.getElementById("insp-toggle-same").getAttribute("aria-checked")`); got != "false" {
		t.Errorf("same's switch is %s after the refusal", got)
	}
	screenshot(t, tab, artifacts, "inspect-toggle.png")

	// The overview links an inspected service to its requests.
	step(t, tab, "the overview", 5*time.Second, chromedp.Navigate(base+"#/"))
	waitJS(t, tab, "api's requests link", 10*time.Second, `!!document.querySelector('#svc-api a[data-action="inspect"]') && !document.querySelector('#svc-same a[data-action="inspect"]')`)
	step(t, tab, "follow it", 5*time.Second, chromedp.Click(chromedp.CSS(`#svc-api a[data-action="inspect"]`)))
	waitJS(t, tab, "the inspect page, api's requests", 10*time.Second, `document.getElementById("insp-service")?.value === "api" && `+rows+`.length > 0`)

	if errs := evalString(t, tab, `window.__errors.join(" | ")`); errs != "" {
		t.Errorf("page errors: %s", errs)
	}
}

// typeKeys types s into the focused element as a keyboard does: one keyDown
// carrying the key's text, then a keyUp, for each key. (chromedp's SendKeys
// and KeyEvent send the text in a separate char event, which xterm.js takes
// as a second keystroke: every character arrives twice.)
func typeKeys(s string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for _, r := range s {
			var down, up *input.DispatchKeyEventParams
			text, unmodified := "", ""
			for _, k := range kb.Encode(r) {
				switch k.Type {
				case kb.KeyDown:
					down = k
				case kb.KeyChar:
					text, unmodified = k.Text, k.UnmodifiedText
				case kb.KeyUp:
					up = k
				}
			}
			down.Text, down.UnmodifiedText = text, unmodified
			for _, k := range []*input.DispatchKeyEventParams{down, up} {
				if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, *k); err != nil {
					return chromedp.Void{}, err
				}
			}
		}
		return chromedp.Void{}, nil
	}
}

// colorScheme emulates prefers-color-scheme (dark, light; "" for the system's).
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		var p emulation.SetEmulatedMediaParams
		if scheme != "" {
			p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
		}
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, p)
		return chromedp.Void{}, err
	}
}

// findChromium returns the path of a Chromium or Chrome binary, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactsDir is where screenshots go: $BERTH_ARTIFACTS/dashboard, else
// test-artifacts/dashboard at the repository's root.
func artifactsDir(t *testing.T) string {
	dir := filepath.Join(repoRoot, "test-artifacts", "dashboard")
	if a := os.Getenv("BERTH_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "dashboard")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium; each tab is a browser context of its
// own (its own cookies), so each can sign in as a different user.
type browser struct {
	ctx context.Context
}

func newBrowser(t *testing.T, chrome string) *browser {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	// The first Do starts the browser and lives as long as ctx: no timeout here.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel() // closes the browser and waits for it
		cancelAlloc()
	})
	return &browser{ctx: ctx}
}

// tab opens a tab in a new browser context.
func (b *browser) tab(t *testing.T) context.Context {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	t.Cleanup(cancel)
	return ctx
}

// step runs actions with a timeout, failing the test with what it was doing.
func step(t *testing.T, ctx context.Context, what string, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v\npage: %s", what, err, pageText(ctx))
	}
}

// waitJS polls a JavaScript predicate until it is true.
func waitJS(t *testing.T, ctx context.Context, what string, d time.Duration, expr string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err := chromedp.Run(sctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		t.Fatalf("wait for %s: %v\npage: %s", what, err, pageText(ctx))
	}
}

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// pageText is the page's visible text, for failure messages.
func pageText(ctx context.Context) string {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Evaluate[string](`(() => {
		if (!document.body) return "";
		let s = document.body.innerText.slice(0, 3000);
		const box = document.querySelector(".logbox");
		if (box) s += "\n[list: " + box.querySelectorAll(".ln").length + " rows, scrollTop " + box.scrollTop + ", height " + box.clientHeight + "/" + box.scrollHeight + ", filter " + JSON.stringify(document.getElementById("log-filter")?.value) + "]";
		if (window.__errors) s += "\n[errors: " + window.__errors.join(" | ") + "]";
		s += "\n[visibility: " + document.visibilityState + "]";
		return s;
	})()`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return s
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Let the last frame paint (toasts animate in over 180 ms).
	_ = chromedp.Do(sctx, chromedp.Sleep(300*time.Millisecond))
	b, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", filepath.Join(dir, name))
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}

// berthUp runs `berth up -d` in dir with its own state folder and home, the
// API on apiPort and extra environment, and `berth down` at the end of the
// test. It returns what runs a berth command there and gives its trimmed
// output (failing the test if it fails).
func berthUp(t *testing.T, berth, dir string, apiPort int, extraEnv ...string) (run func(args ...string) string) {
	t.Helper()
	env := append(os.Environ(),
		"BERTH_STATE_HOME="+filepath.Join(dir, ".state"),
		"HOME="+filepath.Join(dir, "home"),
		"NO_COLOR=1",
		"GORACE=atexit_sleep_ms=0",
	)
	env = append(env, extraEnv...)
	run = func(args ...string) string {
		t.Helper()
		cmd := exec.Command(berth, args...)
		cmd.Dir, cmd.Env = dir, env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("berth %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
		return strings.TrimSpace(out.String())
	}
	run("up", "-d", "--port", strconv.Itoa(apiPort))
	t.Cleanup(func() {
		cmd := exec.Command(berth, "down")
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("berth down: %v\n%s", err, out)
		}
	})
	return run
}

// browserTools finds Chromium and the berth command of testscript.Main.
// Without Chromium the test fails, except with -short, where it is skipped.
func browserTools(t *testing.T) (chrome, berth string) {
	t.Helper()
	chrome = findChromium()
	if chrome == "" {
		if testing.Short() {
			t.Skip("chromium is not installed (apt-get install -y chromium); skipped with -short")
		}
		t.Fatal("chromium is not installed: apt-get install -y chromium (or run with -short to skip the browser tests)")
	}
	berth, err := exec.LookPath("berth")
	if err != nil {
		t.Fatalf("the berth command of testscript.Main is not on PATH: %v", err)
	}
	return chrome, berth
}

// collectPageErrors makes a page keep its script errors, unhandled
// rejections and CSP violations in window.__errors, for a test to check.
const collectPageErrors = `window.__errors = [];
	addEventListener("error", (e) => window.__errors.push(String(e.message)));
	addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason)));
	addEventListener("securitypolicyviolation", (e) => window.__errors.push("CSP: " + e.violatedDirective + " " + e.blockedURI))`
