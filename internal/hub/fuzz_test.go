package hub

import (
	"reflect"
	"testing"
)

// FuzzDecodeControl checks that DecodeControl never panics, that every error
// it returns is a *FrameError with a message, and that what it accepts is
// valid and survives a round trip through EncodeControl. The seeds are below
// and in testdata/fuzz/FuzzDecodeControl.
func FuzzDecodeControl(f *testing.F) {
	for _, seed := range []string{
		`{"stream":"control","payload":{"op":"subscribe","id":7,"streams":["events","job/42"],"since":{"job/42":17}}}`,
		`{"stream":"control","op":"subscribe","streams":["service/web/logs"],"since":{"service/web/logs":0}}`,
		`{"stream":"control","payload":{"op":"unsubscribe","id":"x","streams":["notifications"]}}`,
		`{"stream":"control","payload":{"op":"subscribe","streams":["events"],"since":null,"id":null}}`,
		`{"stream":"control","payload":{"op":"subscribe","streams":["events","events"]}}`,
		`{"stream":"control","payload":{"op":"subscribe","streams":["job/1"],"since":{"job/1":-1}}}`,
		`{"stream":"control","op":"subscribe","payload":{}}`,
		`{"stream":"job/1","seq":3,"payload":{}}`,
		`{"stream":"control","payload":[]}`,
		`{"stream":"control","payload":{"op":"subscribe","streams":["service/a/logs"]}}trailing`,
		`{"stream":"control","payload":{"op":"subscribe","streams":["service/\u00e9/logs"]}}`,
		`{"stream":"control","payload":{"op":"subscribe","streams":[["events"]]}}`,
		`{"stream":"control","payload":{"op":"subscribe","streams":["events"],"id":-12}}`,
		`{"stream":"control","\u0070ayload":{"op":"subscribe","streams":["events"]}}`,
		``, `null`, `[]`, `{`, `"control"`, "\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeControl(b)
		if err != nil {
			fe, ok := err.(*FrameError)
			if !ok || fe == nil {
				t.Fatalf("error %v is a %T, want a *FrameError", err, err)
			}
			if fe.Message == "" {
				t.Fatalf("FrameError without a message: %+v", fe)
			}
			return
		}
		if len(b) > MaxControlSize {
			t.Fatalf("accepted a frame of %d bytes", len(b))
		}
		if c.Op != OpSubscribe && c.Op != OpUnsubscribe {
			t.Fatalf("accepted op %q", c.Op)
		}
		if len(c.Streams) == 0 || len(c.Streams) > MaxStreams {
			t.Fatalf("accepted %d streams", len(c.Streams))
		}
		seen := map[string]bool{}
		for _, s := range c.Streams {
			if err := ValidStream(s); err != nil || seen[s] {
				t.Fatalf("accepted stream %q (duplicate %v): %v", s, seen[s], err)
			}
			seen[s] = true
		}
		if c.Since != nil && c.Op != OpSubscribe {
			t.Fatalf("accepted since with %s", c.Op)
		}
		for s := range c.Since {
			if !seen[s] {
				t.Fatalf("accepted since of %q, not in streams", s)
			}
		}
		enc, err := EncodeControl(c)
		if err != nil {
			t.Fatalf("EncodeControl of a decoded request: %v", err)
		}
		again, err := DecodeControl(enc)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip: %+v, %v\nwant %+v\nvia %s", again, err, c, enc)
		}
	})
}
