package proxy

// slog keys, shared by every message of the package.
const (
	keyService  = "service"
	keyPort     = "port"
	keyAddr     = "addr"
	keyBackend  = "backend"
	keyBackends = "backends"
	keyClient   = "client"
	keyAttempt  = "attempt"
	keyWaited   = "waited"
	keyDropped  = "dropped"
	keyErr      = "err"
)
