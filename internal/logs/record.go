package logs

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"time"
)

// record is a parsed on-disk record; ts and text point into the input.
type record struct {
	seq     uint64
	ts      []byte
	replica int
	stream  Stream
	text    []byte
}

// parseSeq parses the sequence number at the start of rec.
func parseSeq(rec []byte) (seq uint64, rest []byte, ok bool) {
	i := 0
	for ; i < len(rec) && rec[i] >= '0' && rec[i] <= '9'; i++ {
		if i == 19 { // more digits than a uint64 holds safely
			return 0, nil, false
		}
		seq = seq*10 + uint64(rec[i]-'0')
	}
	if i == 0 || i == len(rec) || rec[i] != ' ' || seq == 0 {
		return 0, nil, false
	}
	return seq, rec[i+1:], true
}

// parseRecord parses one record, without its '\n':
// "<seq> <time> <replica> <o|e> <text>".
func parseRecord(rec []byte) (r record, ok bool) {
	r.seq, rec, ok = parseSeq(rec)
	if !ok {
		return r, false
	}
	i := bytes.IndexByte(rec, ' ')
	if i <= 0 {
		return r, false
	}
	r.ts, rec = rec[:i], rec[i+1:]
	neg := len(rec) > 0 && rec[0] == '-'
	if neg {
		rec = rec[1:]
	}
	i = 0
	for ; i < len(rec) && rec[i] >= '0' && rec[i] <= '9' && i < 10; i++ {
		r.replica = r.replica*10 + int(rec[i]-'0')
	}
	if neg {
		r.replica = -r.replica
	}
	if i == 0 || len(rec) < i+3 || rec[i] != ' ' || rec[i+2] != ' ' {
		return r, false
	}
	r.stream = Stream(rec[i+1])
	if !r.stream.valid() {
		return r, false
	}
	r.text = rec[i+3:]
	return r, true
}

func parseTime(ts []byte) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	return t.UTC(), err == nil
}

// recordReader reads the records of one file.
type recordReader struct {
	br     *bufio.Reader
	long   []byte // assembles a record longer than br's buffer
	lastTS []byte // the last timestamp parsed, and its value
	lastT  time.Time
}

func newRecordReader(r io.Reader) *recordReader {
	return &recordReader{br: bufio.NewReaderSize(r, 256<<10)}
}

// next returns the next complete record, without its '\n', valid until the
// following call. A partial record at the end of the file (one being written)
// is not returned: next returns io.EOF.
func (rr *recordReader) next() ([]byte, error) {
	line, err := rr.br.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, err
	}
	rr.long = append(rr.long[:0], line...)
	for {
		line, err = rr.br.ReadSlice('\n')
		rr.long = append(rr.long, line...)
		switch {
		case err == nil:
			return rr.long[:len(rr.long)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			return nil, io.EOF
		default:
			return nil, err
		}
	}
}

// time parses a record's timestamp, reusing the last result: the lines of a
// chunk share theirs.
func (rr *recordReader) time(ts []byte) (time.Time, bool) {
	if bytes.Equal(ts, rr.lastTS) {
		return rr.lastT, true
	}
	t, ok := parseTime(ts)
	if ok {
		rr.lastTS = append(rr.lastTS[:0], ts...)
		rr.lastT = t
	}
	return t, ok
}

// firstRecord returns the sequence number and time of the first record of the
// file at path; seq is 0 when it is missing, empty or unreadable as a log.
func firstRecord(path string) (seq uint64, t time.Time, err error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, time.Time{}, nil
		}
		return 0, time.Time{}, err
	}
	defer f.Close()
	rr := &recordReader{br: bufio.NewReaderSize(f, 4096)}
	for {
		rec, err := rr.next()
		if err == io.EOF {
			return 0, time.Time{}, nil
		}
		if err != nil {
			return 0, time.Time{}, err
		}
		r, ok := parseRecord(rec)
		if !ok {
			continue
		}
		if t, ok = parseTime(r.ts); ok {
			return r.seq, t, nil
		}
	}
}

// recoverTail returns the size of f and the sequence number of its last
// record (0 if none). When fix is set, a torn record at the end (no final
// newline) is cut off the file first.
func recoverTail(f *os.File, fix bool) (size int64, last uint64, err error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size = st.Size()
	window := int64(64 << 10)
	var buf []byte
	for size > 0 {
		off := max(0, size-window)
		if int64(cap(buf)) < size-off {
			buf = make([]byte, size-off)
		}
		buf = buf[:size-off]
		if _, err := f.ReadAt(buf, off); err != nil {
			return 0, 0, err
		}
		if buf[len(buf)-1] != '\n' {
			j := bytes.LastIndexByte(buf, '\n')
			if j < 0 && off > 0 {
				window *= 2
				continue
			}
			size = off + int64(j) + 1 // j = -1 when nothing survives
			if fix {
				if err := f.Truncate(size); err != nil {
					return 0, 0, err
				}
			}
			buf = buf[:j+1]
			if len(buf) == 0 {
				continue
			}
		}
		body := buf[:len(buf)-1]
		k := bytes.LastIndexByte(body, '\n')
		if k < 0 && off > 0 {
			window *= 2
			continue
		}
		if r, ok := parseRecord(body[k+1:]); ok {
			return size, r.seq, nil
		}
		break // an unreadable last record: scan the whole file
	}
	if size == 0 {
		return 0, 0, nil
	}
	rr := newRecordReader(io.NewSectionReader(f, 0, size))
	for {
		rec, err := rr.next()
		if err == io.EOF {
			return size, last, nil
		}
		if err != nil {
			return 0, 0, err
		}
		if seq, _, ok := parseSeq(rec); ok {
			last = seq
		}
	}
}
