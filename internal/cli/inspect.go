package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/client"
	"github.com/berth-dev/berth/internal/inspect"
	"github.com/berth-dev/berth/internal/server"
)

type inspectOptions struct {
	follow bool
	format string
	method string
	status string
	path   string
	header string
	body   string
	limit  int
}

// filter builds the list filter of the flags, for service (may be "").
func (o *inspectOptions) filter(service string) (inspect.Filter, error) {
	f := inspect.Filter{Service: service, Method: strings.ToUpper(o.method), PathContains: o.path, Header: o.header, BodyContains: o.body, Limit: o.limit}
	if o.status != "" {
		c := strings.TrimSuffix(strings.ToLower(o.status), "xx")
		n, err := strconv.Atoi(c)
		if err != nil || len(c) != 1 || n < 1 || n > 5 {
			return f, usageErrorf("--status %q: want a status class, 1 to 5 (4 or 4xx for client errors)", o.status)
		}
		f.StatusClass = n
	}
	if o.header != "" {
		if name, _, _ := strings.Cut(o.header, ":"); strings.TrimSpace(name) == "" {
			return f, usageErrorf("--header %q: want NAME or NAME:VALUE", o.header)
		}
	}
	if o.limit < 0 {
		f.Limit = -1
	}
	return f, nil
}

func newInspectCmd(f *factory) *cobra.Command {
	o := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect [SERVICE]",
		Short: "List the HTTP requests your services received (the inspector); show, replay and export them",
		Long: `berth's HTTP inspector records the requests and responses that pass through a
service's published port when the inspector is on for it (x-berth: {inspect: true},
berth up --inspect SERVICE, or berth inspect on SERVICE). The port must be published
on another host port than the service's own ("8080:8000"): berth's proxy owns it.

inspect lists the recorded exchanges, oldest first (the newest --limit of them);
--follow then prints new ones as they come. Filters: --method, --status (a class:
4 or 4xx), --path (part of path and query), --header (NAME or NAME:VALUE), --body
(text in a kept body).`,
		Example: `  berth inspect web --status 5
  berth inspect --follow --path /api/
  berth inspect show 42
  berth inspect replay 42 --edit
  berth inspect export --har traffic.har`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.format != "table" && o.format != "json" {
				return usageErrorf("--format %q: want table or json", o.format)
			}
			service := ""
			if len(args) == 1 {
				service = args[0]
			}
			flt, err := o.filter(service)
			if err != nil {
				return err
			}
			return f.withClient(cmd.Context(), func(c *client.Client) error {
				return runInspectList(cmd.Context(), f, c, flt, o)
			})
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.follow, "follow", false, "then print new exchanges as they are recorded, until Ctrl-C")
	fl.StringVar(&o.format, "format", "table", "output format: table or json (with --follow: one JSON object per line)")
	fl.StringVar(&o.method, "method", "", "only this method (GET, POST, ...)")
	fl.StringVar(&o.status, "status", "", "only this status class: 1 to 5, or 2xx ... 5xx")
	fl.StringVar(&o.path, "path", "", "only requests whose path and query contain this")
	fl.StringVar(&o.header, "header", "", "only exchanges with this request or response header: NAME or NAME:VALUE (value: a part, any case)")
	fl.StringVar(&o.body, "body", "", "only exchanges whose kept request or response body contains this")
	fl.IntVarP(&o.limit, "limit", "n", inspect.DefaultListLimit, "how many of the newest exchanges (-1: all)")
	cmd.AddCommand(newInspectShowCmd(f), newInspectReplayCmd(f), newInspectExportCmd(f), newInspectSwitchCmd(f, true), newInspectSwitchCmd(f, false))
	return cmd
}

