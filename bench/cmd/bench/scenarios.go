package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The systems compared.
const (
	sysBerth       = "berth"
	sysSupervisord = "supervisord"
	sysLimit       = "limit"
)

// Metrics, recorded per system and run.
const (
	mStart     = "start"     // (a) seconds until all 50 run (berth: `up -d` returned)
	mStartPs   = "start.ps"  // (a) seconds until all 50 run (berth: `ps` shows them)
	mRSS       = "rss"       // (d) MB resident, 50 services running
	mRSSAnon   = "rss.anon"  // (d) MB, the anonymous part of mRSS
	mRSSReaper = "rss.reap"  // (d) MB resident of berth's reaper process
	mStop      = "stop"      // (c) seconds to stop 50 services
	mSurvivors = "survivors" // (e) processes alive 3 s after SIGKILL of the supervisor
)

// Log metrics are named after their case: "<case>.wall" etc.
const (
	mWall = ".wall" // seconds from launch until every line is on disk
	mPipe = ".pipe" // seconds from the first producer's start until every line is on disk
	mCPU  = ".cpu"  // CPU seconds of the supervisor process
	mLost = ".lost" // lines not captured, or damaged
	mKept = ".kept" // lines still on disk at the end
)

// logCase is a log-throughput case: services producers of lines each.
type logCase struct {
	key      string
	services int
	lines    int
}

func (c logCase) total() int { return c.services * c.lines }

var logCases = []logCase{
	{key: "log1", services: 1, lines: 1_000_000},
	{key: "log10", services: 10, lines: 200_000},
}

const (
	numServices = 50
	numKilled   = 5
	// settle is how long services run before RSS is read or they are stopped:
	// long enough for every shell to have set its trap.
	settle = time.Second
	// stall is how long a log run may make no progress before the bench stops
	// waiting and counts the missing lines as lost.
	stall = 10 * time.Second
	// survivorWait is how long after a SIGKILL of the supervisor survivors are counted.
	survivorWait = 3 * time.Second
)

// The programs of each scenario, the same for every system.
const (
	trapScript  = `trap "sleep 0.1; exit 0" TERM; while :; do sleep 1 & wait; done`
	grandparent = `sleep 300 & wait`
)

func programs(n int, env []string, argv ...string) []program {
	progs := make([]program, n)
	for i := range progs {
		progs[i] = program{name: fmt.Sprintf("s%02d", i+1), argv: argv, env: env}
	}
	return progs
}

// scenarios returns what each system runs, scenario by scenario.
func (b *bench) scenarios() []scenario {
	sc := []scenario{{
		name: "start50",
		run: map[string]step{
			sysBerth:       b.startBerth,
			sysSupervisord: b.startSupervisord,
			sysLimit:       b.startLimit,
		},
	}}
	for _, c := range logCases {
		sc = append(sc, scenario{
			name: c.key,
			run: map[string]step{
				sysBerth:       func(ctx context.Context, dir string) error { return b.logsBerth(ctx, dir, c) },
				sysSupervisord: func(ctx context.Context, dir string) error { return b.logsSupervisord(ctx, dir, c) },
				sysLimit:       func(ctx context.Context, dir string) error { return b.logsLimit(ctx, dir, c) },
			},
		})
	}
	return append(sc,
		scenario{
			name: "stop50",
			run: map[string]step{
				sysBerth:       b.stopBerth,
				sysSupervisord: b.stopSupervisord,
				sysLimit:       b.stopLimit,
			},
		},
		scenario{
			name: "sigkill5",
			run: map[string]step{
				sysBerth:       b.killBerth,
				sysSupervisord: b.killSupervisord,
			},
		},
	)
}

// (a) and (d): 50 `sleep 300` services from launch until all run.

