package engine

// slog keys, shared by every message of the engine.
const (
	keyService = "service"
	keyPid     = "pid"
	keyPort    = "port"
	keyAttempt = "attempt"
	keyErr     = "err"
)
