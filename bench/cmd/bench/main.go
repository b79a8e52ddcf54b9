// Command bench is berth's whole-process benchmark (issue 2): berth side by
// side, in one run, with supervisord and with the physical limit (a shell
// loop, or producers writing straight into a file). Run it with
// bench/run.sh; bench/README.md says what each figure means.
//
// It is a main package with no tests, so `go test ./...` never runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// childTag is the environment variable that marks every process the bench
// starts, and their descendants, so that cleanup finds them all.
const childTag = "BERTH_BENCH_CHILD"

// A step is what one system runs for one scenario, in a fresh folder dir.
type step func(ctx context.Context, dir string) error

type scenario struct {
	name string
	run  map[string]step // by system
}

type bench struct {
	root        string // the berth module
	tmp         string // everything the bench writes
	tag         string // the value of childTag
	keep        bool   // keep tmp, for debugging
	berthBin    string
	producerBin string
	res         results
	failures    []string
}

func main() { os.Exit(run()) }

func run() int {
	out := flag.String("out", "", "also write the report to this file")
	flag.Parse()
	runs := 3
	if s := os.Getenv("RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: RUNS=%q: want a number of runs, 1 or more\n", s)
			return 2
		}
		runs = n
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b, err := setup(ctx)
	if b != nil {
		defer b.cleanup()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	start := time.Now()
	for i := range runs {
		// Rotate the order of the systems from run to run, so that none is
		// always first after the previous scenario's teardown.
		systems := []string{sysBerth, sysSupervisord, sysLimit}
		systems = append(systems[i%3:], systems[:i%3]...)
		for _, sc := range b.scenarios() {
			for _, sys := range systems {
				if fn := sc.run[sys]; fn != nil && ctx.Err() == nil {
					b.step(ctx, i+1, sc.name, sys, fn)
				}
			}
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		return 130
	}
	report := b.report(runs, time.Since(start))
	fmt.Print(report)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "bench: report written to %s\n", *out)
	}
	if len(b.failures) > 0 {
		return 1
	}
	return 0
}

// setup makes the temporary folder and builds berth and the producer into it.
func setup(ctx context.Context) (*bench, error) {
	for _, name := range []string{"supervisord", "supervisorctl"} {
		if _, err := exec.LookPath(name); err != nil {
			return nil, fmt.Errorf("%s not found: run bench/run.sh, which installs supervisor", name)
		}
	}
	// As a child subreaper, the bench inherits what its children orphan
	// (berth's daemon, supervisord's programs after a SIGKILL): they stay in
	// its tree, and it reaps them, even where PID 1 does not.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become child subreaper: %w", err)
	}
	tag := os.Getenv("BERTH_BENCH_TAG") // set by run.sh, whose trap kills what carries it
	if tag == "" {
		tag = fmt.Sprintf("bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	if err := os.Setenv(childTag, tag); err != nil {
		return nil, err
	}
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(gomod)), "go.mod") {
		return nil, errors.New("run the bench inside the berth module (go env GOMOD is empty)")
	}
	tmp, err := os.MkdirTemp("", "berth-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{
		root:        filepath.Dir(strings.TrimSpace(string(gomod))),
		tmp:         tmp,
		tag:         tag,
		keep:        os.Getenv("KEEP") != "",
		berthBin:    filepath.Join(tmp, "bin", "berth"),
		producerBin: filepath.Join(tmp, "bin", "producer"),
		res:         results{},
	}
	fmt.Fprintf(os.Stderr, "bench: building berth and the producer into %s\n", filepath.Dir(b.berthBin))
	for pkg, bin := range map[string]string{"./cmd/berth": b.berthBin, "./bench/cmd/producer": b.producerBin} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
		cmd.Dir = b.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	}
	return b, nil
}

// step runs one system's part of a scenario, then kills whatever it left
// running and removes its folder.
func (b *bench) step(ctx context.Context, run int, name, sys string, fn step) {
	dir := filepath.Join(b.tmp, fmt.Sprintf("run%d", run), name+"-"+sys)
	fmt.Fprintf(os.Stderr, "bench: run %d: %s: %s\n", run, name, sys)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		err = fn(sctx, dir)
	}
	cancel()
	if err != nil && ctx.Err() == nil {
		msg := fmt.Sprintf("run %d: %s: %s: %v", run, name, sys, err)
		b.failures = append(b.failures, msg)
		fmt.Fprintf(os.Stderr, "bench: FAILED %s\n", msg)
	}
	if n := killTagged(childTag, b.tag); n > 0 {
		fmt.Fprintf(os.Stderr, "bench: %s: %s left %d processes running; killed them\n", name, sys, n)
	}
	reapOrphans()
	if !b.keep {
		_ = os.RemoveAll(dir)
	}
}

// cleanup kills every process the bench started and removes its files.
func (b *bench) cleanup() {
	killTagged(childTag, b.tag)
	reapOrphans()
	if b.keep {
		fmt.Fprintf(os.Stderr, "bench: kept %s\n", b.tmp)
		return
	}
	_ = os.RemoveAll(b.tmp)
}

// reapOrphans waits for every exited child. Only call it when no exec.Cmd is
// waiting for its process: it would take that exit status.
func reapOrphans() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
