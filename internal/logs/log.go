package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stream says which output of a process a line came from.
type Stream byte

// The streams of a process.
const (
	Stdout Stream = 'o'
	Stderr Stream = 'e'
)

// String returns "stdout" or "stderr".
func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return fmt.Sprintf("Stream(%q)", byte(s))
}

func (s Stream) valid() bool { return s == Stdout || s == Stderr }

// Line is one line of a service's output.
type Line struct {
	// Seq numbers the service's lines: 1, 2, 3, … with no gap, across
	// restarts of berth.
	Seq uint64
	// Time is when berth read the line (UTC; one timestamp per read chunk,
	// so consecutive lines may share it). It never decreases with Seq unless
	// the wall clock is set back.
	Time time.Time
	// Replica is the 1-based replica the line came from (0 is allowed for
	// lines from berth itself that belong to no replica).
	Replica int
	// Stream is Stdout or Stderr.
	Stream Stream
	// Text is the line without its newline (nor the '\r' of a CRLF); it may
	// hold invalid UTF-8. Lines delivered by a Subscription share their Text
	// backing arrays with other subscribers: do not modify them.
	Text []byte
}

// Defaults for the zero fields of Options.
const (
	DefaultMaxFileSize = 64 << 20
	DefaultMaxFiles    = 5
	DefaultTailLines   = 1000
	DefaultMaxLineLen  = 64 << 10
)

// Options configures a Log. Zero fields take the defaults above.
type Options struct {
	// Dir holds the log files; it is created if missing. Required.
	Dir string
	// MaxFileSize is the size in bytes past which the current file is rotated.
	// A file never exceeds it, except with a single record bigger than it.
	MaxFileSize int64
	// MaxFiles is how many rotated files (<service>.log.1 …) are kept besides
	// the current one; negative keeps none.
	MaxFiles int
	// TailLines is how many recent lines are kept in memory, so that a new
	// subscriber's recent history is served without reading the disk;
	// negative keeps none.
	TailLines int
	// MaxLineLen is the longest line kept whole; longer lines are split.
	MaxLineLen int
}

// ErrClosed is returned when using a closed Log or Subscription.
var ErrClosed = errors.New("logs: closed")

const (
	// writeSize is the size of formatted records past which they are written.
	writeSize = 256 << 10
	// flushDelay bounds how long a record waits in memory before it is written.
	flushDelay = 50 * time.Millisecond
	// tsLayout is the timestamp of a record: fixed width, UTC.
	tsLayout = "2006-01-02T15:04:05.000000000Z"
)

// Log is the log of one service. It is safe for concurrent use.
type Log struct {
	service string
	dir     string
	opts    Options

	mu sync.Mutex // guards every field below
	// closed is set by Close.
	closed bool
	// seq is the last sequence number given to a line.
	seq uint64
	// f is the current file, opened for appending; nil after a failed reopen.
	f *os.File
	// size is the current file's size, buffered records included.
	size int64
	// buf holds formatted records not yet written to f.
	buf []byte
	// werr is the first error writing or rotating the files.
	werr error
	// firstSeq[i] and firstTime[i] describe the first record of file i (0 is
	// the current file, i the rotated file .log.i); firstSeq[i] is 0 when the
	// file is empty or missing. Readers use them to find a sequence number.
	firstSeq  []uint64
	firstTime []time.Time
	// ring is the in-memory tail: ringLen lines, the newest at ringHead-1.
	ring     []tailSlot
	ringHead int
	ringLen  int
	// subs are the live subscriptions.
	subs map[*Subscription]struct{}
	// pend collects the lines of the chunk being processed for subs; their
	// Text points into the caller's buffer until publishLocked copies it.
	pend []Line
	// now and mid are the time of the chunk being processed and the part of
	// its records between the sequence number and the text:
	// " <time> <replica> <stream> ".
	now time.Time
	mid []byte
	// timer writes buf out flushDelay after it became non-empty.
	timer      *time.Timer
	timerArmed bool
}

type tailSlot struct {
	seq     uint64
	time    time.Time
	replica int
	stream  Stream
	text    []byte
}

