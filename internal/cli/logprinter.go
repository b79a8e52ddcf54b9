package cli

import (
	"bufio"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/iostreams"
	"github.com/berth-dev/berth/internal/server"
)

// logPrinter prints log lines as docker compose does: "web-1  | text",
// with a stable colour per replica and names padded to a common width.
type logPrinter struct {
	color, timestamps, noPrefix bool

	mu     sync.Mutex // guards w, width, colors
	w      *bufio.Writer
	width  int
	colors map[string]string
}

// Colours in the order docker compose hands them out.
var palette = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

func newLogPrinter(ios *iostreams.IOStreams, noColor, timestamps, noPrefix bool) *logPrinter {
	return &logPrinter{
		color:      ios.ColorEnabled() && !noColor,
		timestamps: timestamps,
		noPrefix:   noPrefix,
		w:          bufio.NewWriterSize(ios.Out, 64<<10),
		colors:     map[string]string{},
	}
}

func (p *logPrinter) print(l server.LogLine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := l.Service + "-" + strconv.Itoa(l.Replica)
	if l.Missed > 0 {
		name = l.Service
	}
	if len(name) > p.width {
		p.width = len(name)
	}
	if !p.noPrefix {
		if p.color {
			c, ok := p.colors[l.Service]
			if !ok {
				c = palette[len(p.colors)%len(palette)]
				p.colors[l.Service] = c
			}
			fmt.Fprintf(p.w, "\x1b[%sm%-*s |\x1b[0m ", c, p.width, name)
		} else {
			fmt.Fprintf(p.w, "%-*s | ", p.width, name)
		}
	}
	if p.timestamps {
		p.w.WriteString(l.Time.UTC().Format(time.RFC3339Nano))
		p.w.WriteByte(' ')
	}
	if l.Missed > 0 {
		fmt.Fprintf(p.w, "berth: %d lines skipped here (output too fast to follow); `berth logs %s` has them all", l.Missed, l.Service)
	} else {
		p.w.WriteString(l.Text)
	}
	p.w.WriteByte('\n')
	p.w.Flush()
}