func (b *bench) startBerth(ctx context.Context, dir string) error {
	p, err := newBerthProject(b.berthBin, dir, programs(numServices, nil, "sleep", "300"))
	if err != nil {
		return err
	}
	defer p.close()
	t0 := time.Now()
	if err := p.up(ctx); err != nil {
		return err
	}
	up := time.Since(t0)
	err = poll(ctx, time.Millisecond, func() (bool, error) {
		n, err := p.running(ctx)
		return n == numServices, err
	})
	if err != nil {
		return err
	}
	ps := time.Since(t0)
	time.Sleep(settle)
	if err := b.addMem(sysBerth, p.pid); err != nil {
		return err
	}
	if reaper := childNamed(p.pid, "berth"); reaper != 0 {
		if rss, err := memMB(reaper, "VmRSS"); err == nil {
			b.res.add(mRSSReaper, sysBerth, rss)
		}
	}
	b.res.add(mStart, sysBerth, up.Seconds())
	b.res.add(mStartPs, sysBerth, ps.Seconds())
	return p.close()
}

func (b *bench) startSupervisord(ctx context.Context, dir string) error {
	t0 := time.Now()
	s, err := startSupervisord(dir, programs(numServices, nil, "sleep", "300"), "")
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.waitRunning(ctx, numServices); err != nil {
		return err
	}
	d := time.Since(t0)
	time.Sleep(settle)
	if err := b.addMem(sysSupervisord, s.pid()); err != nil {
		return err
	}
	b.res.add(mStart, sysSupervisord, d.Seconds())
	b.res.add(mStartPs, sysSupervisord, d.Seconds())
	return s.close()
}

// addMem records the resident memory of a supervisor process, and its
// anonymous part: VmRSS also counts the pages of the binary it has mapped,
// which depend on what the page cache holds.
func (b *bench) addMem(sys string, pid int) error {
	rss, err := memMB(pid, "VmRSS")
	if err != nil {
		return err
	}
	anon, err := memMB(pid, "RssAnon")
	if err != nil {
		return err
	}
	b.res.add(mRSS, sys, rss)
	b.res.add(mRSSAnon, sys, anon)
	return nil
}

func (b *bench) startLimit(ctx context.Context, dir string) error {
	script := fmt.Sprintf("i=0; while [ $i -lt %d ]; do sleep 300 & i=$((i+1)); done", numServices)
	cmd := command(ctx, dir, nil, "sh", "-c", script)
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	killTagged(childTag, b.tag) // the sleeps: all the bench runs now
	if err != nil {
		return fmt.Errorf("shell loop: %w", err)
	}
	b.res.add(mStart, sysLimit, d.Seconds())
	b.res.add(mStartPs, sysLimit, d.Seconds())
	return nil
}

// waitRunning polls supervisord until n programs are RUNNING.
func (s *supervisor) waitRunning(ctx context.Context, n int) error {
	return poll(ctx, 5*time.Millisecond, func() (bool, error) {
		got, err := s.running(ctx)
		return got == n, err
	})
}

// (b): log throughput, until every line is on disk.

// producers are c's producers; each writes its start time to a file in dir.
func (b *bench) producers(c logCase, dir string) []program {
	progs := programs(c.services, nil)
	for i, p := range progs {
		progs[i].argv = []string{b.producerBin, "-n", strconv.Itoa(c.lines), "-size", strconv.Itoa(lineSize), "-stamp", filepath.Join(dir, p.name+".stamp")}
	}
	return progs
}

// firstStart returns the earliest start time the producers wrote.
func firstStart(progs []program) (time.Time, error) {
	var first time.Time
	for _, p := range progs {
		path := p.argv[len(p.argv)-1]
		b, err := os.ReadFile(path)
		if err != nil {
			return first, fmt.Errorf("read producer start time: %w", err)
		}
		ns, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return first, fmt.Errorf("read producer start time %s: %q", path, b)
		}
		if t := time.Unix(0, ns); first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first, nil
}

// waitLines polls count until it reaches want, or makes no progress for
// stall. It returns the time of the last progress.
func waitLines(ctx context.Context, want int, count func() int) (time.Time, error) {
	got, last := 0, time.Now()
	err := poll(ctx, 2*time.Millisecond, func() (bool, error) {
		now := time.Now()
		if n := count(); n != got {
			got, last = n, now
		}
		return got >= want || now.Sub(last) > stall, nil
	})
	return last, err
}

