package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// StateRoot returns the folder that holds every project's state:
// $BERTH_STATE_HOME, else $XDG_STATE_HOME/berth, else ~/.local/state/berth.
func StateRoot() (string, error) {
	if d := os.Getenv("BERTH_STATE_HOME"); d != "" {
		return filepath.Abs(d)
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "berth"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find state folder: %w (set BERTH_STATE_HOME)", err)
	}
	return filepath.Join(home, ".local", "state", "berth"), nil
}

var projectNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// StateDir returns the state folder of project name.
func StateDir(name string) (string, error) {
	if !projectNameRE.MatchString(name) {
		return "", fmt.Errorf("project name %q: must be lowercase letters, digits, '-' or '_', starting with a letter or digit", name)
	}
	root, err := StateRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, name), nil
}

// SocketPath is where the engine of the project in stateDir serves its API.
func SocketPath(stateDir string) string { return filepath.Join(stateDir, "berth.sock") }

// EngineLogPath is where a detached engine writes its own output.
func EngineLogPath(stateDir string) string { return filepath.Join(stateDir, "engine.log") }

func logsDir(stateDir string) string     { return filepath.Join(stateDir, "logs") }
func volumesDir(stateDir string) string  { return filepath.Join(stateDir, "volumes") }
func recordsPath(stateDir string) string { return filepath.Join(stateDir, "pids.json") }
func lockPath(stateDir string) string    { return filepath.Join(stateDir, "engine.lock") }

// VolumeDir is the folder that backs named volume name.
func VolumeDir(stateDir, name string) string { return filepath.Join(volumesDir(stateDir), name) }

// VolumeEnvName is the environment variable that hands a named volume's
// folder to a service: BERTH_VOLUME_<NAME>, upper-cased, other characters as '_'.
func VolumeEnvName(volume string) string {
	var b strings.Builder
	b.WriteString("BERTH_VOLUME_")
	for _, r := range strings.ToUpper(volume) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// RemoveVolumes deletes the folders of the project's named volumes (down -v).
// Only folders under the state folder's volumes/ are touched.
func RemoveVolumes(stateDir string, names []string) error {
	var errs []error
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, `/\`) || n == "." || n == ".." {
			errs = append(errs, fmt.Errorf("remove volume %q: not a volume name", n))
			continue
		}
		if err := os.RemoveAll(VolumeDir(stateDir, n)); err != nil {
			errs = append(errs, fmt.Errorf("remove volume %q: %w", n, err))
		}
	}
	return errors.Join(errs...)
}
