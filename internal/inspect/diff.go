package inspect

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ResponseDiff is how the responses of two exchanges differ: typically an
// original and its replay.
type ResponseDiff struct {
	A, B int64 // the IDs compared

	StatusA, StatusB int
	Headers          []HeaderChange // sorted by name; empty if the headers are the same
	// Body is "" when the bodies are the same; a unified line diff when both
	// are text (after undoing gzip/deflate); otherwise a one-line summary
	// such as "bodies differ (120 vs 98 bytes)".
	Body string
}

// HeaderChange is one response header that differs.
type HeaderChange struct {
	Name   string   // canonical form
	Change string   // "added" (only in B), "removed" (only in A) or "changed"
	A, B   []string // the values in A and in B
}

// Equal reports whether the two responses are the same: status, headers and
// body.
func (d *ResponseDiff) Equal() bool {
	return d.StatusA == d.StatusB && len(d.Headers) == 0 && d.Body == ""
}

// String renders d as text, one section per difference; "" when Equal.
func (d *ResponseDiff) String() string {
	var b strings.Builder
	if d.StatusA != d.StatusB {
		fmt.Fprintf(&b, "status: %d → %d\n", d.StatusA, d.StatusB)
	}
	for _, h := range d.Headers {
		switch h.Change {
		case "added":
			fmt.Fprintf(&b, "+ %s: %s\n", h.Name, strings.Join(h.B, ", "))
		case "removed":
			fmt.Fprintf(&b, "- %s: %s\n", h.Name, strings.Join(h.A, ", "))
		default:
			fmt.Fprintf(&b, "~ %s: %s → %s\n", h.Name, strings.Join(h.A, ", "), strings.Join(h.B, ", "))
		}
	}
	if d.Body != "" {
		b.WriteString(d.Body)
		if !strings.HasSuffix(d.Body, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Diff compares the responses of a and b, which must have been read with
// their bodies (Get).
func Diff(a, b *Exchange) *ResponseDiff {
	d := &ResponseDiff{A: a.ID, B: b.ID, StatusA: a.Response.Status, StatusB: b.Response.Status}
	names := map[string]bool{}
	for k := range a.Response.Header {
		names[k] = true
	}
	for k := range b.Response.Header {
		names[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(names)) {
		va, ina := a.Response.Header[k]
		vb, inb := b.Response.Header[k]
		switch {
		case !ina:
			d.Headers = append(d.Headers, HeaderChange{Name: k, Change: "added", B: vb})
		case !inb:
			d.Headers = append(d.Headers, HeaderChange{Name: k, Change: "removed", A: va})
		case !slices.Equal(va, vb):
			d.Headers = append(d.Headers, HeaderChange{Name: k, Change: "changed", A: va, B: vb})
		}
	}
	d.Body = diffBodies(a, b)
	return d
}

func diffBodies(a, b *Exchange) string {
	ra, rb := &a.Response, &b.Response
	if ra.Size == rb.Size && ra.Truncated == rb.Truncated && bytes.Equal(ra.Body, rb.Body) {
		return ""
	}
	summary := fmt.Sprintf("bodies differ (%d vs %d bytes)", ra.Size, rb.Size)
	ta, oka := textBody(ra)
	tb, okb := textBody(rb)
	if !oka || !okb {
		return summary
	}
	if ta == tb {
		// The same text, coded differently (gzip and not) or cut at
		// different lengths.
		if ra.Truncated || rb.Truncated {
			return summary + "; the kept prefixes decode to the same text"
		}
		return summary + "; they decode to the same text"
	}
	u, ok := unifiedDiff(fmt.Sprintf("#%d", a.ID), fmt.Sprintf("#%d", b.ID), ta, tb)
	if !ok {
		return summary + "; too many differences for a line diff"
	}
	if ra.Truncated || rb.Truncated {
		u = fmt.Sprintf("(the bodies were truncated: %d of %d and %d of %d bytes kept)\n",
			len(ra.Body), ra.Size, len(rb.Body), rb.Size) + u
	}
	return u
}

// textBody returns a response body as text, if it is text once decoded.
func textBody(r *Response) (string, bool) {
	body, err := DecodeBody(r.Header, r.Body)
	if err != nil || !IsText(r.Header.Get("Content-Type"), body) {
		return "", false
	}
	return string(trimPartialRune(body)), true
}

// maxEdits bounds the line diff: beyond this many inserted and deleted
// lines, Myers' algorithm costs too much, and such a diff is no help anyway.
const maxEdits = 1000

// unifiedDiff returns the line diff of a and b in unified format with 3
// lines of context, or false if it has more than maxEdits changes.
func unifiedDiff(nameA, nameB, a, b string) (string, bool) {
	la, lb := splitLines(a), splitLines(b)
	ops, ok := diffLines(la, lb)
	if !ok {
		return "", false
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	const context = 3
	// Walk the edit script, cutting it into hunks of changes closer than
	// 2×context lines, each with up to context lines around it.
	for i := 0; i < len(ops); {
		if ops[i].kind == opEqual {
			i++
			continue
		}
		start := i
		for start > 0 && i-start < context && ops[start-1].kind == opEqual {
			start--
		}
		end := i
		for end < len(ops) {
			if ops[end].kind != opEqual {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == opEqual {
				run++
			}
			if run == len(ops) || run-end > 2*context {
				end = min(end+context, run)
				break
			}
			end = run
		}
		writeHunk(&out, ops[start:end], la, lb)
		i = end
	}
	return out.String(), true
}

type opKind byte

const (
	opEqual opKind = iota
	opDelete
	opInsert
)

// lineOp is one step of an edit script: a line of a (equal, delete) or of b
// (insert), by index.
type lineOp struct {
	kind opKind
	a, b int // indexes in a and b of the lines at this step
}

func writeHunk(out *strings.Builder, ops []lineOp, la, lb []string) {
	startA, startB := ops[0].a, ops[0].b
	var na, nb int
	for _, o := range ops {
		if o.kind != opInsert {
			na++
		}
		if o.kind != opDelete {
			nb++
		}
	}
	// Unified format numbers from 1; an empty range is named by the line
	// before it.
	fa, fb := startA+1, startB+1
	if na == 0 {
		fa--
	}
	if nb == 0 {
		fb--
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", hunkRange(fa, na), hunkRange(fb, nb))
	for _, o := range ops {
		var prefix byte
		var line string
		switch o.kind {
		case opEqual:
			prefix, line = ' ', la[o.a]
		case opDelete:
			prefix, line = '-', la[o.a]
		case opInsert:
			prefix, line = '+', lb[o.b]
		}
		out.WriteByte(prefix)
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// hunkRange formats a range as GNU diff does: "3" for one line, "3,4".
func hunkRange(first, n int) string {
	if n == 1 {
		return fmt.Sprint(first)
	}
	return fmt.Sprintf("%d,%d", first, n)
}

// splitLines splits s after each '\n'; a last line without one is kept.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// diffLines returns an edit script turning a into b (Myers' O(ND)
// algorithm, after trimming the common prefix and suffix), or false if it
// needs more than maxEdits insertions and deletions.
func diffLines(a, b []string) ([]lineOp, bool) {
	var ops []lineOp
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		ops = append(ops, lineOp{opEqual, pre, pre})
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	mid, ok := myers(a[pre:len(a)-suf], b[pre:len(b)-suf])
	if !ok {
		return nil, false
	}
	for _, o := range mid {
		o.a += pre
		o.b += pre
		ops = append(ops, o)
	}
	for i := suf; i > 0; i-- {
		ops = append(ops, lineOp{opEqual, len(a) - i, len(b) - i})
	}
	return ops, true
}

func myers(a, b []string) ([]lineOp, bool) {
	n, m := len(a), len(b)
	maxD := min(n+m, maxEdits)
	off := maxD + 1
	v := make([]int, 2*maxD+3) // v[off+k]: the furthest x on diagonal k
	var trace [][]int          // trace[d]: v[off-d-1 … off+d+1] before round d
	found := -1
	for d := 0; d <= maxD && found < 0; d++ {
		trace = append(trace, slices.Clone(v[off-d-1:off+d+2]))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1] // down: an insertion
			} else {
				x = v[off+k-1] + 1 // right: a deletion
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				found = d
				break
			}
		}
	}
	if found < 0 {
		return nil, false
	}
	// Walk back from (n, m) through the saved rounds.
	var rev []lineOp
	x, y := n, m
	for d := found; d > 0; d-- {
		prev := trace[d] // prev[j] is v[k'] for k' = j - d - 1
		at := func(k int) int { return prev[k+d+1] }
		k := x - y
		var pk int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := at(pk)
		// Back along the snake that followed the move, to where the move
		// ended: (px, py+1) after a move down, (px+1, py) after one right.
		mx := px
		if pk == k-1 {
			mx++
		}
		for x > mx {
			x--
			y--
			rev = append(rev, lineOp{opEqual, x, y})
		}
		if pk == k+1 {
			y--
			rev = append(rev, lineOp{opInsert, x, y})
		} else {
			x--
			rev = append(rev, lineOp{opDelete, x, y})
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, lineOp{opEqual, x, y})
	}
	slices.Reverse(rev)
	return rev, true
}
