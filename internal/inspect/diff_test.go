package inspect

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want string
	}{
		{"one line changed", "a\nb\nc\n", "a\nB\nc\n", `--- A
+++ B
@@ -1,3 +1,3 @@
 a
-b
+B
 c
`},
		{"insert at the start", "x\ny\n", "new\nx\ny\n", `--- A
+++ B
@@ -1,2 +1,3 @@
+new
 x
 y
`},
		{"into nothing", "", "x\n", `--- A
+++ B
@@ -0,0 +1 @@
+x
`},
		{"missing newline at the end", "a\nb", "a\nc", `--- A
+++ B
@@ -1,2 +1,2 @@
 a
-b
\ No newline at end of file
+c
\ No newline at end of file
`},
		{"distant changes make two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "1\nTWO\n3\n4\n5\n6\n7\n8\n9\n10\nELEVEN\n12\n", `--- A
+++ B
@@ -1,5 +1,5 @@
 1
-2
+TWO
 3
 4
 5
@@ -8,5 +8,5 @@
 8
 9
 10
-11
+ELEVEN
 12
`},
		{"close changes share a hunk", "1\n2\n3\n4\n5\n6\n", "1\nX\n3\n4\nY\n6\n", `--- A
+++ B
@@ -1,6 +1,6 @@
 1
-2
+X
 3
 4
-5
+Y
 6
`},
		{"everything removed", "a\nb\n", "", `--- A
+++ B
@@ -1,2 +0,0 @@
-a
-b
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := unifiedDiff("A", "B", tt.a, tt.b)
			if !ok {
				t.Fatal("unifiedDiff gave up")
			}
			if got != tt.want {
				t.Errorf("unifiedDiff\n got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestDiffLines_Minimal checks the edit scripts of random inputs: they must
// rebuild both texts, with the fewest edits (compared with an LCS table).
func TestDiffLines_Minimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		a := randomLines(rng, rng.IntN(30))
		b := randomLines(rng, rng.IntN(30))
		if i%3 == 0 {
			b = mutate(rng, a)
		}
		ops, ok := diffLines(a, b)
		if !ok {
			t.Fatal("diffLines gave up on a small input")
		}
		var gotA, gotB []string
		edits := 0
		for _, o := range ops {
			switch o.kind {
			case opEqual:
				if a[o.a] != b[o.b] {
					t.Fatalf("equal op on different lines %q %q", a[o.a], b[o.b])
				}
				gotA, gotB = append(gotA, a[o.a]), append(gotB, b[o.b])
			case opDelete:
				gotA = append(gotA, a[o.a])
				edits++
			case opInsert:
				gotB = append(gotB, b[o.b])
				edits++
			}
		}
		if strings.Join(gotA, "") != strings.Join(a, "") || strings.Join(gotB, "") != strings.Join(b, "") {
			t.Fatalf("script does not rebuild the inputs\na=%q\nb=%q\nops=%v", a, b, ops)
		}
		if want := len(a) + len(b) - 2*lcs(a, b); edits != want {
			t.Fatalf("%d edits, want the minimum %d\na=%q\nb=%q", edits, want, a, b)
		}
	}
}

func randomLines(rng *rand.Rand, n int) []string {
	var out []string
	for range n {
		out = append(out, string(rune('a'+rng.IntN(4)))+"\n")
	}
	return out
}

func mutate(rng *rand.Rand, a []string) []string {
	b := append([]string(nil), a...)
	for range rng.IntN(4) + 1 {
		switch i := rng.IntN(len(b) + 1); {
		case i < len(b) && rng.IntN(2) == 0:
			b = append(b[:i], b[i+1:]...)
		default:
			b = append(b[:i], append([]string{"new\n"}, b[i:]...)...)
		}
	}
	return b
}

func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestDiff(t *testing.T) {
	resp := func(status int, h http.Header, body []byte) *Exchange {
		return &Exchange{Response: Response{Status: status, Header: h, Body: body, Size: int64(len(body))}}
	}
	t.Run("same", func(t *testing.T) {
		a := resp(200, http.Header{"Content-Type": {"text/plain"}}, []byte("hi\n"))
		d := Diff(a, a)
		if !d.Equal() || d.String() != "" {
			t.Errorf("Diff of an exchange with itself: %+v", d)
		}
	})
	t.Run("status, headers and text body", func(t *testing.T) {
		a := resp(201, http.Header{"Content-Type": {"application/json"}, "X-Version": {"1"}, "X-Old": {"gone"}},
			[]byte("{\n  \"id\": 7,\n  \"name\": \"widget\"\n}\n"))
		b := resp(200, http.Header{"Content-Type": {"application/json"}, "X-Version": {"2"}, "X-New": {"here"}},
			[]byte("{\n  \"id\": 7,\n  \"name\": \"gadget\"\n}\n"))
		a.ID, b.ID = 1, 2
		d := Diff(a, b)
		want := `status: 201 → 200
+ X-New: here
- X-Old: gone
~ X-Version: 1 → 2
--- #1
+++ #2
@@ -1,4 +1,4 @@
 {
   "id": 7,
-  "name": "widget"
+  "name": "gadget"
 }
`
		if got := d.String(); got != want {
			t.Errorf("Diff:\n got:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("binary bodies", func(t *testing.T) {
		a := resp(200, http.Header{"Content-Type": {"image/png"}}, []byte("\x89PNG\x00\x01"))
		b := resp(200, http.Header{"Content-Type": {"image/png"}}, []byte("\x89PNG\x00\x02\x03"))
		if got, want := Diff(a, b).Body, "bodies differ (6 vs 7 bytes)"; got != want {
			t.Errorf("Body = %q, want %q", got, want)
		}
	})
	t.Run("gzip bodies are compared as text", func(t *testing.T) {
		h := http.Header{"Content-Type": {"text/plain"}, "Content-Encoding": {"gzip"}}
		d := Diff(resp(200, h, gz(t, "one\ntwo\n")), resp(200, h, gz(t, "one\nthree\n")))
		if !strings.Contains(d.Body, "-two\n+three\n") {
			t.Errorf("Body = %q, want a line diff of the decoded text", d.Body)
		}
	})
	t.Run("same text, different coding", func(t *testing.T) {
		a := resp(200, http.Header{"Content-Type": {"text/plain"}, "Content-Encoding": {"gzip"}}, gz(t, "same\n"))
		b := resp(200, http.Header{"Content-Type": {"text/plain"}}, []byte("same\n"))
		d := Diff(a, b)
		if !strings.Contains(d.Body, "decode to the same text") {
			t.Errorf("Body = %q", d.Body)
		}
	})
}

// TestUnifiedDiff_PatchApplies feeds random diffs to patch(1): the format
// (hunk ranges, context, missing newlines) must be what tools expect.
func TestUnifiedDiff_PatchApplies(t *testing.T) {
	if _, err := exec.LookPath("patch"); err != nil {
		t.Skip("no patch")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	for i := range 40 {
		a := strings.Join(randomLines(rng, rng.IntN(40)), "")
		b := strings.Join(mutate(rng, randomLines(rng, rng.IntN(40))), "")
		if i%2 == 0 {
			b = strings.Join(mutate(rng, splitLines(a)), "")
		}
		if i%5 == 0 {
			b = strings.TrimSuffix(b, "\n") // no newline at the end
		}
		u, ok := unifiedDiff("A", "B", a, b)
		if !ok {
			t.Fatal("gave up")
		}
		file := filepath.Join(dir, "f")
		if err := os.WriteFile(file, []byte(a), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("patch", "--quiet", "--force", file)
		cmd.Stdin = strings.NewReader(u)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("patch: %v\n%s\ndiff:\n%s", err, out, u)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != b {
			t.Fatalf("patched\n%q\nwant\n%q\ndiff:\n%s", got, b, u)
		}
	}
}

func TestDiff_LargeBodies(t *testing.T) {
	var a strings.Builder
	for i := range 40000 { // about 1 MiB of JSON lines
		fmt.Fprintf(&a, "{\"id\": %d, \"name\": \"item %d\"},\n", i, i)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	ea := &Exchange{ID: 1, Response: Response{Status: 200, Header: h, Body: []byte(a.String()), Size: int64(a.Len())}}
	t.Run("one change in a megabyte", func(t *testing.T) {
		b := strings.Replace(a.String(), `"item 20000"`, `"changed"`, 1)
		eb := &Exchange{ID: 2, Response: Response{Status: 200, Header: h, Body: []byte(b), Size: int64(len(b))}}
		d := Diff(ea, eb)
		if !strings.Contains(d.Body, "-{\"id\": 20000, \"name\": \"item 20000\"},\n+{\"id\": 20000, \"name\": \"changed\"},\n") ||
			strings.Count(d.Body, "\n@@") != 1 {
			t.Errorf("Body:\n%s", d.Body)
		}
	})
	t.Run("too many changes for a line diff", func(t *testing.T) {
		b := strings.ReplaceAll(a.String(), "item", "thing")
		eb := &Exchange{ID: 2, Response: Response{Status: 200, Header: h, Body: []byte(b), Size: int64(len(b))}}
		d := Diff(ea, eb)
		if want := fmt.Sprintf("bodies differ (%d vs %d bytes); too many differences for a line diff", a.Len(), len(b)); d.Body != want {
			t.Errorf("Body = %q, want %q", d.Body, want)
		}
	})
}