func (b *bench) logsBerth(ctx context.Context, dir string, c logCase) error {
	progs := b.producers(c, dir)
	p, err := newBerthProject(b.berthBin, dir, progs)
	if err != nil {
		return err
	}
	defer p.close()
	t0 := time.Now()
	if err := p.up(ctx); err != nil {
		return err
	}
	// The current file's last record tells how many lines berth has written.
	// Just after a rotation it may be empty: keep each service's highest.
	seen := make([]uint64, c.services)
	done, err := waitLines(ctx, c.total(), func() int {
		sum := 0
		for i := range seen {
			seen[i] = max(seen[i], lastSeq(filepath.Join(p.logDir(), fmt.Sprintf("s%02d.log", i+1))))
			sum += int(seen[i])
		}
		return sum
	})
	if err != nil {
		return err
	}
	cpu, err := cpuSeconds(p.pid)
	if err != nil {
		return err
	}
	if err := p.close(); err != nil {
		return err
	}
	lost, kept := 0, 0
	for i := range c.services {
		l, err := checkBerthLog(p.logDir(), fmt.Sprintf("s%02d", i+1))
		if err != nil {
			return err
		}
		lost += c.lines - int(l.last) + l.bad
		kept += l.kept
	}
	start, err := firstStart(progs)
	if err != nil {
		return err
	}
	b.addLog(c, sysBerth, done.Sub(t0), done.Sub(start), cpu, lost, kept)
	return nil
}

func (b *bench) logsSupervisord(ctx context.Context, dir string, c logCase) error {
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	counters := make([]lineCounter, c.services)
	for i := range counters {
		counters[i].path = filepath.Join(logDir, fmt.Sprintf("s%02d.log", i+1))
	}
	progs := b.producers(c, dir)
	t0 := time.Now()
	s, err := startSupervisord(dir, progs, logDir)
	if err != nil {
		return err
	}
	defer s.close()
	done, err := waitLines(ctx, c.total(), func() int {
		sum := 0
		for i := range counters {
			sum += counters[i].count()
		}
		return sum
	})
	if err != nil {
		return err
	}
	cpu, err := cpuSeconds(s.pid())
	if err != nil {
		return err
	}
	if err := s.close(); err != nil {
		return err
	}
	kept, err := checkPlainFiles(counters)
	if err != nil {
		return err
	}
	start, err := firstStart(progs)
	if err != nil {
		return err
	}
	b.addLog(c, sysSupervisord, done.Sub(t0), done.Sub(start), cpu, c.total()-kept, kept)
	return nil
}

// logsLimit runs the producers with their output redirected straight into a
// file each, and waits for them to exit.
func (b *bench) logsLimit(ctx context.Context, dir string, c logCase) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	progs := b.producers(c, dir)
	counters := make([]lineCounter, c.services)
	cmds := make([]*exec.Cmd, c.services)
	for i, p := range progs {
		counters[i].path = filepath.Join(dir, p.name+".log")
		f, err := os.Create(counters[i].path)
		if err != nil {
			return err
		}
		defer f.Close()
		cmds[i] = command(ctx, dir, nil, p.argv[0], p.argv[1:]...)
		cmds[i].Stdout = f // an *os.File: the producer writes to it directly
	}
	t0 := time.Now()
	for _, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			return err
		}
	}
	var err error
	for _, cmd := range cmds {
		if werr := cmd.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("producer: %w", werr)
		}
	}
	done := time.Now()
	if err != nil {
		return err
	}
	kept, err := checkPlainFiles(counters)
	if err != nil {
		return err
	}
	start, err := firstStart(progs)
	if err != nil {
		return err
	}
	b.addLog(c, sysLimit, done.Sub(t0), done.Sub(start), -1, c.total()-kept, kept)
	return nil
}

func checkPlainFiles(counters []lineCounter) (int, error) {
	kept := 0
	for _, lc := range counters {
		n, err := checkPlain(lc.path)
		if err != nil {
			return 0, err
		}
		kept += n
	}
	return kept, nil
}

// addLog records a log run; cpu < 0 means there is no supervisor process.
func (b *bench) addLog(c logCase, sys string, wall, pipe time.Duration, cpu float64, lost, kept int) {
	b.res.add(c.key+mWall, sys, wall.Seconds())
	b.res.add(c.key+mPipe, sys, pipe.Seconds())
	if cpu >= 0 {
		b.res.add(c.key+mCPU, sys, cpu)
	}
	b.res.add(c.key+mLost, sys, float64(lost))
	b.res.add(c.key+mKept, sys, float64(kept))
}

