package hub

import (
	"errors"
	"fmt"
	"strings"
)

// StreamControl is the stream of control frames: client requests, the
// server's replies and the hub's notices. It carries no sequence numbers and
// cannot be published to or subscribed to.
const StreamControl = "control"

// The data streams a hub carries. Their names are the only ones Publish,
// Subscribe and DecodeControl accept.
const (
	StreamEvents        = "events"
	StreamNotifications = "notifications"
	StreamInspect       = "inspect" // the inspector's recorded exchanges, project-wide
)

// liveOnly reports whether stream name keeps no tail: its frames go to the
// subscribers it has when they are published, and a Publish with none is
// only numbered, its payload not even encoded. The inspect stream is: it
// carries one frame per HTTP exchange of an inspected service, tens of
// thousands a second under load, mostly with nobody watching; a tail of
// DefaultTailSize frames would cover a few milliseconds of it, and its
// clients read what they lack from the API (GET /api/inspect?after=ID). A
// subscription that resumes it with since gets an OpGap notice.
func liveOnly(name string) bool { return name == StreamInspect }

// Limits on stream names.
const (
	// MaxStreamLen is the longest stream name, in bytes.
	MaxStreamLen = 128
	// maxServiceLen and maxJobLen bound the <name> of service/<name>/… and
	// the <id> of job/<id>.
	maxServiceLen = 100
	maxJobLen     = 64
)

// ErrBadStream is wrapped by the errors ValidStream returns.
var ErrBadStream = errors.New("bad stream name")

// ServiceStatus returns the name of the status stream of service name.
func ServiceStatus(name string) string { return "service/" + name + "/status" }

// ServiceLogs returns the name of the log stream of service name.
func ServiceLogs(name string) string { return "service/" + name + "/logs" }

// Topic returns the name of the user stream name.
func Topic(name string) string { return "topic/" + name }

// Job returns the name of the stream of job id.
func Job(id string) string { return "job/" + id }

// ValidStream reports whether name is a data stream: events, notifications,
// service/<name>/status, service/<name>/logs, job/<id> or topic/<name> (a
// stream clients publish to with `berth publish`), where <name> is 1 to
// 100 and <id> 1 to 64 characters of A-Z a-z 0-9 . _ - (not "." or "..").
// The error wraps ErrBadStream and says what is wrong.
func ValidStream(name string) error {
	if err := validStream(name); err != nil {
		return fmt.Errorf("%w: %s", ErrBadStream, err)
	}
	return nil
}

// streamError is why a stream name is not valid; DecodeControl turns it
// into a FrameError's message.
type streamError string

func (e streamError) Error() string { return string(e) }

const wantStreams = "want events, notifications, inspect, service/<name>/status, service/<name>/logs, job/<id> or topic/<name>"

func validStream(name string) error {
	switch {
	case name == "":
		return streamError("empty stream name (" + wantStreams + ")")
	case len(name) > MaxStreamLen:
		return streamError(fmt.Sprintf("stream name is %d bytes; the limit is %d", len(name), MaxStreamLen))
	case name == StreamEvents, name == StreamNotifications, name == StreamInspect:
		return nil
	case name == StreamControl:
		return streamError(`"control" carries control frames only; it is not a data stream`)
	}
	if rest, ok := strings.CutPrefix(name, "service/"); ok {
		svc, kind, ok := strings.Cut(rest, "/")
		if !ok || (kind != "status" && kind != "logs") {
			return streamError(fmt.Sprintf("%s: want service/<name>/status or service/<name>/logs", quoteShort(name)))
		}
		if err := validPart("service name", svc, maxServiceLen); err != nil {
			return err
		}
		return nil
	}
	if id, ok := strings.CutPrefix(name, "job/"); ok {
		return validPart("job id", id, maxJobLen)
	}
	if t, ok := strings.CutPrefix(name, "topic/"); ok {
		return validPart("topic", t, maxServiceLen)
	}
	return streamError(fmt.Sprintf("unknown stream %s (%s)", quoteShort(name), wantStreams))
}

// validPart checks a service name or job id.
func validPart(what, s string, max int) error {
	if s == "" || len(s) > max || s == "." || s == ".." {
		return streamError(fmt.Sprintf("%s %s must be 1 to %d characters of A-Z a-z 0-9 . _ - (not . or ..)", what, quoteShort(s), max))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return streamError(fmt.Sprintf("%s %s must be 1 to %d characters of A-Z a-z 0-9 . _ - (not . or ..)", what, quoteShort(s), max))
		}
	}
	return nil
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
