package inspect

import (
	"reflect"
	"testing"
)

func TestParseServerTiming(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   []ServerTiming
	}{
		{"none", nil, nil},
		{"name only", []string{"miss"}, []ServerTiming{{Name: "miss"}}},
		{"dur", []string{"db;dur=53"}, []ServerTiming{{Name: "db", Dur: 53}}},
		{"fractional dur and desc", []string{"cache;desc=\"Cache Read\";dur=23.2"},
			[]ServerTiming{{Name: "cache", Dur: 23.2, Desc: "Cache Read"}}},
		{"several metrics, spaces", []string{" db ; dur = 53 , app;dur=47.2,total"},
			[]ServerTiming{{Name: "db", Dur: 53}, {Name: "app", Dur: 47.2}, {Name: "total"}}},
		{"several header fields", []string{"a;dur=1", "b;dur=2"},
			[]ServerTiming{{Name: "a", Dur: 1}, {Name: "b", Dur: 2}}},
		{"token desc", []string{"cdn;desc=hit"}, []ServerTiming{{Name: "cdn", Desc: "hit"}}},
		{"quoted desc with comma, semicolon and escapes", []string{`sql;desc="select a, b; \"x\" \\ y";dur=3, next`},
			[]ServerTiming{{Name: "sql", Dur: 3, Desc: `select a, b; "x" \ y`}, {Name: "next"}}},
		{"parameter names are case-insensitive", []string{"db;DUR=5;Desc=x"}, []ServerTiming{{Name: "db", Dur: 5, Desc: "x"}}},
		{"first dur and desc win", []string{"db;dur=1;dur=2;desc=a;desc=b"}, []ServerTiming{{Name: "db", Dur: 1, Desc: "a"}}},
		{"bad dur is 0", []string{"db;dur=fast"}, []ServerTiming{{Name: "db"}}},
		{"unknown parameters ignored", []string{"db;region=eu;dur=9"}, []ServerTiming{{Name: "db", Dur: 9}}},
		{"parameter without value", []string{"db;dur;desc=x"}, []ServerTiming{{Name: "db", Desc: "x"}}},
		{"malformed metric skipped, rest kept", []string{`"quoted-name";dur=1, ok;dur=2`},
			[]ServerTiming{{Name: "ok", Dur: 2}}},
		{"garbage after a name skipped to the comma", []string{"db dur=1, ok"}, []ServerTiming{{Name: "ok"}}},
		{"unterminated quote", []string{`db;desc="never ends, x;dur=1`}, []ServerTiming{{Name: "db", Desc: "never ends, x;dur=1"}}},
		{"empty elements", []string{",, ,db;dur=1,,"}, []ServerTiming{{Name: "db", Dur: 1}}},
		{"empty value", []string{""}, nil},
		{"negative dur", []string{"skew;dur=-2.5"}, []ServerTiming{{Name: "skew", Dur: -2.5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseServerTiming(tt.values)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseServerTiming(%q)\n got %+v\nwant %+v", tt.values, got, tt.want)
			}
		})
	}
}
