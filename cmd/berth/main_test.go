package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/berth-dev/berth/internal/cli"
)

// repoRoot is the repository's top folder (scripts copy the examples from it).
var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"berth": func() { os.Exit(cli.Main()) },
		"bhelp": func() { os.Exit(helperMain(os.Args[1:])) },
	})
}

// TestScripts runs every end-to-end script in testdata/script against the
// real binary. Scripts whose name starts with "long_" only run without -short.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			if testing.Short() && strings.HasPrefix(filepath.Base(env.WorkDir), "long_") {
				env.T().Skip("long script: skipped with -short")
			}
			env.Setenv("BERTH_STATE_HOME", filepath.Join(env.WorkDir, ".state"))
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			env.Setenv("NO_COLOR", "1")
			// A race-built binary sleeps 1 s at exit by default; scripts run it hundreds of times.
			env.Setenv("GORACE", "atexit_sleep_ms=0")
			env.Setenv("REPO", repoRoot)
			// A free port for scripts that publish one.
			for _, name := range []string{"PORT", "PORT2"} {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					return err
				}
				env.Setenv(name, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
				l.Close()
			}
			env.Defer(func() { cleanupEngines(env) })
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfor": cmdWaitfor,
			"killpid": cmdKillpid,
			"pty":     cmdPty,
		},
	})
}