func runInspectList(ctx context.Context, f *factory, c *client.Client, flt inspect.Filter, o *inspectOptions) error {
	out := f.ios.Out
	if o.follow {
		if o.format == "table" {
			fmt.Fprint(out, inspectHeader())
		}
		enc := json.NewEncoder(out)
		err := c.FollowExchanges(ctx, flt, func(ex inspect.Exchange) error {
			if o.format == "json" {
				return enc.Encode(ex)
			}
			_, err := fmt.Fprint(out, inspectRow(&ex))
			return err
		})
		// Ctrl-C ends a follow, as it ends logs -f: not an error.
		return err
	}
	list, err := c.Exchanges(ctx, flt)
	if err != nil {
		return err
	}
	if o.format == "json" {
		if list == nil {
			list = []inspect.Exchange{}
		}
		return json.NewEncoder(out).Encode(list)
	}
	var b strings.Builder
	b.WriteString(inspectHeader())
	for i := len(list) - 1; i >= 0; i-- {
		b.WriteString(inspectRow(&list[i]))
	}
	_, err = io.WriteString(out, b.String())
	return err
}

// The list's columns have fixed widths, so that a followed list stays
// aligned as rows arrive.
const inspectRowFormat = "%-6s %-12s %-12s %-7s %-40s %6s %9s %9s\n"

func inspectHeader() string {
	return fmt.Sprintf(inspectRowFormat, "ID", "TIME", "SERVICE", "METHOD", "PATH", "STATUS", "DURATION", "SIZE")
}

func inspectRow(ex *inspect.Exchange) string {
	id := strconv.FormatInt(ex.ID, 10)
	if ex.ReplayOf != 0 {
		id += "↻"
	}
	status := "-"
	switch {
	case ex.Response.Status != 0:
		status = strconv.Itoa(ex.Response.Status)
	case ex.Error != "":
		status = "error"
	}
	return fmt.Sprintf(inspectRowFormat, id, ex.Start.Local().Format("15:04:05.000"), ex.Service, ex.Request.Method,
		ex.Request.Target, status, shortDuration(ex.Duration()), byteSize(ex.Response.Size))
}

// shortDuration prints d with 3 significant digits: 850µs, 12.3ms, 1.25s.
func shortDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', digitsAfter(float64(d)/float64(time.Millisecond)), 64) + "ms"
	default:
		return strconv.FormatFloat(d.Seconds(), 'f', digitsAfter(d.Seconds()), 64) + "s"
	}
}

func digitsAfter(v float64) int {
	switch {
	case v < 10:
		return 2
	case v < 100:
		return 1
	}
	return 0
}

// byteSize prints n bytes: 512 B, 1.5 KiB, 12 MiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	prec := 0
	if v < 10 {
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + suffix
}

// parseExchangeID reads an exchange id argument.
func parseExchangeID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("exchange id %q: want a positive number (see `berth inspect`)", s)
	}
	return id, nil
}

// exchangeArgs checks the ID argument and --format of a verb about one
// exchange (show, replay).
func exchangeArgs(arg, format string) (int64, error) {
	if format != "text" && format != "json" {
		return 0, usageErrorf("--format %q: want text or json", format)
	}
	return parseExchangeID(arg)
}

