package supervise

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

func TestProcess_TTY(t *testing.T) {
	p, err := Start(Spec{Name: "tty-1", Argv: []string{"sh", "-c", `stty size; read line; echo "got $line"; test -t 1 && echo on-a-terminal`}, Env: []string{"PATH=/usr/bin:/bin"}, TTY: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stdin.Close()
	if !p.TTY() {
		t.Fatal("TTY() = false for a process started on a terminal")
	}
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(TTYReader{p.Stdout})
		p.Stdout.Close()
		out <- string(b)
	}()
	if _, err := p.Stdin.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		p.Kill()
		t.Fatal("the process on the terminal did not exit")
	}
	got := <-out
	for _, want := range []string{"24 80", "got hello", "on-a-terminal\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output %q lacks %q", got, want)
		}
	}
	if p.Err() != nil {
		t.Errorf("Err() = %v, want nil", p.Err())
	}
}

func TestProcess_TTYResizeAndStop(t *testing.T) {
	p, err := Start(Spec{Name: "tty-2", Argv: []string{"sh", "-c", `trap 'stty size' WINCH; echo ready; while :; do sleep 0.05; done`}, Env: []string{"PATH=/usr/bin:/bin"}, TTY: true, StopGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stdin.Close()
	var buf bytes.Buffer // read by the test goroutine only
	chunks := make(chan []byte, 16)
	go func() {
		defer close(chunks)
		defer p.Stdout.Close()
		b := make([]byte, 4096)
		for {
			n, err := TTYReader{p.Stdout}.Read(b)
			if n > 0 {
				chunks <- append([]byte(nil), b[:n]...)
			}
			if err != nil {
				return
			}
		}
	}()
	waitFor := func(want string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for !strings.Contains(buf.String(), want) {
			select {
			case c, ok := <-chunks:
				if !ok {
					t.Fatalf("output ended without %q: %q", want, buf.String())
				}
				buf.Write(c)
			case <-deadline:
				t.Fatalf("no %q in %q", want, buf.String())
			}
		}
	}
	waitFor("ready")
	if err := p.Resize(120, 40); err != nil {
		t.Fatal(err)
	}
	waitFor("40 120")
	if err := p.Resize(0, 10); err == nil {
		t.Error("Resize(0, 10) succeeded, want an error")
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range chunks {
	}
}