// cleanupEngines stops any engine a failed script left running, so one
// failure does not leak processes into the rest of the run.
func cleanupEngines(env *testscript.Env) {
	matches, _ := filepath.Glob(filepath.Join(env.WorkDir, ".state", "*", "engine.pid"))
	for _, m := range matches {
		if pid := readPid(m); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// waitfor polls a condition for up to 20 s:
//
//	waitfor file PATH [REGEXP]   the file exists (and its content matches)
//	waitfor http URL [REGEXP]    a GET answers 200 (and the body matches)
//	waitfor gone PIDFILE         every pid listed in the file has exited
//	waitfor free PORT            nothing listens on 127.0.0.1:PORT
//
// With !, it fails if the condition becomes true within 1 s.
func cmdWaitfor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: waitfor file|http|gone|free ARG [REGEXP]")
	}
	var re *regexp.Regexp
	if len(args) > 2 {
		re = regexp.MustCompile(args[2])
	}
	check := func() (bool, string) {
		switch args[0] {
		case "file":
			b, err := os.ReadFile(ts.MkAbs(args[1]))
			if err != nil {
				return false, err.Error()
			}
			if re != nil && !re.Match(b) {
				return false, fmt.Sprintf("%s does not match %q:\n%s", args[1], args[2], b)
			}
			return true, ""
		case "http":
			c := http.Client{Timeout: 2 * time.Second}
			resp, err := c.Get(args[1])
			if err != nil {
				return false, err.Error()
			}
			defer resp.Body.Close()
			var sb strings.Builder
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				sb.WriteString(sc.Text() + "\n")
			}
			if resp.StatusCode != 200 {
				return false, resp.Status
			}
			if re != nil && !re.MatchString(sb.String()) {
				return false, fmt.Sprintf("body does not match %q: %s", args[2], sb.String())
			}
			return true, ""
		case "gone":
			b, err := os.ReadFile(ts.MkAbs(args[1]))
			if err != nil {
				return false, err.Error()
			}
			var alive []string
			for _, f := range strings.Fields(string(b)) {
				pid, err := strconv.Atoi(f)
				if err == nil && pidAlive(pid) {
					alive = append(alive, f)
				}
			}
			if len(alive) > 0 {
				return false, "still running: " + strings.Join(alive, " ")
			}
			return true, ""
		case "free":
			l, err := net.Listen("tcp", "127.0.0.1:"+args[1])
			if err != nil {
				return false, err.Error()
			}
			l.Close()
			return true, ""
		}
		ts.Fatalf("waitfor: unknown condition %q", args[0])
		return false, ""
	}
	limit := 20 * time.Second
	if neg {
		limit = time.Second
	}
	deadline := time.Now().Add(limit)
	for {
		ok, why := check()
		if ok && neg {
			ts.Fatalf("waitfor %s: condition holds, expected it not to", strings.Join(args, " "))
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if neg {
				return
			}
			ts.Fatalf("waitfor %s: timed out: %s", strings.Join(args, " "), why)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// pidAlive reports whether pid exists and is not a zombie.
func pidAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// pty SCRIPT COMMAND [ARGS...] runs a command on a pseudo-terminal and
// drives it with SCRIPT, one step a line:
//
//	expect REGEXP   wait (up to 20 s) until the output so far matches
//	send TEXT       type TEXT (Go escapes: \n, \x10)
//	wait            wait for the command to exit 0
//
// The command's output is then the script's stdout.
func cmdPty(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: pty SCRIPT COMMAND [ARGS...]")
	}
	script, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	path, err := exec.LookPath(args[1])
	if err != nil {
		path = args[1]
	}
	cmd := exec.Command(path, args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	for _, k := range []string{"PATH", "HOME", "BERTH_STATE_HOME", "NO_COLOR", "GORACE", "TMPDIR"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	f, err := pty.Start(cmd)
	ts.Check(err)
	defer f.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			mu.Lock()
			out.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	output := func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
	defer func() {
		_ = cmd.Process.Kill()
		ts.Logf("pty output:\n%s", output())
	}()
	for _, line := range strings.Split(string(script), "\n") {
		verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch verb {
		case "", "#":
		case "expect":
			re := regexp.MustCompile(arg)
			deadline := time.Now().Add(20 * time.Second)
			for !re.MatchString(output()) {
				if time.Now().After(deadline) {
					ts.Fatalf("pty: timed out waiting for %q", arg)
				}
				time.Sleep(20 * time.Millisecond)
			}
		case "send":
			text, err := strconv.Unquote(`"` + arg + `"`)
			ts.Check(err)
			_, err = f.Write([]byte(text))
			ts.Check(err)
		case "wait":
			ts.Check(cmd.Wait())
			select {
			case <-readDone:
			case <-time.After(5 * time.Second):
			}
		default:
			ts.Fatalf("pty: unknown step %q", line)
		}
	}
	fmt.Fprint(ts.Stdout(), output())
}

// killpid -SIGNAL PIDFILE sends a signal to the pid in a file.
func cmdKillpid(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || !strings.HasPrefix(args[0], "-") {
		ts.Fatalf("usage: killpid -KILL|-TERM|-INT PIDFILE")
	}
	sigs := map[string]syscall.Signal{"KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM, "INT": syscall.SIGINT}
	sig, ok := sigs[args[0][1:]]
	if !ok {
		ts.Fatalf("killpid: unknown signal %s", args[0])
	}
	pid := readPid(ts.MkAbs(args[1]))
	if pid <= 0 {
		ts.Fatalf("killpid: no pid in %s", args[1])
	}
	ts.Check(syscall.Kill(pid, sig))
}

// helperMain is a small program the scripts use as a service:
//
//	bhelp lines N [WIDTH]     print N numbered lines (as fast as possible) and exit 0
//	bhelp exit CODE [MSG]     print MSG and exit with CODE
//	bhelp ignore-term FILE    ignore SIGTERM, write "ready" to FILE, run until killed
//	bhelp serve PORT [TEXT]   serve HTTP on 127.0.0.1:PORT answering TEXT
//	bhelp family PIDFILE      start a grandchild, append both pids to PIDFILE, run until killed
//	bhelp hammer URL STOP     GET URL in a loop until the file STOP exists; print ok=N failed=M
func helperMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "bhelp: missing command")
		return 2
	}
	switch args[0] {
	case "lines":
		n, _ := strconv.Atoi(args[1])
		width := 0
		if len(args) > 2 {
			width, _ = strconv.Atoi(args[2])
		}
		w := bufio.NewWriterSize(os.Stdout, 64<<10)
		pad := strings.Repeat("x", max(0, width-20))
		for i := 1; i <= n; i++ {
			fmt.Fprintf(w, "line %09d %s\n", i, pad)
		}
		w.Flush()
		return 0
	case "exit":
		code, _ := strconv.Atoi(args[1])
		if len(args) > 2 {
			fmt.Println(strings.Join(args[2:], " "))
		}
		return code
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		if err := os.WriteFile(args[1], []byte("ready\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("ignoring SIGTERM")
		select {}
	case "serve":
		text := "ok"
		if len(args) > 2 {
			text = args[2]
		}
		fmt.Println("serving on", args[1])
		err := http.ListenAndServe("127.0.0.1:"+args[1], http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, text)
		}))
		fmt.Fprintln(os.Stderr, err)
		return 1
	case "hammer":
		// hammer URL STOPFILE: GET URL in a loop until STOPFILE exists,
		// then print how many requests failed.
		c := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		ok, failed := 0, 0
		for {
			if _, err := os.Stat(args[2]); err == nil {
				break
			}
			resp, err := c.Get(args[1])
			if err == nil && resp.StatusCode == 200 {
				resp.Body.Close()
				ok++
				continue
			}
			if err == nil {
				resp.Body.Close()
				err = fmt.Errorf("status %s", resp.Status)
			}
			failed++
			fmt.Fprintln(os.Stderr, "request failed:", err)
		}
		fmt.Printf("ok=%d failed=%d\n", ok, failed)
		return 0
	case "family":
		p, err := os.StartProcess("/bin/sleep", []string{"sleep", "300"}, &os.ProcAttr{Files: []*os.File{nil, os.Stdout, os.Stderr}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		f, err := os.OpenFile(args[1], os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(f, "%d %d\n", os.Getpid(), p.Pid)
		f.Close()
		fmt.Println("family started")
		select {}
	}
	fmt.Fprintf(os.Stderr, "bhelp: unknown command %q\n", args[0])
	return 2
}
