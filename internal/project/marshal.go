package project

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
)

// ErrNoModel is returned by MarshalConfig for a Project that was not made
// by Load (for example one decoded from the API's JSON).
var ErrNoModel = errors.New("project has no compose model (it was not loaded from files)")

// MarshalConfig renders the loaded compose model as `docker compose config`
// prints it: format is "yaml" or "json"; every "$" is escaped as "$$" so the
// output can be loaded again.
func (p *Project) MarshalConfig(format string) ([]byte, error) {
	if p.compose == nil {
		return nil, ErrNoModel
	}
	var (
		b   []byte
		err error
	)
	switch format {
	case "json":
		b, err = p.compose.MarshalJSON()
	case "yaml", "":
		b, err = p.compose.MarshalYAML()
	default:
		return nil, fmt.Errorf("marshal config: unsupported format %q (use yaml or json)", format)
	}
	if err != nil {
		return nil, fmt.Errorf("marshal config: %w", err)
	}
	return bytes.ReplaceAll(b, []byte("$"), []byte("$$")), nil
}

// ProfileNames returns every profile named in the files, enabled or not, sorted.
func (p *Project) ProfileNames() []string {
	set := map[string]bool{}
	if p.compose != nil {
		for _, s := range p.compose.AllServices() {
			for _, pr := range s.Profiles {
				set[pr] = true
			}
		}
	} else {
		for _, s := range p.Services {
			for _, pr := range s.Profiles {
				set[pr] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for pr := range set {
		out = append(out, pr)
	}
	sort.Strings(out)
	return out
}

// VolumeNames returns the top-level volume names of the loaded model, as
// `docker compose config --volumes` prints them (falls back to Volumes).
func (p *Project) VolumeNames() []string {
	if p.compose == nil {
		return append([]string(nil), p.Volumes...)
	}
	return p.compose.VolumeNames()
}
