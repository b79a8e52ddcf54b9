package engine

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/project"
)

// PortInUseError says that a published port is taken, and by whom when that
// could be found.
type PortInUseError struct {
	Service string
	Port    int
	Holder  string // "pid 123 (python3 -m http.server)" or ""
	Err     error
}

func (e *PortInUseError) Error() string {
	msg := fmt.Sprintf("service %q: port %d is already in use", e.Service, e.Port)
	if e.Holder != "" {
		msg += " by " + e.Holder
	}
	return msg + "\nhint: stop what holds it, or publish another host port in compose.yaml (ports: \"OTHER:" + strconv.Itoa(e.Port) + "\")"
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// checkPorts fails, before anything starts, when a TCP port that one of the
// named services publishes is already taken.
func checkPorts(p *project.Project, names []string) error {
	var errs []error
	for _, name := range names {
		s, ok := p.Service(name)
		if !ok {
			continue
		}
		for _, port := range s.Ports {
			if port.Published == 0 || (port.Protocol != "" && port.Protocol != "tcp") {
				continue
			}
			addr := net.JoinHostPort(port.HostIP, strconv.Itoa(port.Published))
			l, err := net.Listen("tcp", addr)
			if err != nil {
				errs = append(errs, &PortInUseError{Service: name, Port: port.Published, Holder: portHolder(port.Published), Err: err})
				continue
			}
			l.Close()
		}
	}
	return errors.Join(errs...)
}

// portHolder finds the process listening on TCP port, through /proc. It
// returns "" when it cannot tell (another user's process, say).
func portHolder(port int) string {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
				inodes[fields[9]] = true
			}
		}
		fh.Close()
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := os.ReadDir("/proc")
	for _, pe := range procs {
		pid, err := strconv.Atoi(pe.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", pe.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
				return fmt.Sprintf("pid %d (%s)", pid, procCmdline(pid))
			}
		}
	}
	return ""
}
