package watch

// slog keys, shared by every message of the package.
const (
	keyPath = "path"
	keyDirs = "dirs"
	keyErr  = "err"
)
