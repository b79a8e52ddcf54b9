// Package iostreams holds the standard streams a command writes to, and knows
// whether they are terminals and whether colour is wanted. It imports nothing internal.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// IOStreams are the three standard streams plus what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inTTY, outTTY bool
	noColor       bool
}

// System returns the process's own streams.
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	s.inTTY = isatty.IsTerminal(os.Stdin.Fd())
	s.outTTY = isatty.IsTerminal(os.Stdout.Fd())
	_, s.noColor = os.LookupEnv("NO_COLOR")
	return s
}

// Test returns streams backed by buffers: stdin, stdout, stderr.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, noColor: true}, in, out, errOut
}

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// ColorEnabled reports whether output should be coloured: stdout is a
// terminal and NO_COLOR is unset.
func (s *IOStreams) ColorEnabled() bool { return s.outTTY && !s.noColor }

// SetColor forces colour on or off (for --no-color and tests).
func (s *IOStreams) SetColor(on bool) {
	s.noColor = !on
	if on {
		s.outTTY = true
	}
}

// SetTTY sets whether stdin and stdout count as terminals (tests).
func (s *IOStreams) SetTTY(in, out bool) { s.inTTY, s.outTTY = in, out }
