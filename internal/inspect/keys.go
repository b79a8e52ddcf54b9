package inspect

// slog keys, shared by every message of the package.
const (
	keyDropped = "dropped"
	keyFailed  = "failed"
	keyErr     = "err"
)
