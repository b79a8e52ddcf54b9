package logs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// splitAll feeds data to nextLine chunk bytes at a time, as Capture does, and
// returns the lines.
func splitAll(data []byte, maxLen, chunk int) []string {
	var lines []string
	var buf []byte
	for len(data) > 0 || buf != nil {
		n := min(chunk, len(data))
		buf = append(buf, data[:n]...)
		data = data[n:]
		atEOF := len(data) == 0
		for {
			line, adv, ok := nextLine(buf, maxLen, atEOF)
			if !ok {
				break
			}
			lines = append(lines, string(line))
			buf = buf[adv:]
		}
		if atEOF {
			break
		}
	}
	return lines
}

func TestNextLine(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		maxLen int
		want   []string
	}{
		{"lines", "a\nb\n", 64, []string{"a", "b"}},
		{"empty input", "", 64, nil},
		{"empty lines kept", "\n\n\n", 64, []string{"", "", ""}},
		{"crlf removed", "a\r\nb\r\n", 64, []string{"a", "b"}},
		{"lone cr kept", "a\rb\n", 64, []string{"a\rb"}},
		{"only crlf", "\r\n", 64, []string{""}},
		{"cr before crlf kept", "\r\r\n", 64, []string{"\r"}},
		{"partial last line", "a\nbc", 64, []string{"a", "bc"}},
		{"partial last line keeps cr", "abc\r", 64, []string{"abc\r"}},
		{"invalid utf-8 kept", "\xff\xfe\n\xc3\x28\n", 64, []string{"\xff\xfe", "\xc3\x28"}},
		{"nul kept", "a\x00b\n", 64, []string{"a\x00b"}},
		{"long line split", "abcdefghij\n", 4, []string{"abcd", "efgh", "ij"}},
		{"exactly max", "abcd\n", 4, []string{"abcd"}},
		{"exactly max with crlf", "abcd\r\n", 4, []string{"abcd"}},
		{"max plus cr inside", "abcd\re\n", 4, []string{"abcd", "\re"}},
		{"twice max", "abcdefgh\n", 4, []string{"abcd", "efgh"}},
		{"twice max with crlf", "abcdefgh\r\n", 4, []string{"abcd", "efgh"}},
		{"long partial last line", "abcdefghi", 4, []string{"abcd", "efgh", "i"}},
		{"partial max plus one", "abcde", 4, []string{"abcd", "e"}},
		{"long then short", "abcdefg\nxy\n", 4, []string{"abcd", "efg", "xy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The result must not depend on how the output is chunked.
			for _, chunk := range []int{1, 2, 3, 5, 1 << 20} {
				got := splitAll([]byte(tt.in), tt.maxLen, chunk)
				if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
					t.Errorf("chunks of %d: got %q, want %q", chunk, got, tt.want)
				}
			}
		})
	}
}

// TestCapture_Splitting runs the splitter through Capture and the disk, with
// output arriving a byte at a time and all at once.
func TestCapture_Splitting(t *testing.T) {
	in := "a\r\nb\rc\n\xff\xfe\xc3\x28\n\n" + strings.Repeat("L", 40) + "\r\nlast\r"
	want := []string{"a", "b\rc", "\xff\xfe\xc3\x28", "", strings.Repeat("L", 16), strings.Repeat("L", 16), strings.Repeat("L", 8), "last\r"}
	for _, oneByte := range []bool{false, true} {
		t.Run(fmt.Sprintf("one byte reads %v", oneByte), func(t *testing.T) {
			dir := t.TempDir()
			l, err := Open("svc", Options{Dir: dir, MaxLineLen: 16})
			if err != nil {
				t.Fatal(err)
			}
			var rd io.Reader = strings.NewReader(in)
			if oneByte {
				rd = iotest.OneByteReader(rd)
			}
			if err := l.Capture(2, Stderr, rd); err != nil {
				t.Fatal(err)
			}
			mem := readHistory(t, l) // from the in-memory tail
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, Options{Dir: dir, MaxLineLen: 16})
			disk := readHistory(t, l) // from the file
			for _, got := range [][]Line{mem, disk} {
				var texts []string
				for _, ln := range got {
					texts = append(texts, string(ln.Text))
					if ln.Replica != 2 || ln.Stream != Stderr {
						t.Errorf("line %d: replica %d stream %v, want 2 stderr", ln.Seq, ln.Replica, ln.Stream)
					}
				}
				if fmt.Sprintf("%q", texts) != fmt.Sprintf("%q", want) {
					t.Errorf("got %q, want %q", texts, want)
				}
				checkSeq(t, got, 1)
			}
			if len(mem) == len(disk) {
				for i := range mem {
					if !mem[i].Time.Equal(disk[i].Time) || !bytes.Equal(mem[i].Text, disk[i].Text) {
						t.Errorf("line %d: memory %v %q, disk %v %q", i, mem[i].Time, mem[i].Text, disk[i].Time, disk[i].Text)
					}
				}
			}
		})
	}
}

// TestAppend checks berth's own lines: split like output, an empty one kept.
func TestAppend(t *testing.T) {
	l := openLog(t, Options{})
	l.Append(1, Stdout, []byte("one\ntwo\r\n"))
	l.Append(0, Stderr, nil)
	l.Append(3, Stream('x'), []byte("three"))
	s, err := l.Subscribe(SubscribeOptions{Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lines, _, err := s.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ln := range lines {
		got = append(got, fmt.Sprintf("%d %d %c %q", ln.Seq, ln.Replica, ln.Stream, ln.Text))
	}
	want := []string{`1 1 o "one"`, `2 1 o "two"`, `3 0 e ""`, `4 3 o "three"`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
