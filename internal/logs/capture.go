package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// readSize is the size of Capture's read buffer: more than a pipe holds
// (64 KiB on Linux), so a read that does not fill it means no more output is
// pending right now.
const readSize = 256 << 10

var readBufs sync.Pool

// Capture reads r to EOF and records its lines as the output of replica's
// stream. It returns nil at EOF, or the read error that ended it (after
// recording what was read, a partial last line included); ErrClosed when the
// Log is closed. It blocks: the caller owns the goroutine. Errors writing the
// disk do not stop it (a process must never block on its output); Close
// returns them.
func (l *Log) Capture(replica int, stream Stream, r io.Reader) error {
	if !stream.valid() {
		return fmt.Errorf("capture output of service %q: invalid stream %q", l.service, byte(stream))
	}
	maxLen := l.opts.MaxLineLen
	size := max(readSize, 2*(maxLen+2))
	var buf []byte
	if p, ok := readBufs.Get().(*[]byte); ok && len(*p) >= size {
		buf = *p
	} else {
		buf = make([]byte, size)
	}
	defer func() { readBufs.Put(&buf) }()

	end := 0 // buf[:end] holds output not yet recorded: a partial line
	for {
		avail := len(buf) - end
		n, err := r.Read(buf[end:])
		end += n
		atEOF := err != nil
		if n > 0 || (atEOF && end > 0) {
			l.mu.Lock()
			if l.closed {
				l.mu.Unlock()
				return ErrClosed
			}
			done := l.chunkLocked(replica, stream, buf[:end], maxLen, atEOF)
			if n < avail || atEOF {
				l.writeLocked() // nothing else pending: make it visible now
			} else {
				l.armTimerLocked()
			}
			l.mu.Unlock()
			end = copy(buf, buf[done:end])
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("capture output of service %q replica %d: %w", l.service, replica, err)
		}
	}
}

// chunkLocked records the lines of data, and at EOF its partial last line,
// and returns how many bytes it consumed. mu must be held.
func (l *Log) chunkLocked(replica int, stream Stream, data []byte, maxLen int, atEOF bool) int {
	off := 0
	stamped := false
	for {
		line, adv, ok := nextLine(data[off:], maxLen, atEOF)
		if !ok {
			break
		}
		if !stamped {
			l.stampLocked(replica, stream)
			stamped = true
		}
		off += adv
		l.emitLocked(replica, stream, line)
	}
	l.publishLocked()
	return off
}

// Append records text as the output of replica's stream; it is how berth
// logs its own messages about the service. Text is split into lines as
// Capture splits output (an empty text is one empty line). An invalid stream
// is recorded as Stdout. After Close, Append does nothing.
func (l *Log) Append(replica int, stream Stream, text []byte) {
	if !stream.valid() {
		stream = Stdout
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if len(text) == 0 {
		l.stampLocked(replica, stream)
		l.emitLocked(replica, stream, nil)
		l.publishLocked()
	} else {
		l.chunkLocked(replica, stream, text, l.opts.MaxLineLen, true)
	}
	l.writeLocked()
}

// nextLine splits the next line off data. It returns the line (without '\n',
// nor the '\r' of a CRLF) and how many bytes of data it consumes; ok is false
// when data holds no complete line yet. A line longer than maxLen comes in
// pieces of maxLen bytes. At EOF, the rest of data is a line even without a
// newline.
//
// A piece is cut off a line only once it is certain the line exceeds maxLen
// even without a final '\r', so the result does not depend on how the output
// was chunked.
func nextLine(data []byte, maxLen int, atEOF bool) (line []byte, adv int, ok bool) {
	if len(data) == 0 {
		return nil, 0, false
	}
	window := data
	if len(window) > maxLen+2 {
		window = window[:maxLen+2]
	}
	if i := bytes.IndexByte(window, '\n'); i >= 0 {
		line = data[:i]
		if i > 0 && line[i-1] == '\r' {
			line = line[:i-1]
		}
		if len(line) > maxLen {
			return data[:maxLen], maxLen, true
		}
		return line, i + 1, true
	}
	if len(data) >= maxLen+2 || (atEOF && len(data) > maxLen) {
		return data[:maxLen], maxLen, true
	}
	if atEOF {
		return data, len(data), true
	}
	return nil, 0, false
}
