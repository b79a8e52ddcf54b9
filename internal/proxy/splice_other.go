//go:build !linux

package proxy

import "net"

// pipePool is empty where there is no splice(2): forward copies
// everything through its buffer.
type pipePool struct{}

func newPipePool() *pipePool { return nil }

func (pp *pipePool) close() {}

func (pp *pipePool) splicePending(dst, src *net.TCPConn, wait bool, limit int64) (int64, bool, error) {
	panic("unreachable: forward does not splice without pipes")
}

func (pp *pipePool) counts() (lent, idle int) { return 0, 0 }
