package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeControl(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Control
	}{
		{
			"canonical subscribe",
			`{"stream":"control","payload":{"op":"subscribe","id":7,"streams":["events","job/42"],"since":{"job/42":17}}}`,
			Control{Op: OpSubscribe, ID: json.RawMessage(`7`), Streams: []string{"events", "job/42"}, Since: map[string]uint64{"job/42": 17}},
		},
		{
			"flat subscribe",
			`{"stream":"control","op":"subscribe","id":7,"streams":["events","job/42"],"since":{"job/42":17}}`,
			Control{Op: OpSubscribe, ID: json.RawMessage(`7`), Streams: []string{"events", "job/42"}, Since: map[string]uint64{"job/42": 17}},
		},
		{
			"unsubscribe, string id, whitespace, members in any order",
			" {\n \"payload\" : { \"streams\" : [ \"service/web/logs\" ] , \"op\" : \"unsubscribe\", \"id\": \"a-1\" } , \"stream\" : \"control\" }\n",
			Control{Op: OpUnsubscribe, ID: json.RawMessage(`"a-1"`), Streams: []string{"service/web/logs"}},
		},
		{
			"null since and id are absent",
			`{"stream":"control","payload":{"op":"subscribe","streams":["notifications","service/db_1.x-y/status"],"since":null,"id":null}}`,
			Control{Op: OpSubscribe, Streams: []string{"notifications", "service/db_1.x-y/status"}},
		},
		{
			"largest since",
			`{"stream":"control","payload":{"op":"subscribe","streams":["events"],"since":{"events":18446744073709551615}}}`,
			Control{Op: OpSubscribe, Streams: []string{"events"}, Since: map[string]uint64{"events": 1<<64 - 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeControl([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			// The canonical encoding decodes to the same request.
			enc, err := EncodeControl(got)
			if err != nil {
				t.Fatal(err)
			}
			again, err := DecodeControl(enc)
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip of %s: %+v, %v", enc, again, err)
			}
		})
	}
}

func TestDecodeControl_Errors(t *testing.T) {
	env := func(payload string) string { return `{"stream":"control","payload":` + payload + `}` }
	many := make([]string, MaxStreams+1)
	for i := range many {
		many[i] = fmt.Sprintf(`"job/%d"`, i)
	}
	tests := []struct {
		name, in    string
		field, text string // text: a substring of the message
	}{
		{"empty", ``, "", "frame is empty"},
		{"too big", env(`{"op":"subscribe","streams":["events"],"id":"` + strings.Repeat("x", MaxControlSize) + `"}`), "", "the limit is 131072"},
		{"invalid UTF-8", "{\"stream\":\"control\",\"op\":\"subscribe\",\"streams\":[\"job/\xff\"]}", "", "not valid UTF-8"},
		{"not JSON", `hello`, "", "invalid JSON at byte"},
		{"truncated", `{"stream":"control","payload":{"op":`, "", "invalid JSON"},
		{"a list", `[1,2]`, "", "must be a JSON object, not a list"},
		{"trailing data", env(`{"op":"subscribe","streams":["events"]}`) + `{}`, "", "trailing data"},
		{"no stream", `{"payload":{"op":"subscribe","streams":["events"]}}`, "stream", "missing"},
		{"stream not a string", `{"stream":1,"payload":{}}`, "stream", "must be a string, not a number"},
		{"data stream", `{"stream":"job/1","payload":{}}`, "stream", `not on "job/1"`},
		{"seq from a client", `{"stream":"control","seq":1,"payload":{}}`, "seq", "not allowed"},
		{"unknown top-level member", `{"stream":"control","payload":{},"extra":1}`, "extra", "unknown member"},
		{"odd unknown member", `{"stream":"control","we ird":1}`, `"we ird"`, "unknown member"},
		{"mixed forms", `{"stream":"control","op":"subscribe","payload":{"op":"subscribe","streams":["events"]}}`, "op", "next to payload"},
		{"payload not an object", env(`"subscribe"`), "payload", "must be an object, not a string"},
		{"duplicate member", env(`{"op":"subscribe","op":"unsubscribe","streams":["events"]}`), "op", "appears twice"},
		{"duplicate top-level member", `{"stream":"control","stream":"control"}`, "stream", "appears twice"},
		{"unknown payload member", env(`{"op":"subscribe","streams":["events"],"Since":{}}`), "Since", "unknown member"},
		{"no op", env(`{"streams":["events"]}`), "op", "missing"},
		{"op not a string", env(`{"op":1,"streams":["events"]}`), "op", "must be a string, not a number"},
		{"unknown op", env(`{"op":"publish","streams":["events"]}`), "op", `unknown op "publish"`},
		{"op in the wrong case", env(`{"op":"Subscribe","streams":["events"]}`), "op", "unknown op"},
		{"no streams", env(`{"op":"subscribe"}`), "streams", "missing"},
		{"streams not a list", env(`{"op":"subscribe","streams":"events"}`), "streams", "must be a list"},
		{"empty streams", env(`{"op":"subscribe","streams":[]}`), "streams", "is empty"},
		{"too many streams", env(`{"op":"subscribe","streams":[` + strings.Join(many, ",") + `]}`), "streams", "names more than 256 streams"},
		{"stream name not a string", env(`{"op":"subscribe","streams":["events",7]}`), "streams[1]", "must be a string, not a number"},
		{"empty stream name", env(`{"op":"subscribe","streams":[""]}`), "streams[0]", "empty stream name"},
		{"unknown stream", env(`{"op":"subscribe","streams":["logs"]}`), "streams[0]", `unknown stream "logs"`},
		{"control stream", env(`{"op":"subscribe","streams":["control"]}`), "streams[0]", "not a data stream"},
		{"service without kind", env(`{"op":"subscribe","streams":["service/web"]}`), "streams[0]", "want service/<name>/status or service/<name>/logs"},
		{"service bad kind", env(`{"op":"subscribe","streams":["service/web/stdout"]}`), "streams[0]", "want service/<name>/status"},
		{"service bad name", env(`{"op":"subscribe","streams":["service/../logs"]}`), "streams[0]", `service name ".."`},
		{"service name with a slash", env(`{"op":"subscribe","streams":["service/a/b/logs"]}`), "streams[0]", "want service/<name>/status"},
		{"empty job id", env(`{"op":"subscribe","streams":["job/"]}`), "streams[0]", `job id ""`},
		{"job id with a space", env(`{"op":"subscribe","streams":["job/a b"]}`), "streams[0]", `job id "a b"`},
		{"long job id", env(`{"op":"subscribe","streams":["job/` + strings.Repeat("1", 65) + `"]}`), "streams[0]", "1 to 64 characters"},
		{"long stream name", env(`{"op":"subscribe","streams":["service/` + strings.Repeat("a", 130) + `/logs"]}`), "streams[0]", "the limit is 128"},
		{"duplicate stream", env(`{"op":"subscribe","streams":["events","job/1","events"]}`), "streams[2]", `"events" is also streams[0]`},
		{"since on unsubscribe", env(`{"op":"unsubscribe","streams":["events"],"since":{"events":1}}`), "since", "only subscribe"},
		{"since not an object", env(`{"op":"subscribe","streams":["events"],"since":[1]}`), "since", "must be an object"},
		{"since of another stream", env(`{"op":"subscribe","streams":["events"],"since":{"job/1":1}}`), `since["job/1"]`, "not one of streams"},
		{"since negative", env(`{"op":"subscribe","streams":["events"],"since":{"events":-1}}`), `since["events"]`, "must be a sequence number"},
		{"since fraction", env(`{"op":"subscribe","streams":["events"],"since":{"events":1.5}}`), `since["events"]`, "must be a sequence number"},
		{"since exponent", env(`{"op":"subscribe","streams":["events"],"since":{"events":1e3}}`), `since["events"]`, "must be a sequence number"},
		{"since string", env(`{"op":"subscribe","streams":["events"],"since":{"events":"5"}}`), `since["events"]`, "must be a sequence number"},
		{"since too big", env(`{"op":"subscribe","streams":["events"],"since":{"events":18446744073709551616}}`), `since["events"]`, "must be a sequence number"},
		{"since leading zero", env(`{"op":"subscribe","streams":["events"],"since":{"events":017}}`), "", "invalid JSON"},
		{"since duplicate key", env(`{"op":"subscribe","streams":["events"],"since":{"events":1,"events":2}}`), `since["events"]`, "appears twice"},
		{"id an object", env(`{"op":"subscribe","streams":["events"],"id":{}}`), "id", "must be a string or an integer"},
		{"id a fraction", env(`{"op":"subscribe","streams":["events"],"id":1.5}`), "id", `not the number "1.5"`},
		{"id too long", env(`{"op":"subscribe","streams":["events"],"id":"` + strings.Repeat("x", MaxIDLen) + `"}`), "id", "at most 128 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeControl([]byte(tt.in))
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want a *FrameError", err, err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Message, tt.text) {
				t.Fatalf("got field %q message %q\nwant field %q message containing %q", fe.Field, fe.Message, tt.field, tt.text)
			}
			if tt.field != "" && !strings.Contains(err.Error(), tt.field+": ") {
				t.Errorf("Error() %q does not name the field", err)
			}
		})
	}
}

