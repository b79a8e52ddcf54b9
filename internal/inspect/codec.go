package inspect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
)

// How an exchange is stored: two records per exchange, appended to those of
// its segment (sqlite.go): its body record to the segment's file, and its
// meta record to the meta records that follow the body records in that
// file (in a segment written before migration 0006, in the segment's row).
//
// Its meta record is everything but the bodies and frames: the numbers and
// names of the Exchange, where its body record is and that record's
// checksum, and the request and response heads as HTTP/1.1 text. A
// recorded exchange's heads are the bytes the proxy saw (so recording one
// costs a copy, and parsing them waits until someone looks); a replay's are
// written from its parsed fields. Its body record is the kept request and
// response bodies and the WebSocket frames.
//
// Both are sequences of fields: unsigned varints (uvarint), signed varints
// (varint) and byte strings (a uvarint length, then the bytes). The first
// field of a meta record is its format version, so that a later version can
// read an older one.

// metaVersion is the format of the meta records this code writes. Version
// 2 added the body record's checksum (bodyCRC): segment files are
// overwritten in place, so after a crash of the machine a record may read
// back as the bytes of an older one, and only a checksum tells. Version 1
// records (segments of schema 0005) have none, and are read without.
const metaVersion = 2

// crcTable is the checksum of body records and of a segment's meta
// records: CRC-32C, which amd64 and arm64 compute in hardware.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Flag bits of a meta record.
const (
	flagUpgraded = 1 << iota
	flagReqTruncated
	flagRespTruncated
)

// appendMeta appends ex's meta record to b, with where its body record sits
// in the segment's file and its checksum. reqHead and respHead are ex's
// heads as received; nil means "write them from ex's fields" (a replay, an
// import).
func appendMeta(b []byte, ex *Exchange, reqHead, respHead []byte, bodyOff, bodyLen int, bodyCRC uint32) []byte {
	return appendMetaVersion(b, metaVersion, ex, reqHead, respHead, bodyOff, bodyLen, bodyCRC)
}

// appendMetaVersion is appendMeta in format version v (tests write version
// 1, as schema 0005 did).
func appendMetaVersion(b []byte, v uint64, ex *Exchange, reqHead, respHead []byte, bodyOff, bodyLen int, bodyCRC uint32) []byte {
	b = binary.AppendUvarint(b, v)
	b = binary.AppendUvarint(b, uint64(ex.ID))
	b = binary.AppendUvarint(b, uint64(ex.ReplayOf))
	b = appendString(b, ex.Service)
	b = appendString(b, ex.Remote)
	b = appendString(b, ex.Backend)
	b = appendString(b, ex.Error)
	b = binary.AppendUvarint(b, ex.Conn)
	b = binary.AppendUvarint(b, uint64(ex.Seq))
	b = binary.AppendVarint(b, unixNano(ex.Start))
	b = binary.AppendVarint(b, unixNano(ex.FirstByte))
	b = binary.AppendVarint(b, unixNano(ex.End))
	b = binary.AppendVarint(b, int64(ex.Held))
	var flags uint64
	if ex.Upgraded {
		flags |= flagUpgraded
	}
	if ex.Request.Truncated {
		flags |= flagReqTruncated
	}
	if ex.Response.Truncated {
		flags |= flagRespTruncated
	}
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendVarint(b, ex.Request.Size)
	b = binary.AppendVarint(b, ex.Response.Size)
	b = binary.AppendUvarint(b, uint64(ex.FrameCount))
	b = binary.AppendUvarint(b, uint64(bodyOff))
	b = binary.AppendUvarint(b, uint64(bodyLen))
	if v >= 2 {
		b = binary.AppendUvarint(b, uint64(bodyCRC))
	}
	if reqHead == nil {
		reqHead = appendRequestHead(nil, &ex.Request)
	}
	if respHead == nil {
		respHead = appendResponseHead(nil, &ex.Response)
	}
	b = appendBytes(b, reqHead)
	return appendBytes(b, respHead)
}

// writeBody writes ex's body record to w and returns its length and
// checksum. The small fields and payloads are gathered in buf (as much as
// its capacity takes; its contents are overwritten) and written to w in one
// call: a record of small bodies costs one Write and one checksum. Larger
// ones are written as they are, not copied into a record first.
func writeBody(w io.Writer, ex *Exchange, buf []byte) (n int, crc uint32, err error) {
	buf = buf[:0]
	var head [5 * binary.MaxVarintLen64]byte
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		crc = crc32.Update(crc, crcTable, buf)
		m, err := w.Write(buf)
		n += m
		buf = buf[:0]
		return err
	}
	write := func(h []byte, p []byte) error {
		if len(buf)+len(h)+len(p) <= cap(buf) {
			buf = append(append(buf, h...), p...)
			return nil
		}
		buf = append(buf, h...)
		if err := flush(); err != nil || len(p) == 0 {
			return err
		}
		m, err := w.Write(p)
		n += m
		// After the write, which brought p into the processor's caches:
		// a large body is seldom there before (checksummed first, it
		// cost a quarter more to store).
		crc = crc32.Update(crc, crcTable, p)
		return err
	}
	for _, body := range [][]byte{ex.Request.Body, ex.Response.Body} {
		if err := write(binary.AppendUvarint(head[:0], uint64(len(body))), body); err != nil {
			return n, crc, err
		}
	}
	if err := write(binary.AppendUvarint(head[:0], uint64(len(ex.Frames))), nil); err != nil {
		return n, crc, err
	}
	for i := range ex.Frames {
		f := &ex.Frames[i]
		var flags uint64
		if f.FromClient {
			flags |= 1
		}
		if f.Fin {
			flags |= 2
		}
		if f.Compressed {
			flags |= 4
		}
		h := binary.AppendVarint(head[:0], unixNano(f.Time))
		h = binary.AppendUvarint(h, flags)
		h = binary.AppendUvarint(h, uint64(f.Opcode))
		h = binary.AppendVarint(h, f.Length)
		h = binary.AppendUvarint(h, uint64(len(f.Payload)))
		if err := write(h, f.Payload); err != nil {
			return n, crc, err
		}
	}
	err = flush()
	return n, crc, err
}

