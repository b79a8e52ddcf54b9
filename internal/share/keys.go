package share

// slog keys, shared by every message of the package.
const (
	keyService = "service"
	keyAddr    = "addr"
	keyPath    = "path"
	keyClient  = "client"
	keyAttempt = "attempt"
	keyErr     = "err"
)