func newInspectShowCmd(f *factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one recorded exchange: headers, bodies (JSON and forms pretty-printed), timings, curl",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := exchangeArgs(args[0], format)
			if err != nil {
				return err
			}
			return f.withClient(cmd.Context(), func(c *client.Client) error {
				d, err := c.Exchange(cmd.Context(), id)
				if err != nil {
					return err
				}
				if format == "json" {
					return json.NewEncoder(f.ios.Out).Encode(d)
				}
				_, err = io.WriteString(f.ios.Out, formatExchange(&d))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

// formatExchange is the text of `berth inspect show`.
func formatExchange(d *server.ExchangeDetail) string {
	var b strings.Builder
	ex := &d.Exchange
	fmt.Fprintf(&b, "Exchange %d", ex.ID)
	if ex.ReplayOf != 0 {
		fmt.Fprintf(&b, " (replay of %d)", ex.ReplayOf)
	}
	fmt.Fprintf(&b, " · %s · %s\n", ex.Service, ex.Start.Local().Format("2006-01-02 15:04:05.000"))
	fmt.Fprintf(&b, "%s %s %s\n", ex.Request.Method, ex.URL(), ex.Request.Proto)
	if ex.Remote != "" {
		fmt.Fprintf(&b, "From %s", ex.Remote)
		if ex.Conn != 0 {
			fmt.Fprintf(&b, " (connection %d, request %d)", ex.Conn, ex.Seq)
		}
		b.WriteByte('\n')
	}
	if ex.Backend != "" {
		fmt.Fprintf(&b, "Served by %s\n", ex.Backend)
	}

	b.WriteString("\nRequest headers:\n")
	writeHeaders(&b, ex.Request.Header)
	writeBody(&b, "Request body", ex.Request.Header, ex.Request.Body, ex.Request.Size, ex.Request.Truncated, d.RequestText)

	b.WriteString("\n")
	if ex.Response.Status == 0 {
		b.WriteString("Response: none\n")
	} else {
		fmt.Fprintf(&b, "Response: %d %s (%s)\n", ex.Response.Status, ex.Response.Reason, ex.Response.Proto)
		b.WriteString("Response headers:\n")
		writeHeaders(&b, ex.Response.Header)
		writeBody(&b, "Response body", ex.Response.Header, ex.Response.Body, ex.Response.Size, ex.Response.Truncated, d.ResponseText)
	}
	if ex.Upgraded {
		b.WriteString("The connection was upgraded (WebSocket).\n")
	}
	writeFrames(&b, ex)
	if ex.Error != "" {
		fmt.Fprintf(&b, "Error: %s\n", ex.Error)
	}

	b.WriteString("\nTimings:\n")
	if ex.Held > 0 {
		fmt.Fprintf(&b, "  connect     %s\n", shortDuration(ex.Held))
	}
	if w := ex.Wait(); w > 0 {
		fmt.Fprintf(&b, "  first byte  %s\n", shortDuration(w))
	}
	fmt.Fprintf(&b, "  total       %s\n", shortDuration(ex.Duration()))
	for _, t := range ex.Timing {
		fmt.Fprintf(&b, "  server: %s", t.Name)
		if t.Dur > 0 {
			fmt.Fprintf(&b, " %sms", strconv.FormatFloat(t.Dur, 'f', -1, 64))
		}
		if t.Desc != "" {
			fmt.Fprintf(&b, " (%s)", t.Desc)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "\ncurl:\n  %s\n", d.Curl)
	return b.String()
}

// frameKinds names WebSocket opcodes.
var frameKinds = map[int]string{0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}

// writeFrames lists the WebSocket frames of an upgraded exchange: ↑ from
// the client, ↓ from the service, with the start of each text payload.
func writeFrames(b *strings.Builder, ex *inspect.Exchange) {
	if ex.FrameCount == 0 && len(ex.Frames) == 0 {
		return
	}
	fmt.Fprintf(b, "WebSocket frames: %d", max(ex.FrameCount, len(ex.Frames)))
	if len(ex.Frames) < ex.FrameCount {
		fmt.Fprintf(b, " (the first %d kept)", len(ex.Frames))
	}
	b.WriteString(", ↑ from the client, ↓ from the service:\n")
	const show = 120
	for _, f := range ex.Frames {
		dir := "↓"
		if f.FromClient {
			dir = "↑"
		}
		kind, ok := frameKinds[f.Opcode]
		if !ok {
			kind = "opcode " + strconv.Itoa(f.Opcode)
		}
		fmt.Fprintf(b, "  %s %s %-6s %s", dir, f.Time.Local().Format("15:04:05.000"), kind, byteSize(f.Length))
		if (f.Opcode == 1 || (f.Opcode == 0 && isUTF8Text(f.Payload))) && !f.Compressed && len(f.Payload) > 0 {
			text := strings.ReplaceAll(string(f.Payload), "\n", "⏎")
			if r := []rune(text); len(r) > show {
				text = string(r[:show]) + "…"
			}
			fmt.Fprintf(b, "  %s", text)
		}
		b.WriteByte('\n')
	}
}

func writeHeaders(b *strings.Builder, h http.Header) {
	if len(h) == 0 {
		b.WriteString("  (none)\n")
		return
	}
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			fmt.Fprintf(b, "  %s: %s\n", k, v)
		}
	}
}

// writeBody prints a body: JSON indented, a form one field a line, other
// text as it is, binary as its size.
func writeBody(b *strings.Builder, title string, h http.Header, body []byte, size int64, truncated bool, text *string) {
	if size == 0 && len(body) == 0 {
		return
	}
	fmt.Fprintf(b, "%s (%s", title, byteSize(size))
	if truncated {
		fmt.Fprintf(b, ", first %s kept", byteSize(int64(len(body))))
	}
	if ct := h.Get("Content-Type"); ct != "" {
		fmt.Fprintf(b, ", %s", ct)
	}
	b.WriteString("):\n")
	if text == nil {
		if len(body) == 0 {
			b.WriteString("  (not kept)\n")
		} else {
			fmt.Fprintf(b, "  (%d bytes of binary data, not shown; berth inspect show --format json has them in base64)\n", len(body))
		}
		return
	}
	for _, line := range strings.Split(strings.TrimRight(prettyBody(h.Get("Content-Type"), *text), "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
}

// prettyBody formats a text body for reading, by its media type.
func prettyBody(contentType, text string) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := strings.TrimSpace(text)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || (mt == "" && (strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "["))):
		var out bytes.Buffer
		if json.Indent(&out, []byte(trimmed), "", "  ") == nil {
			return out.String()
		}
	case mt == "application/x-www-form-urlencoded":
		var out strings.Builder
		for _, kv := range strings.Split(trimmed, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			if uk, err := url.QueryUnescape(k); err == nil {
				k = uk
			}
			if uv, err := url.QueryUnescape(v); err == nil {
				v = uv
			}
			fmt.Fprintf(&out, "%s = %s\n", k, v)
		}
		return out.String()
	}
	return text
}

func newInspectReplayCmd(f *factory) *cobra.Command {
	var edit bool
	var format string
	cmd := &cobra.Command{
		Use:   "replay ID [--edit]",
		Short: "Send a recorded request again (after editing it with --edit) and show how the response differs",
		Long: `replay sends exchange ID's request again to its service's published port, records
the result as a new exchange (a replay of ID), and prints it with the difference between
the two responses.

--edit opens the request in your editor first ($VISUAL, else $EDITOR, else vi), as
text: the request line, the headers, a blank line, then the body. Change anything;
Content-Length is set for you. Save and quit to send it; an empty file cancels.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := exchangeArgs(args[0], format)
			if err != nil {
				return err
			}
			return f.withClient(cmd.Context(), func(c *client.Client) error {
				return runInspectReplay(cmd.Context(), f, c, id, edit, format)
			})
		},
	}
	cmd.Flags().BoolVarP(&edit, "edit", "e", false, "edit the request in $VISUAL or $EDITOR before sending it")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func runInspectReplay(ctx context.Context, f *factory, c *client.Client, id int64, edit bool, format string) error {
	var req server.ReplayRequest
	if edit {
		d, err := c.Exchange(ctx, id)
		if err != nil {
			return err
		}
		text, err := requestText(&d)
		if err != nil {
			return err
		}
		edited, err := runEditor(ctx, f, fmt.Sprintf("berth-replay-%d-*.http", id), text)
		if err != nil {
			return err
		}
		req, err = parseRequestText(edited)
		if err != nil {
			return err
		}
	}
	res, err := c.Replay(ctx, id, req)
	if err != nil {
		return err
	}
	out := f.ios.Out
	if format == "json" {
		if err := json.NewEncoder(out).Encode(res); err != nil {
			return err
		}
	} else {
		ex := &res.Exchange.Exchange
		status := "no response"
		if ex.Response.Status != 0 {
			status = strings.TrimSpace(fmt.Sprintf("%d %s", ex.Response.Status, ex.Response.Reason))
		}
		fmt.Fprintf(out, "Replayed exchange %d as %d: %s %s → %s in %s, %s\n", id, ex.ID, ex.Request.Method, ex.Request.Target, status, shortDuration(ex.Duration()), byteSize(ex.Response.Size))
		if res.Diff.Equal {
			fmt.Fprintln(out, "The response is the same as the original's.")
		} else {
			fmt.Fprintf(out, "Difference from the original's response (%d → %d):\n%s", id, ex.ID, res.Diff.Text)
		}
	}
	if res.Error != "" {
		return fmt.Errorf("replay of exchange %d (recorded as %d) failed: %s", id, res.Exchange.ID, res.Error)
	}
	return nil
}

// Headers left out of the text form of a request: the replay sets them.
var replaySetHeaders = []string{"Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade"}

// requestText is the editable text form of a recorded request: the request
// line, the headers (Host first), a blank line and the body, after comment
// lines that say how it is read.
func requestText(d *server.ExchangeDetail) (string, error) {
	rq := &d.Exchange.Request
	var body string
	switch {
	case len(rq.Body) == 0:
	case isUTF8Text(rq.Body):
		body = string(rq.Body)
	default:
		return "", fmt.Errorf("edit exchange %d: its request body is binary (%d bytes, %s) and cannot be edited as text\nhint: replay it without --edit, or send a body through the API (POST /api/inspect/%d/replay with bodyBase64)", d.ID, len(rq.Body), orNone(rq.Header.Get("Content-Encoding"), rq.Header.Get("Content-Type")), d.ID)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Replay of exchange %d (%s). Edit the request below, then save and quit to send it.\n", d.ID, d.Service)
	b.WriteString("# The request line, the headers, a blank line, then the body. Content-Length is set for you.\n")
	b.WriteString("# Lines starting with '#' before the request line are ignored. An empty request cancels.\n")
	if rq.Truncated {
		fmt.Fprintf(&b, "# The body was cut at %d of %d bytes when recorded: what is below is what will be sent.\n", len(rq.Body), rq.Size)
	}
	fmt.Fprintf(&b, "%s %s %s\n", rq.Method, rq.Target, orNone(rq.Proto, "HTTP/1.1"))
	host := rq.Host
	if h := rq.Header.Get("Host"); h != "" {
		host = h
	}
	if host != "" {
		fmt.Fprintf(&b, "Host: %s\n", host)
	}
	keys := make([]string, 0, len(rq.Header))
	for k := range rq.Header {
		if http.CanonicalHeaderKey(k) == "Host" || slices.Contains(replaySetHeaders, http.CanonicalHeaderKey(k)) {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range rq.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	// The body always ends with one newline more, taken off when read
	// back: editors add a final newline, and a body may have its own.
	b.WriteString(body + "\n")
	return b.String(), nil
}

func orNone(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func isUTF8Text(b []byte) bool {
	return inspect.IsText("", b)
}

// parseRequestText reads the text form of requestText back as a replay.
func parseRequestText(text string) (server.ReplayRequest, error) {
	var req server.ReplayRequest
	text = strings.ReplaceAll(text, "\r\n", "\n")
	r := bufio.NewReader(strings.NewReader(text))
	var line string
	for {
		l, err := r.ReadString('\n')
		trimmed := strings.TrimSpace(l)
		if trimmed != "" && !strings.HasPrefix(trimmed, "#") {
			line = trimmed
			break
		}
		if err != nil {
			return req, errors.New("replay cancelled: the request is empty")
		}
	}
	parts := strings.Fields(line)
	if len(parts) < 2 || len(parts) > 3 {
		return req, fmt.Errorf("edited request: the first line %q: want METHOD TARGET [HTTP/1.1], e.g. POST /api/items HTTP/1.1", line)
	}
	req.Method, req.Target = parts[0], parts[1]
	if !strings.HasPrefix(req.Target, "/") {
		return req, fmt.Errorf("edited request: target %q: want a path starting with /, e.g. /api/items?id=2", req.Target)
	}
	req.Headers = http.Header{}
	for n := 2; ; n++ {
		l, err := r.ReadString('\n')
		if err != nil && l == "" {
			break // no blank line: no body
		}
		l = strings.TrimSuffix(l, "\n")
		if l == "" {
			rest, _ := io.ReadAll(r)
			body := strings.TrimSuffix(string(rest), "\n")
			req.Body = &body
			break
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(strings.TrimSpace(name), " \t") {
			return req, fmt.Errorf("edited request: header line %q: want Name: value (a blank line ends the headers)", l)
		}
		req.Headers.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		if err != nil {
			break
		}
	}
	if req.Body == nil {
		empty := ""
		req.Body = &empty
	}
	return req, nil
}

// runEditor writes text to a temporary file named by pattern, opens it in
// the user's editor (as git does: $VISUAL, else $EDITOR, else vi; the
// value may hold arguments) on the terminal, and returns what was saved.
func runEditor(ctx context.Context, f *factory, pattern, text string) (string, error) {
	editor := os.Getenv("VISUAL")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	tmp, err := os.CreateTemp("", pattern)
	if err != nil {
		return "", fmt.Errorf("edit request: %w", err)
	}
	path := tmp.Name()
	defer os.Remove(path)
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return "", fmt.Errorf("edit request: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("edit request: %w", err)
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", editor+` "$@"`, "sh", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f.ios.In, f.ios.Out, f.ios.ErrOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("edit request with %q: %w (nothing was sent)", editor, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("edit request: %w", err)
	}
	return string(b), nil
}

func newInspectExportCmd(f *factory) *cobra.Command {
	var file, service string
	var noRedact bool
	cmd := &cobra.Command{
		Use:   "export --har FILE [ID...]",
		Short: "Export recorded exchanges (the IDs given, else all) as a HAR 1.2 file, credentials redacted",
		Long: `export writes the chosen exchanges (all when no ID is given) as HAR 1.2, which
browsers' developer tools and HAR viewers open. Credentials are replaced by REDACTED:
the Authorization, Proxy-Authorization, Cookie and Set-Cookie headers, API-key and
token headers, and tokens in query strings and forms. --no-redact keeps them (the file
is then readable by you only). FILE - writes to standard output.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageErrorf("export needs --har FILE (- for standard output)")
			}
			o := client.ExportHAROptions{KeepSecrets: noRedact, Filter: inspect.Filter{Service: service}}
			for _, a := range args {
				id, err := parseExchangeID(a)
				if err != nil {
					return err
				}
				o.IDs = append(o.IDs, id)
			}
			return f.withClient(cmd.Context(), func(c *client.Client) error {
				return runInspectExport(cmd.Context(), f, c, file, o)
			})
		},
	}
	cmd.Flags().StringVar(&file, "har", "", "the HAR file to write (- for standard output)")
	cmd.Flags().BoolVar(&noRedact, "no-redact", false, "keep credentials (Authorization, cookies, tokens) in the file")
	cmd.Flags().StringVar(&service, "service", "", "only this service's exchanges (without IDs)")
	return cmd
}

