package supervise

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// DefaultPath is searched when a Spec's Env has no PATH, as dash and bash do.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath resolves file the way a shell would for a process running in dir
// with the given PATH (not berth's own). The result is absolute when dir
// resolution needed it, so that it does not depend on the chdir to dir.
// Errors read `exec "name": cause` and wrap exec.ErrNotFound or the errno.
func lookPath(file, dir, path string) (string, error) {
	if strings.Contains(file, "/") {
		p, err := resolve(file, dir)
		if err == nil {
			err = checkExecutable(p)
		}
		if err != nil {
			return "", fmt.Errorf("exec %q: %w", file, err)
		}
		return p, nil
	}
	if path == "" {
		path = DefaultPath
	}
	var denied error
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "." // an empty PATH entry means the working directory
		}
		p, err := resolve(filepath.Join(d, file), dir)
		if err != nil {
			continue
		}
		err = checkExecutable(p)
		if err == nil {
			return p, nil
		}
		if denied == nil && errors.Is(err, fs.ErrPermission) {
			denied = err
		}
	}
	if denied != nil {
		// Like a shell: a match that cannot be executed beats "not found".
		return "", fmt.Errorf("exec %q: %w", file, denied)
	}
	return "", fmt.Errorf("exec %q: %w", file, exec.ErrNotFound)
}

// resolve makes a relative p relative to dir, then absolute.
func resolve(p, dir string) (string, error) {
	if filepath.IsAbs(p) {
		return p, nil
	}
	if dir != "" {
		p = filepath.Join(dir, p)
	}
	return filepath.Abs(p)
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return pathErrCause(err)
	}
	if fi.IsDir() {
		return syscall.EISDIR
	}
	if fi.Mode()&0o111 == 0 {
		return syscall.EACCES
	}
	if err := unix.Faccessat(unix.AT_FDCWD, p, unix.X_OK, unix.AT_EACCESS); err != nil {
		return err
	}
	return nil
}

// dedupEnv keeps the last value of each variable, in the order of those last
// occurrences, as os/exec does.
func dedupEnv(env []string) []string {
	seen := make(map[string]bool, len(env))
	out := make([]string, 0, len(env))
	for i := len(env) - 1; i >= 0; i-- {
		k, _, _ := strings.Cut(env[i], "=")
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, env[i])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// envValue returns key's value in a deduplicated env, "" if absent.
func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
