package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchOutput is n lines of 100 bytes, newline included.
func benchOutput(n int) []byte {
	line := bytes.Repeat([]byte("x"), 99)
	var b bytes.Buffer
	b.Grow(n * 100)
	for i := 0; i < n; i++ {
		copy(line, fmt.Sprintf("%09d ", i))
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// cpuTime returns the CPU time (user + system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// source starts producing data for one Capture and returns its reader and a
// function that waits for the producer.
type source func(b *testing.B, data []byte, file string) (io.Reader, func())

func memorySource(b *testing.B, data []byte, _ string) (io.Reader, func()) {
	return bytes.NewReader(data), func() {}
}

// pipeSource writes data into an os.Pipe from a goroutine of this process
// (its CPU time counts in cpu-ms/op).
func pipeSource(b *testing.B, data []byte, _ string) (io.Reader, func()) {
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d := data; len(d) > 0; {
			n, err := pw.Write(d[:min(len(d), 64<<10)])
			if err != nil {
				b.Error(err)
				break
			}
			d = d[n:]
		}
		pw.Close()
	}()
	return pr, func() { <-done; pr.Close() }
}

// processSource runs `cat file`: a real child process writing to a pipe (its
// CPU time does not count in cpu-ms/op).
func processSource(b *testing.B, _ []byte, file string) (io.Reader, func()) {
	cmd := exec.Command("cat", file)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return out, func() {
		if err := cmd.Wait(); err != nil {
			b.Error(err)
		}
	}
}

// BenchmarkCapture captures 100-byte lines — 1,000,000 from one process, and
// 200,000 from each of 10 processes — timestamps them and writes them to disk
// (default options: 64 MiB files, 5 kept). Run with
//
//	go test -run '^$' -bench Capture -benchtime 5x ./internal/logs/
//
// lines/s is the capture throughput, cpu-ms/op the CPU this process used.
func BenchmarkCapture(b *testing.B) {
	type shape struct {
		name     string
		procs    int
		lines    int
		services bool // one Log per process, else one Log with a replica per process
	}
	shapes := []shape{
		{"1x1M", 1, 1000000, false},
		{"10x200k-replicas", 10, 200000, false},
		{"10x200k-services", 10, 200000, true},
	}
	sources := []struct {
		name string
		src  source
	}{
		{"memory", memorySource},
		{"pipe", pipeSource},
		{"process", processSource},
	}
	for _, sh := range shapes {
		data := benchOutput(sh.lines)
		file := filepath.Join(b.TempDir(), "output")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			b.Fatal(err)
		}
		for _, so := range sources {
			b.Run(sh.name+"/"+so.name, func(b *testing.B) {
				dir := b.TempDir()
				nlogs := 1
				if sh.services {
					nlogs = sh.procs
				}
				logs := make([]*Log, nlogs)
				for i := range logs {
					l, err := Open(fmt.Sprintf("svc%d", i), Options{Dir: dir})
					if err != nil {
						b.Fatal(err)
					}
					logs[i] = l
				}
				b.SetBytes(int64(len(data) * sh.procs))
				b.ReportAllocs()
				var cpu time.Duration
				for b.Loop() {
					cpu0 := cpuTime(b)
					var wg sync.WaitGroup
					for p := 0; p < sh.procs; p++ {
						r, wait := so.src(b, data, file)
						l := logs[p%nlogs]
						wg.Add(1)
						go func() {
							defer wg.Done()
							if err := l.Capture(p+1, Stdout, r); err != nil {
								b.Error(err)
							}
							wait()
						}()
					}
					wg.Wait()
					cpu += cpuTime(b) - cpu0
				}
				var total uint64
				for _, l := range logs {
					total += l.LastSeq()
					if err := l.Close(); err != nil {
						b.Fatal(err)
					}
				}
				if want := uint64(b.N * sh.procs * sh.lines); total != want {
					b.Fatalf("captured %d lines, want %d", total, want)
				}
				b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "lines/s")
				b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

// BenchmarkCapture_Follower is BenchmarkCapture 1x1M/memory with one live
// subscriber reading every line: the cost of fan-out.
func BenchmarkCapture_Follower(b *testing.B) {
	data := benchOutput(1000000)
	l, err := Open("svc", Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var missed uint64
	for b.Loop() {
		s, err := l.Subscribe(SubscribeOptions{Follow: true})
		if err != nil {
			b.Fatal(err)
		}
		until := l.LastSeq() + 1000000
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				lines, m, err := s.Next(context.Background())
				missed += m
				if err != nil {
					if !errors.Is(err, ErrClosed) {
						b.Error(err)
					}
					return
				}
				if len(lines) > 0 && lines[len(lines)-1].Seq >= until {
					return
				}
			}
		}()
		if err := l.Capture(1, Stdout, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		<-done
		s.Close()
	}
	b.ReportMetric(float64(b.N*1000000)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(missed)/float64(b.N), "missed/op")
}
