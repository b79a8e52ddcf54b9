package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// lineSize is the size of a producer line, newline included.
const lineSize = 100

// lineNumber returns the number of a producer line (without its newline),
// 0 when text is not a whole producer line.
func lineNumber(text []byte) uint64 {
	if len(text) != lineSize-1 || text[10] != ' ' {
		return 0
	}
	n, err := strconv.ParseUint(string(text[:10]), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// eachLine calls fn with every line of a file, without its newline.
func eachLine(path string, fn func([]byte)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 256<<10), 1<<20)
	for sc.Scan() {
		fn(sc.Bytes())
	}
	return sc.Err()
}

// checkPlain returns how many lines of a plain output file (supervisord's
// log, or the producer's output redirected to a file) are producer lines in
// increasing order; a damaged, repeated or out-of-order line does not count.
func checkPlain(path string) (int, error) {
	good, next := 0, uint64(1)
	err := eachLine(path, func(line []byte) {
		if n := lineNumber(line); n >= next {
			good++
			next = n + 1
		}
	})
	return good, err
}

// lineCounter counts the lines of a growing file, reading only what is new.
type lineCounter struct {
	path  string
	off   int64
	lines int
	buf   []byte
}

func (c *lineCounter) count() int {
	f, err := os.Open(c.path)
	if err != nil {
		return c.lines
	}
	defer f.Close()
	if c.buf == nil {
		c.buf = make([]byte, 1<<20)
	}
	for {
		n, err := f.ReadAt(c.buf, c.off)
		c.lines += bytes.Count(c.buf[:n], []byte{'\n'})
		c.off += int64(n)
		if err != nil || n < len(c.buf) {
			return c.lines
		}
	}
}
