// Command producer writes exactly N numbered lines of a fixed size to its
// standard output, as fast as it can, then exits 0. It is the log source of
// berth's benchmark (bench/README.md).
//
// Line k (1-based) is k as ten zero-padded digits, a space, then 'x' up to
// the line size, newline included:
//
//	0000000001 xxxx…xxxx\n
//
// so a reader can check that every line arrived, once and in order.
//
// With -stamp FILE, it first writes the time it starts writing (Unix
// nanoseconds) to FILE, so that the bench can time the log pipeline alone,
// without the supervisor's start-up.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	n := flag.Int("n", 1000, "number of lines to write")
	size := flag.Int("size", 100, "bytes per line, newline included (at least 12)")
	stamp := flag.String("stamp", "", "write the start time (Unix nanoseconds) to this file first")
	flag.Parse()
	if *n < 0 || *size < 12 {
		fmt.Fprintln(os.Stderr, "producer: want -n >= 0 and -size >= 12")
		os.Exit(2)
	}
	if *stamp != "" {
		now := strconv.FormatInt(time.Now().UnixNano(), 10)
		if err := os.WriteFile(*stamp, []byte(now), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "producer: %v\n", err)
			os.Exit(1)
		}
	}
	if err := produce(*n, *size); err != nil {
		fmt.Fprintf(os.Stderr, "producer: %v\n", err)
		os.Exit(1)
	}
}

func produce(n, size int) error {
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	line := make([]byte, size)
	for i := range line {
		line[i] = 'x'
	}
	line[10] = ' '
	line[size-1] = '\n'
	for k := 1; k <= n; k++ {
		// Write k's ten digits in place: cheaper than formatting a new line.
		v := k
		for i := 9; i >= 0; i-- {
			line[i] = byte('0' + v%10)
			v /= 10
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return w.Flush()
}