// Open opens the log of service in opts.Dir, creating the directory and the
// file as needed, and recovers the last sequence number from disk. There must
// be only one open Log per service and directory, in any process.
func Open(service string, opts Options) (*Log, error) {
	if service == "" || service == "." || service == ".." || strings.ContainsAny(service, "/\\\x00") {
		return nil, fmt.Errorf("open log: invalid service name %q", service)
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	switch {
	case opts.MaxFiles == 0:
		opts.MaxFiles = DefaultMaxFiles
	case opts.MaxFiles < 0:
		opts.MaxFiles = 0
	}
	switch {
	case opts.TailLines == 0:
		opts.TailLines = DefaultTailLines
	case opts.TailLines < 0:
		opts.TailLines = 0
	}
	if opts.MaxLineLen <= 0 {
		opts.MaxLineLen = DefaultMaxLineLen
	}
	if opts.Dir == "" {
		return nil, fmt.Errorf("open log of service %q: no directory given", service)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open log of service %q: %w", service, err)
	}
	l := &Log{
		service:   service,
		dir:       opts.Dir,
		opts:      opts,
		firstSeq:  make([]uint64, opts.MaxFiles+1),
		firstTime: make([]time.Time, opts.MaxFiles+1),
		ring:      make([]tailSlot, opts.TailLines),
		subs:      map[*Subscription]struct{}{},
		buf:       make([]byte, 0, writeSize+opts.MaxLineLen+128),
	}
	if err := l.recover(); err != nil {
		return nil, fmt.Errorf("open log of service %q: %w", service, err)
	}
	return l, nil
}

// path returns the name of file i: 0 is the current file, i>0 a rotated one.
func (l *Log) path(i int) string {
	name := l.service + ".log"
	if i > 0 {
		name += "." + strconv.Itoa(i)
	}
	return filepath.Join(l.dir, name)
}

// recover opens the current file, cuts off a torn last record, and reads the
// first record of every file and the last sequence number.
func (l *Log) recover() error {
	f, err := os.OpenFile(l.path(0), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	size, last, err := recoverTail(f, true)
	if err != nil {
		f.Close()
		return fmt.Errorf("read %s: %w", l.path(0), err)
	}
	l.f, l.size = f, size
	l.seq = last
	for i := range l.firstSeq {
		seq, t, err := firstRecord(l.path(i))
		if err != nil {
			f.Close()
			return fmt.Errorf("read %s: %w", l.path(i), err)
		}
		l.firstSeq[i], l.firstTime[i] = seq, t
	}
	if l.seq == 0 {
		// The current file is empty: the last line is in the newest rotated file.
		for i := 1; i < len(l.firstSeq) && l.seq == 0; i++ {
			if l.firstSeq[i] == 0 {
				continue
			}
			rf, err := os.Open(l.path(i))
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				f.Close()
				return err
			}
			_, last, err := recoverTail(rf, false)
			rf.Close()
			if err != nil {
				f.Close()
				return fmt.Errorf("read %s: %w", l.path(i), err)
			}
			l.seq = last
		}
	}
	return nil
}

// LastSeq returns the sequence number of the last line captured.
func (l *Log) LastSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// Close writes out buffered lines and closes the file. Capture calls must
// have returned before Close is called (a Capture still running returns
// ErrClosed at its next read; its unread output is lost). Live subscriptions
// receive what was queued, then io.EOF; history already on disk stays
// readable. Close returns the first error met writing the log, if any. Close
// is idempotent.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
	}
	l.writeLocked()
	err := l.werr
	if l.f != nil {
		if cerr := l.f.Close(); err == nil {
			err = cerr
		}
		l.f = nil
	}
	for s := range l.subs {
		s.end()
	}
	clear(l.subs)
	if err != nil {
		return fmt.Errorf("write log of service %q: %w", l.service, err)
	}
	return nil
}

// stampLocked takes the time of a chunk of lines from replica's stream and
// prepares the middle of their records. mu must be held.
func (l *Log) stampLocked(replica int, stream Stream) {
	l.now = time.Now().UTC()
	b := append(l.mid[:0], ' ')
	b = l.now.AppendFormat(b, tsLayout)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(replica), 10)
	l.mid = append(b, ' ', byte(stream), ' ')
}

// emitLocked gives text the next sequence number and records it: in the file
// buffer, the in-memory tail and, when someone follows, the pending fan-out.
// stampLocked must have been called for this chunk. mu must be held.
func (l *Log) emitLocked(replica int, stream Stream, text []byte) {
	l.seq++
	seq := l.seq
	start := len(l.buf)
	b := strconv.AppendUint(l.buf, seq, 10)
	b = append(b, l.mid...)
	b = append(b, text...)
	b = append(b, '\n')
	n := int64(len(b) - start)
	if l.size > 0 && l.size+n > l.opts.MaxFileSize {
		l.buf = b[:start]
		l.writeLocked()
		l.rotateLocked()
		b = append(l.buf[:0], b[start:start+int(n)]...)
	}
	l.buf = b
	l.size += n
	if l.firstSeq[0] == 0 {
		l.firstSeq[0], l.firstTime[0] = seq, l.now
	}
	if len(b) >= writeSize {
		l.writeLocked()
	}
	if len(l.ring) > 0 {
		s := &l.ring[l.ringHead]
		if c := cap(s.text); c > 4096 && c > 4*len(text) {
			s.text = nil // do not pin a big buffer for a small line
		}
		s.seq, s.time, s.replica, s.stream = seq, l.now, replica, stream
		s.text = append(s.text[:0], text...)
		if l.ringHead++; l.ringHead == len(l.ring) {
			l.ringHead = 0
		}
		if l.ringLen < len(l.ring) {
			l.ringLen++
		}
	}
	if len(l.subs) > 0 {
		l.pend = append(l.pend, Line{Seq: seq, Time: l.now, Replica: replica, Stream: stream, Text: text})
	}
}