// (c): stop 50 services that exit 0.1 s after SIGTERM.

func (b *bench) stopBerth(ctx context.Context, dir string) error {
	p, err := newBerthProject(b.berthBin, dir, programs(numServices, nil, "sh", "-c", trapScript))
	if err != nil {
		return err
	}
	defer p.close()
	if err := p.up(ctx); err != nil {
		return err
	}
	err = poll(ctx, 10*time.Millisecond, func() (bool, error) {
		n, err := p.running(ctx)
		return n == numServices, err
	})
	if err != nil {
		return err
	}
	time.Sleep(settle)
	t0 := time.Now()
	if _, err := p.run(ctx, "down"); err != nil {
		return err
	}
	b.res.add(mStop, sysBerth, time.Since(t0).Seconds())
	return p.close()
}

func (b *bench) stopSupervisord(ctx context.Context, dir string) error {
	s, err := startSupervisord(dir, programs(numServices, nil, "sh", "-c", trapScript), "")
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.waitRunning(ctx, numServices); err != nil {
		return err
	}
	time.Sleep(settle)
	t0 := time.Now()
	if err := s.ctl(ctx, "stop", "all"); err != nil {
		return err
	}
	b.res.add(mStop, sysSupervisord, time.Since(t0).Seconds())
	return s.close()
}

// stopLimit starts the 50 shells from a shell, which then times its own
// `kill` of all of them and `wait` for them (date +%s%N before and after).
func (b *bench) stopLimit(ctx context.Context, dir string) error {
	script := fmt.Sprintf(`pids=
i=0
while [ $i -lt %d ]; do
	sh -c '%s' &
	pids="$pids $!"
	i=$((i+1))
done
sleep %g
t0=$(date +%%s%%N)
kill -TERM $pids
wait
t1=$(date +%%s%%N)
echo $((t1-t0))`, numServices, trapScript, settle.Seconds())
	cmd := command(ctx, dir, nil, "sh", "-c", script)
	out, err := cmd.Output()
	killTagged(childTag, b.tag) // the shells' `sleep 1`s: all the bench runs now
	if err != nil {
		return fmt.Errorf("shell loop: %w", err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return fmt.Errorf("shell loop printed %q", out)
	}
	b.res.add(mStop, sysLimit, time.Duration(ns).Seconds())
	return nil
}

// (e): SIGKILL of the supervisor, 5 services with a grandchild each.

// killTag marks the processes of a sigkill run, grandchildren included.
const killTag = "BERTH_BENCH_KILL"

func (b *bench) killBerth(ctx context.Context, dir string) error {
	id := b.tag + ":" + dir
	p, err := newBerthProject(b.berthBin, dir, programs(numKilled, []string{killTag + "=" + id}, "sh", "-c", grandparent))
	if err != nil {
		return err
	}
	defer p.close()
	defer killTagged(killTag, id)
	if err := p.up(ctx); err != nil {
		return err
	}
	if err := waitTagged(ctx, id, 2*numKilled); err != nil {
		return err
	}
	if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil {
		return err
	}
	time.Sleep(survivorWait)
	b.res.add(mSurvivors, sysBerth, float64(len(tagged(killTag, id))))
	return nil
}

func (b *bench) killSupervisord(ctx context.Context, dir string) error {
	id := b.tag + ":" + dir
	s, err := startSupervisord(dir, programs(numKilled, []string{killTag + "=" + id}, "sh", "-c", grandparent), "")
	if err != nil {
		return err
	}
	defer s.close()
	defer killTagged(killTag, id)
	if err := waitTagged(ctx, id, 2*numKilled); err != nil {
		return err
	}
	if err := s.cmd.Process.Kill(); err != nil {
		return err
	}
	time.Sleep(survivorWait)
	b.res.add(mSurvivors, sysSupervisord, float64(len(tagged(killTag, id))))
	return nil
}

// waitTagged waits until n processes carry the kill tag id: every service
// and its grandchild run.
func waitTagged(ctx context.Context, id string, n int) error {
	err := poll(ctx, 10*time.Millisecond, func() (bool, error) {
		return len(tagged(killTag, id)) == n, nil
	})
	if err != nil {
		return fmt.Errorf("wait for %d processes: %w", n, err)
	}
	return nil
}