// largestBody returns where the larger of ex's bodies starts in its body
// record (as writeBody writes it), and its length.
func largestBody(ex *Exchange) (at, n int) {
	req, resp := len(ex.Request.Body), len(ex.Response.Body)
	at = uvarintLen(uint64(req))
	if req >= resp {
		return at, req
	}
	return at + req + uvarintLen(uint64(resp)), resp
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// meta is a decoded meta record: the Exchange without its heads parsed,
// and where its body record is.
type meta struct {
	ex               Exchange // Request and Response: sizes and truncation only
	bodyOff, bodyLen int
	// bodyCRC is the body record's checksum, if hasCRC (version 2 on).
	bodyCRC           uint32
	hasCRC            bool
	reqHead, respHead []byte // sub-slices of the record
}

var errShort = errors.New("record ends early")

// decodeMeta reads a meta record. The heads in m are slices of rec.
func decodeMeta(rec []byte, m *meta) error {
	d := decoder{b: rec}
	v := d.uvarint()
	if v < 1 || v > metaVersion {
		if d.err != nil {
			return d.err
		}
		return fmt.Errorf("meta record of format %d (this berth reads 1 to %d)", v, metaVersion)
	}
	ex := &m.ex
	ex.ID = int64(d.uvarint())
	ex.ReplayOf = int64(d.uvarint())
	ex.Service = d.string()
	ex.Remote = d.string()
	ex.Backend = d.string()
	ex.Error = d.string()
	ex.Conn = d.uvarint()
	ex.Seq = int(d.uvarint())
	ex.Start = fromUnixNano(d.varint())
	ex.FirstByte = fromUnixNano(d.varint())
	ex.End = fromUnixNano(d.varint())
	ex.Held = time.Duration(d.varint())
	flags := d.uvarint()
	ex.Upgraded = flags&flagUpgraded != 0
	ex.Request.Truncated = flags&flagReqTruncated != 0
	ex.Response.Truncated = flags&flagRespTruncated != 0
	ex.Request.Size = d.varint()
	ex.Response.Size = d.varint()
	ex.FrameCount = int(d.uvarint())
	m.bodyOff = int(d.uvarint())
	m.bodyLen = int(d.uvarint())
	m.bodyCRC, m.hasCRC = 0, v >= 2
	if m.hasCRC {
		m.bodyCRC = uint32(d.uvarint())
	}
	m.reqHead = d.bytes()
	m.respHead = d.bytes()
	return d.err
}

// exchange returns m's Exchange with its heads parsed: what List returns.
func (m *meta) exchange() Exchange {
	ex := m.ex
	parseHeads(&ex, m.reqHead, m.respHead)
	return ex
}

// decodeBody reads a body record into ex. The bodies and payloads are
// copies: rec may be reused.
func decodeBody(rec []byte, ex *Exchange) error {
	d := decoder{b: rec}
	ex.Request.Body = cloneOrNil(d.bytes())
	ex.Response.Body = cloneOrNil(d.bytes())
	n := d.uvarint()
	if d.err == nil && n > uint64(len(rec)) {
		return fmt.Errorf("body record: %d frames in %d bytes", n, len(rec))
	}
	for range n {
		var f Frame
		f.Time = fromUnixNano(d.varint())
		flags := d.uvarint()
		f.FromClient, f.Fin, f.Compressed = flags&1 != 0, flags&2 != 0, flags&4 != 0
		f.Opcode = int(d.uvarint())
		f.Length = d.varint()
		f.Payload = cloneOrNil(d.bytes())
		if d.err != nil {
			break
		}
		ex.Frames = append(ex.Frames, f)
	}
	if d.err != nil {
		return fmt.Errorf("body record: %w", d.err)
	}
	return nil
}

func cloneOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

// parseHeads fills ex's Request and Response from the heads as HTTP text,
// and its Timing from the response's Server-Timing. The proxy checked the
// heads as they passed; what does not parse is left empty.
func parseHeads(ex *Exchange, reqHead, respHead []byte) {
	parseLines(ex, reqHead, respHead)
	if len(reqHead) > 0 {
		_, ex.Request.Header, _ = proxy.ParseHead(reqHead)
	}
	if len(respHead) > 0 {
		_, ex.Response.Header, _ = proxy.ParseHead(respHead)
		ex.Timing = ParseServerTiming(ex.Response.Header.Values("Server-Timing"))
	}
}

// summarize makes ex a Summary: its request and status lines and Host read
// from the heads it was recorded with, no header fields, no Timing.
func summarize(ex *Exchange) {
	if ex.rawReq != nil {
		parseLines(ex, ex.rawReq, ex.rawResp)
		ex.rawReq, ex.rawResp = nil, nil
	}
	ex.Request.Header, ex.Response.Header, ex.Timing = nil, nil, nil
}

// parseLines sets ex's request line, Host and status line from the heads,
// read in place.
func parseLines(ex *Exchange, reqHead, respHead []byte) {
	if len(reqHead) > 0 {
		method, target, proto := requestLine(reqHead)
		ex.Request.Method, ex.Request.Target, ex.Request.Proto = string(method), string(target), string(proto)
		_, fields, _ := bytes.Cut(reqHead, []byte("\n"))
		ex.Request.Host = string(fieldValue(fields, "host"))
	}
	if len(respHead) > 0 {
		proto, status, reason := statusLine(respHead)
		ex.Response.Proto, ex.Response.Status, ex.Response.Reason = string(proto), status, string(reason)
	}
}

// requestLine returns the parts of a request head's first line.
func requestLine(head []byte) (method, target, proto []byte) {
	method, rest, _ := bytes.Cut(firstLine(head), []byte(" "))
	target, proto, _ = bytes.Cut(rest, []byte(" "))
	return method, target, proto
}

// statusLine returns the parts of a response head's first line; status is
// 0 if it has none.
func statusLine(head []byte) (proto []byte, status int, reason []byte) {
	proto, rest, _ := bytes.Cut(firstLine(head), []byte(" "))
	code, reason, _ := bytes.Cut(rest, []byte(" "))
	status, _ = strconv.Atoi(string(code))
	return proto, status, reason
}

func firstLine(head []byte) []byte {
	line, _, _ := bytes.Cut(head, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// fieldValue returns the value of the first header field called name
// (lower case) in fields, the lines of a head after its first.
func fieldValue(fields []byte, name string) []byte {
	for len(fields) > 0 {
		var line []byte
		line, fields, _ = bytes.Cut(fields, []byte("\n"))
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && len(k) == len(name) && bytes.EqualFold(k, []byte(name)) {
			return bytes.TrimSpace(v)
		}
	}
	return nil
}

// appendRequestHead writes r's head as HTTP/1.1 text, with a Host field
// first when the header has none.
func appendRequestHead(b []byte, r *Request) []byte {
	proto := r.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, r.Target...)
	b = append(b, ' ')
	b = append(b, proto...)
	b = append(b, "\r\n"...)
	if _, ok := r.Header["Host"]; !ok && r.Host != "" {
		b = appendField(b, "Host", r.Host)
	}
	b = appendFields(b, r.Header)
	return append(b, "\r\n"...)
}

// appendResponseHead writes r's head as HTTP/1.1 text; nothing if there was
// no response (status 0).
func appendResponseHead(b []byte, r *Response) []byte {
	if r.Status == 0 {
		return b
	}
	proto := r.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	b = append(b, proto...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r.Status), 10)
	if r.Reason != "" {
		b = append(b, ' ')
		b = append(b, r.Reason...)
	}
	b = append(b, "\r\n"...)
	b = appendFields(b, r.Header)
	return append(b, "\r\n"...)
}

// appendFields writes h's fields, names sorted, each value on a line of its
// own. Line breaks inside a value (which no parsed header holds) become
// spaces, so that the text parses back.
func appendFields(b []byte, h http.Header) []byte {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			b = appendField(b, name, v)
		}
	}
	return b
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	if strings.ContainsAny(value, "\r\n") {
		value = strings.NewReplacer("\r", " ", "\n", " ").Replace(value)
	}
	b = append(b, value...)
	return append(b, "\r\n"...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// startBytes and endBytes are appendBytes of the bytes appended to b
// between them, written in place: startBytes leaves room for a length of
// two bytes (128 to 16383, a meta record's) and returns where it is;
// endBytes writes the length there, moving the bytes if it takes another
// size, and returns b and where the bytes start.
func startBytes(b []byte) ([]byte, int) {
	return append(b, 0, 0), len(b)
}

func endBytes(b []byte, at int) ([]byte, int) {
	var length [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(length[:], uint64(len(b)-at-2))
	switch {
	case n < 2:
		b = slices.Delete(b, at, at+2-n)
	case n > 2:
		b = slices.Insert(b, at, length[2:n]...)
	}
	copy(b[at:], length[:n])
	return b, at + n
}

// unixNano is t in nanoseconds since the epoch, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// decoder reads the fields of a record; the first error sticks and later
// reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) string() string { return string(d.bytes()) }