func runInspectExport(ctx context.Context, f *factory, c *client.Client, file string, o client.ExportHAROptions) error {
	if file == "-" {
		return c.ExportHAR(ctx, f.ios.Out, o)
	}
	// Write beside the file and rename it in place: a failed export
	// leaves no half file.
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("export HAR to %s: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	mode := os.FileMode(0o644)
	if o.KeepSecrets {
		mode = 0o600
	}
	err = c.ExportHAR(ctx, tmp, o)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return fmt.Errorf("export HAR to %s: %w", file, err)
	}
	what := "credentials redacted"
	if o.KeepSecrets {
		what = "credentials kept: do not share it"
	}
	fmt.Fprintf(f.ios.ErrOut, "Wrote %s (HAR 1.2, %s)\n", file, what)
	return nil
}

func newInspectSwitchCmd(f *factory, on bool) *cobra.Command {
	verb, short := "off", "Stop recording a service's HTTP traffic"
	if on {
		verb, short = "on", "Record a service's HTTP traffic (its port must be published on another host port: \"8080:8000\")"
	}
	return &cobra.Command{
		Use:   verb + " SERVICE",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withClient(cmd.Context(), func(c *client.Client) error {
				now, err := c.SetInspect(cmd.Context(), args[0], on)
				if err != nil {
					return err
				}
				if now {
					fmt.Fprintf(f.ios.Out, "Inspecting %s: see its requests with `berth inspect %s`\n", args[0], args[0])
				} else {
					fmt.Fprintf(f.ios.Out, "No longer inspecting %s\n", args[0])
				}
				return nil
			})
		},
	}
}
