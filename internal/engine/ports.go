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
	"syscall"

	"github.com/berth-dev/berth/internal/project"
	"github.com/berth-dev/berth/internal/proxy"
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

// proxied reports whether berth's proxy owns a published port: when the host
// port differs from the port the service listens on.
func proxied(port project.Port) bool {
	return port.Published != 0 && port.Published != port.Target && (port.Protocol == "" || port.Protocol == "tcp")
}

// openProxies binds the proxied ports of s (before it starts, so a taken
// port fails up) and serves them until the engine ends or closeProxies.
func (e *Engine) openProxies(s *service) error {
	for _, port := range s.spec.Ports {
		if !proxied(port) {
			continue
		}
		px, err := proxy.Listen(proxy.Options{
			Listen: net.JoinHostPort(port.HostIP, strconv.Itoa(port.Published)),
			Name:   s.spec.Name,
			Logger: e.log,
		})
		if err != nil {
			e.closeProxies(s)
			if errors.Is(err, syscall.EADDRINUSE) {
				return &PortInUseError{Service: s.spec.Name, Port: port.Published, Holder: portHolder(port.Published), Err: err}
			}
			return fmt.Errorf("service %q: publish port %d: %w", s.spec.Name, port.Published, err)
		}
		// The service listens on its own port on loopback; the proxy retries
		// refused connections while it (re)starts, so clients never see one.
		px.SetBackends([]string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port.Target))})
		s.proxies = append(s.proxies, px)
		e.loops.Add(1)
		go func() {
			defer e.loops.Done()
			if err := px.Serve(e.ctx); err != nil {
				e.log.Warn("proxy stopped", keyService, s.spec.Name, keyPort, port.Published, keyErr, err)
			}
		}()
	}
	return nil
}

// closeProxies releases the published ports of s.
func (e *Engine) closeProxies(s *service) {
	for _, px := range s.proxies {
		px.Close()
	}
	s.proxies = nil
}

// checkPorts fails, before anything starts, when a TCP port that one of the
// named services publishes itself is already taken.
func checkPorts(p *project.Project, names []string) error {
	var errs []error
	for _, name := range names {
		s, ok := p.Service(name)
		if !ok {
			continue
		}
		for _, port := range s.Ports {
			if port.Published == 0 || (port.Protocol != "" && port.Protocol != "tcp") || proxied(port) {
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
