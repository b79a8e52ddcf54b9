package inspect

import (
	"encoding/json"
	"strconv"
	"time"
)

// Summary is an exchange as the inspect stream carries it: without bodies,
// header fields, Server-Timing and frames (Get has them). The engine
// publishes each stored exchange as a *Summary (a conversion, no copy):
// it implements the hub's JSONAppender, so that its JSON is written only
// when someone watches the stream.
type Summary Exchange

// AppendJSON appends the summary to b as encoding/json encodes a summarized
// Exchange, and returns the result. It writes the JSON directly, without
// reflection: at tens of thousands of exchanges a second json.Marshal was a
// tenth of the inspector's cost. It parses the heads of an exchange fresh
// from the Recorder first (summarize), so it modifies the exchange.
func (s *Summary) AppendJSON(b []byte) []byte {
	ex := (*Exchange)(s)
	summarize(ex)
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, ex.ID, 10)
	if ex.ReplayOf != 0 {
		b = append(b, `,"replayOf":`...)
		b = strconv.AppendInt(b, ex.ReplayOf, 10)
	}
	b = appendJSONField(b, "service", ex.Service)
	if ex.Conn != 0 {
		b = append(b, `,"conn":`...)
		b = strconv.AppendUint(b, ex.Conn, 10)
	}
	if ex.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, int64(ex.Seq), 10)
	}
	b = appendJSONField(b, "remote", ex.Remote)
	if ex.Backend != "" {
		b = appendJSONField(b, "backend", ex.Backend)
	}

	rq := &ex.Request
	b = append(b, `,"request":{"method":`...)
	b = appendJSONString(b, rq.Method)
	b = appendJSONField(b, "target", rq.Target)
	b = appendJSONField(b, "proto", rq.Proto)
	b = appendJSONField(b, "host", rq.Host)
	b = append(b, `,"header":null,"size":`...)
	b = strconv.AppendInt(b, rq.Size, 10)
	if rq.Truncated {
		b = append(b, `,"truncated":true`...)
	}

	rs := &ex.Response
	b = append(b, `},"response":{`...)
	if rs.Proto != "" {
		b = append(b, `"proto":`...)
		b = appendJSONString(b, rs.Proto)
		b = append(b, ',')
	}
	b = append(b, `"status":`...)
	b = strconv.AppendInt(b, int64(rs.Status), 10)
	if rs.Reason != "" {
		b = appendJSONField(b, "reason", rs.Reason)
	}
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, rs.Size, 10)
	if rs.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	b = append(b, '}')

	b = appendJSONTime(b, "start", ex.Start)
	if !ex.FirstByte.IsZero() {
		b = appendJSONTime(b, "firstByte", ex.FirstByte)
	}
	b = appendJSONTime(b, "end", ex.End)
	if ex.Held != 0 {
		b = append(b, `,"held":`...)
		b = strconv.AppendInt(b, int64(ex.Held), 10)
	}
	if ex.Upgraded {
		b = append(b, `,"upgraded":true`...)
	}
	if ex.Error != "" {
		b = appendJSONField(b, "error", ex.Error)
	}
	if ex.FrameCount != 0 {
		b = append(b, `,"frameCount":`...)
		b = strconv.AppendInt(b, int64(ex.FrameCount), 10)
	}
	return append(b, '}')
}

// appendJSONField appends ,"name":"value".
func appendJSONField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}

// appendJSONTime appends ,"name":"time" as time.Time's MarshalJSON writes it.
func appendJSONTime(b []byte, name string, t time.Time) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONString appends s as a JSON string: plain ASCII as it is,
// anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
