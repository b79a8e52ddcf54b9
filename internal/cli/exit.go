package cli

import (
	"errors"
	"fmt"
)

// ExitCode is the process exit status of a berth command.
type ExitCode int

// Exit codes, as docker compose uses them where they make sense.
const (
	ExitOK          ExitCode = 0
	ExitError       ExitCode = 1
	ExitUsage       ExitCode = 2
	ExitInterrupted ExitCode = 130
)

// exitError carries a specific exit code out of a command (for example the
// exit code of a service for --exit-code-from, or of `exec`). When err is nil
// nothing is printed.
type exitError struct {
	code ExitCode
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withExit wraps err so that the process exits with code.
func withExit(code ExitCode, err error) error { return &exitError{code: code, err: err} }

// usageError marks an error in the command line itself (exit 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// codeOf maps an error returned by a command to the process exit code.
func codeOf(err error) ExitCode {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitError
}