// publishLocked hands the pending lines to the live subscriptions, copying
// their text once into a slab they share. mu must be held.
func (l *Log) publishLocked() {
	if len(l.pend) == 0 {
		return
	}
	total := 0
	for _, ln := range l.pend {
		total += len(ln.Text)
	}
	slab := make([]byte, total)
	off := 0
	for i := range l.pend {
		n := copy(slab[off:], l.pend[i].Text)
		l.pend[i].Text = slab[off : off+n : off+n]
		off += n
	}
	for s := range l.subs {
		s.push(l.pend)
	}
	clear(l.pend)
	l.pend = l.pend[:0]
}

// writeLocked writes the buffered records to the current file. A failed
// write is remembered in werr and its records are dropped: capture must go
// on. mu must be held.
func (l *Log) writeLocked() {
	if len(l.buf) == 0 {
		return
	}
	if l.f == nil {
		f, err := os.OpenFile(l.path(0), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			l.fail(err)
			l.buf = l.buf[:0]
			return
		}
		l.f = f
	}
	if _, err := l.f.Write(l.buf); err != nil {
		l.fail(err)
	}
	l.buf = l.buf[:0]
}

func (l *Log) fail(err error) {
	if l.werr == nil {
		l.werr = err
	}
}

// rotateLocked shifts .log.i to .log.i+1 (dropping the oldest beyond
// MaxFiles), renames the current file to .log.1 and starts a new one. buf must
// have been written. mu must be held.
func (l *Log) rotateLocked() {
	if l.f != nil {
		if err := l.f.Close(); err != nil {
			l.fail(err)
		}
		l.f = nil
	}
	max := l.opts.MaxFiles
	if err := os.Remove(l.path(max)); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.fail(err)
	}
	for i := max - 1; i >= 0; i-- {
		if err := os.Rename(l.path(i), l.path(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.fail(err)
		}
	}
	copy(l.firstSeq[1:], l.firstSeq)
	copy(l.firstTime[1:], l.firstTime)
	l.firstSeq[0], l.firstTime[0] = 0, time.Time{}
	l.size = 0
	f, err := os.OpenFile(l.path(0), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		l.fail(err)
		return
	}
	l.f = f
}

// armTimerLocked makes sure buffered records are written within flushDelay.
// mu must be held.
func (l *Log) armTimerLocked() {
	if l.timerArmed || len(l.buf) == 0 {
		return
	}
	l.timerArmed = true
	if l.timer == nil {
		l.timer = time.AfterFunc(flushDelay, l.onTimer)
		return
	}
	l.timer.Reset(flushDelay)
}

func (l *Log) onTimer() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timerArmed = false
	if !l.closed {
		l.writeLocked()
	}
}

// fileRef is a history file opened for a reader.
type fileRef struct {
	f     *os.File
	first uint64 // sequence number of its first record
}

// locate opens, for a reader that wants line seq and has read every file
// whose first record is at or before after, the file that holds seq: the
// newest one starting at or before seq. When no such file is left (lines
// deleted by rotation, or lost to a write error), it opens the oldest file
// starting after seq; the caller counts the gap. ok is false when there is no
// such file at all.
func (l *Log) locate(seq, after uint64) (ref fileRef, ok bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Open under mu: no rotation renames files between choosing and opening.
	best := -1
	for i, first := range l.firstSeq {
		if first == 0 || first <= after {
			continue
		}
		if first <= seq {
			best = i
			break // files are newest first
		}
		best = i // the oldest so far starting after seq
	}
	if best < 0 {
		return fileRef{}, false, nil
	}
	if best == 0 {
		l.writeLocked()
	}
	f, err := os.Open(l.path(best))
	if err != nil {
		return fileRef{}, false, err
	}
	return fileRef{f: f, first: l.firstSeq[best]}, true, nil
}
