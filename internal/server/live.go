package server

import (
	"sync"

	"github.com/coder/websocket"
)

// liveSockets are the WebSockets open with each user's token — the
// multiplexed socket and terminals — so that revoking a token ends them
// too, not only its next requests.
type liveSockets struct {
	mu     sync.Mutex // guards byUser
	byUser map[string]map[*websocket.Conn]struct{}
}

// add records c as user's until the returned function is called.
func (l *liveSockets) add(user string, c *websocket.Conn) (remove func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byUser == nil {
		l.byUser = map[string]map[*websocket.Conn]struct{}{}
	}
	if l.byUser[user] == nil {
		l.byUser[user] = map[*websocket.Conn]struct{}{}
	}
	l.byUser[user][c] = struct{}{}
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.byUser[user], c)
		if len(l.byUser[user]) == 0 {
			delete(l.byUser, user)
		}
	}
}

// closeUser closes every socket of user with status 1008 and the reason,
// and returns once each close handshake is over (the library waits up to 5 s
// for a peer's answer). The sockets' own goroutines see their reads fail and
// end as for any closed connection.
func (l *liveSockets) closeUser(user string) {
	l.mu.Lock()
	var conns []*websocket.Conn
	for c := range l.byUser[user] {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Close(websocket.StatusPolicyViolation, "token revoked")
		}()
	}
	wg.Wait()
}
