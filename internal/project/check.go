package project

import (
	"fmt"
	"strconv"
	"strings"
)

// RunnableError lists the services that have nothing to run natively.
type RunnableError struct {
	// Services are the offending services, in name order.
	Services []NotRunnable
}

// NotRunnable is one service without a native command.
type NotRunnable struct {
	Service string
	Image   string
	// Build is the build context when the service only has a build.
	Build string
	// File and Line locate the service in the compose files (Line 0 if unknown).
	File string
	Line int
	// Recipe says what the built-in recipe for Image lacks on this machine,
	// ending with a "hint:" line (recipes.go); empty when Image has no recipe.
	Recipe string
}

func (e *RunnableError) Error() string {
	var b strings.Builder
	for i, s := range e.Services {
		if i > 0 {
			b.WriteString("\n")
		}
		switch {
		case s.Recipe != "":
			// The recipe's own hint says what to install.
			fmt.Fprintf(&b, "service %q has only image %q: %s, or add `x-berth: {command: ...}` to the service (%s)", s.Service, s.Image, s.Recipe, placeOf(s))
			continue
		case s.Build != "":
			fmt.Fprintf(&b, "service %q has only a build (%s): berth runs services natively and needs a command", s.Service, displayPath(s.Build))
		case s.Image != "":
			fmt.Fprintf(&b, "service %q has only image %q: berth runs services natively and needs a command", s.Service, s.Image)
		default:
			fmt.Fprintf(&b, "service %q has no command: berth runs services natively and needs a command", s.Service)
		}
		fmt.Fprintf(&b, "\nhint: add `x-berth: {command: ...}` to the service (%s), or install the program and set `command:`", placeOf(s))
	}
	return b.String()
}

// placeOf formats where the service is written: "compose.yaml:12".
func placeOf(s NotRunnable) string {
	place := displayPath(s.File)
	if s.Line > 0 {
		place += ":" + strconv.Itoa(s.Line)
	}
	if place == "" {
		place = "the compose file"
	}
	return place
}

// CheckRunnable reports every service that has nothing to run natively
// (only an image, or only a build, and no x-berth.command). `up` and `run`
// call it before anything starts.
func (p *Project) CheckRunnable() error {
	var bad []NotRunnable
	for _, s := range p.Services {
		if len(s.Argv) > 0 {
			continue
		}
		n := NotRunnable{Service: s.Name, Image: s.Image, Recipe: recipeHint(s.Image)}
		if p.compose != nil {
			if sc, ok := p.compose.Services[s.Name]; ok && sc.Build != nil && sc.Image == "" {
				n.Build = sc.Build.Context
			}
		}
		if p.sources != nil {
			n.File, n.Line = p.sources.place("services", s.Name)
		} else if len(p.ComposeFiles) > 0 {
			n.File = p.ComposeFiles[0]
		}
		bad = append(bad, n)
	}
	if len(bad) == 0 {
		return nil
	}
	return &RunnableError{Services: bad}
}