func TestDecodeControl_ErrorReply(t *testing.T) {
	// The reply names the request's id, wherever the id stands.
	_, err := DecodeControl([]byte(`{"stream":"control","payload":{"op":"subscribe","streams":["events","nope"],"id":"r1"}}`))
	var fe *FrameError
	if !errors.As(err, &fe) {
		t.Fatal(err)
	}
	f, err := fe.Reply().Frame()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"stream":"control","payload":{"op":"error","id":"r1","code":"bad_frame","field":"streams[1]","message":"unknown stream \"nope\" (want events, notifications, inspect, service/\u003cname\u003e/status, service/\u003cname\u003e/logs, job/\u003cid\u003e or topic/\u003cname\u003e)"}}`
	if string(f.Data) != want {
		t.Fatalf("reply\n got %s\nwant %s", f.Data, want)
	}
}

func TestDecodeControl_ErrorReplyWithoutID(t *testing.T) {
	for _, in := range []string{
		`{"stream":"control","payload":{"op":"subscribe","streams":["nope"]}}`,
		`{"stream":"control","payload":{"op":"subscribe","streams":["nope"],"id":{}}}`,
		`{"stream":"nope","payload":{"op":"subscribe","streams":["events"],"id":1}}`,
	} {
		_, err := DecodeControl([]byte(in))
		var fe *FrameError
		if !errors.As(err, &fe) {
			t.Fatal(err)
		}
		if r := fe.Reply(); r.ID != nil {
			t.Errorf("%s: reply id %s, want none", in, r.ID)
		}
	}
}

func TestEncodeControl_Invalid(t *testing.T) {
	for _, c := range []Control{
		{},
		{Op: OpSubscribe},
		{Op: OpSubscribe, Streams: []string{"bad"}},
		{Op: OpUnsubscribe, Streams: []string{"events"}, Since: map[string]uint64{"events": 1}},
		{Op: OpSubscribe, Streams: []string{"events"}, ID: json.RawMessage(`{}`)},
	} {
		if _, err := EncodeControl(c); err == nil {
			t.Errorf("EncodeControl(%+v): no error", c)
		} else if _, ok := err.(*FrameError); !ok {
			t.Errorf("EncodeControl(%+v): %T, want *FrameError", c, err)
		}
	}
}

func TestValidStream(t *testing.T) {
	good := []string{
		"events", "notifications", "service/web/status", "service/web/logs",
		"service/db_1.x-Y/logs", "job/42", "job/2024-01-01T10.00_a", "service/" + strings.Repeat("a", 100) + "/logs",
	}
	for _, name := range good {
		if err := ValidStream(name); err != nil {
			t.Errorf("ValidStream(%q): %v", name, err)
		}
	}
	bad := []string{
		"", "control", "Events", "events/", "service", "service/", "service//logs", "service/web/",
		"service/web/status/x", "service/./logs", "service/a b/logs", "service/é/logs", "job", "job/", "job/..",
		"job/1/2", "job/" + strings.Repeat("1", 65), "service/" + strings.Repeat("a", 101) + "/logs", "notifications2",
	}
	for _, name := range bad {
		if err := ValidStream(name); !errors.Is(err, ErrBadStream) {
			t.Errorf("ValidStream(%q): %v, want ErrBadStream", name, err)
		}
	}
	if got, want := ServiceLogs("web")+ServiceStatus("web")+Job("1"), "service/web/logsservice/web/statusjob/1"; got != want {
		t.Errorf("helpers: %q", got)
	}
}

func TestParseNotice(t *testing.T) {
	for _, n := range []Notice{
		{Op: OpMissed, Stream: "job/1", From: 3, To: 9, Count: 7},
		{Op: OpGap, Stream: "events", Since: 1, First: 20, Last: 30},
	} {
		got, ok := ParseNotice(n.Frame())
		if !ok || got != n {
			t.Errorf("ParseNotice(%+v.Frame()) = %+v, %v", n, got, ok)
		}
	}
	reply, _ := Reply{Op: OpSubscribed, Streams: []string{"events"}}.Frame()
	for _, f := range []Frame{reply, {Stream: "events", Seq: 1, Data: []byte(`{"stream":"events","seq":1,"payload":{"op":"missed"}}`)}} {
		if n, ok := ParseNotice(f); ok {
			t.Errorf("ParseNotice(%s) = %+v, want not a notice", f.Data, n)
		}
	}
}
