package share

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Via is the SSH server a share goes through: user@host[:port].
type Via struct {
	User string
	Host string
	Port int
}

// ParseVia parses user@host[:port] (also ssh://user@host:port and
// user@[::1]:port). Without a user, the current user's name is used, as ssh
// does; without a port, 22.
func ParseVia(s string) (Via, error) {
	raw := s
	s = strings.TrimPrefix(s, "ssh://")
	s = strings.TrimSuffix(s, "/")
	v := Via{Port: 22}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		v.User, s = s[:i], s[i+1:]
		if v.User == "" {
			return Via{}, fmt.Errorf("--via %q: empty user before @", raw)
		}
	}
	host := s
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Via{}, fmt.Errorf("--via %q: port %q is not a number from 1 to 65535", raw, p)
		}
		host, v.Port = h, n
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	} else if strings.Count(s, ":") == 1 {
		return Via{}, fmt.Errorf("--via %q: %w", raw, err)
	}
	if host == "" {
		return Via{}, fmt.Errorf("--via %q: want user@host[:port]", raw)
	}
	if strings.ContainsAny(host, "/@ ") {
		return Via{}, fmt.Errorf("--via %q: %q is not a host name", raw, host)
	}
	v.Host = host
	if v.User == "" {
		v.User = currentUser()
	}
	if v.User == "" {
		return Via{}, fmt.Errorf("--via %q: no user given, and the current user is unknown; write user@%s", raw, host)
	}
	return v, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// Addr is host:port, as dialled and as known_hosts is searched for.
func (v Via) Addr() string { return net.JoinHostPort(v.Host, strconv.Itoa(v.Port)) }

func (v Via) String() string { return v.User + "@" + v.Addr() }

// HostKeyError is returned when the server's host key cannot be trusted:
// its host is not in the known_hosts file, or is there with another key.
type HostKeyError struct {
	// Host is the server as dialled (host:port).
	Host string
	// KnownHosts is the file searched.
	KnownHosts string
	// KeyType and Fingerprint describe the key the server offered
	// (ssh-ed25519, SHA256:...).
	KeyType     string
	Fingerprint string
	// Known are the keys known_hosts holds for Host; empty when the host is
	// unknown.
	Known []knownhosts.KnownKey
	// Revoked is set when known_hosts marks the offered key @revoked.
	Revoked bool
}

func (e *HostKeyError) Error() string {
	host, port, _ := net.SplitHostPort(e.Host)
	scan := fmt.Sprintf("ssh-keyscan -p %s %s >> %s", port, host, e.KnownHosts)
	offered := fmt.Sprintf("the server offered %s key %s", e.KeyType, e.Fingerprint)
	switch {
	case e.Revoked:
		return fmt.Sprintf("host key of %s is marked @revoked in %s: %s\nhint: do not connect; ask the server's admin", e.Host, e.KnownHosts, offered)
	case len(e.Known) == 0:
		return fmt.Sprintf("host key of %s is not known: %s is not in %s; %s\n"+
			"hint: check that fingerprint with the server's admin (on the server: ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), then trust it:\n  %s",
			e.Host, knownhosts.Normalize(e.Host), e.KnownHosts, offered, keyFileKind(e.KeyType), scan)
	}
	var have []string
	for _, k := range e.Known {
		have = append(have, fmt.Sprintf("%s:%d has %s %s", k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key)))
	}
	return fmt.Sprintf("host key of %s does not match known_hosts: %s, but %s\n"+
		"this is either an attack (someone in the middle) or the server's key was changed\n"+
		"hint: if the server's admin confirms the new fingerprint, replace the old key:\n  ssh-keygen -R '%s' -f %s && %s",
		e.Host, offered, strings.Join(have, ", "), knownhosts.Normalize(e.Host), e.KnownHosts, scan)
}

// keyFileKind maps a key type to the name OpenSSH gives its host key file.
func keyFileKind(t string) string {
	switch {
	case strings.Contains(t, "ed25519"):
		return "ed25519"
	case strings.Contains(t, "ecdsa"):
		return "ecdsa"
	case strings.Contains(t, "rsa"):
		return "rsa"
	}
	return "*"
}

// hostKeys checks host keys against one known_hosts file.
type hostKeys struct {
	path string
	cb   ssh.HostKeyCallback // nil when the file does not exist
}

func loadHostKeys(path string) (*hostKeys, error) {
	cb, err := knownhosts.New(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &hostKeys{path: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read known hosts: %w", err)
	}
	return &hostKeys{path: path, cb: cb}, nil
}

// check is an ssh.HostKeyCallback that turns knownhosts' errors into a
// *HostKeyError.
func (k *hostKeys) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	herr := &HostKeyError{Host: hostname, KnownHosts: k.path, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key)}
	if k.cb == nil {
		return herr
	}
	err := k.cb(hostname, remote, key)
	if err == nil {
		return nil
	}
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &ke):
		herr.Known = ke.Want
		return herr
	case errors.As(err, &re):
		herr.Revoked = true
		return herr
	}
	return fmt.Errorf("check host key of %s: %w", hostname, err)
}

// algorithms returns the host key algorithms to ask the server for: those
// of the keys known_hosts holds for hostname first, so that a server with
// several host keys shows one we can check, then every other supported one,
// so that a server without such a key still shows one (and fails the check
// clearly, instead of failing the negotiation). Nil means the library's
// defaults.
func (k *hostKeys) algorithms(hostname string) []string {
	if k.cb == nil {
		return nil
	}
	// Ask about a key nobody has: the error lists the known ones.
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if !errors.As(k.cb(hostname, &net.TCPAddr{IP: net.IPv4zero}, probe), &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, s := range a {
			if !seen[s] {
				seen[s] = true
				algos = append(algos, s)
			}
		}
	}
	for _, w := range ke.Want {
		switch t := w.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	add(ssh.SupportedAlgorithms().HostKeys...)
	return algos
}

// authMethods gathers the client's keys: the identity file when given (it
// must be readable), else those of ~/.ssh/id_ed25519, id_ecdsa and id_rsa
// that exist; and the agent's keys. The returned closer ends the agent
// connection; call it once the handshake is over.
func authMethods(identity, home, agentSocket string) ([]ssh.Signer, func(), error) {
	var signers []ssh.Signer
	var skipped []string
	if identity != "" {
		s, err := readKey(identity)
		if err != nil {
			return nil, nil, err
		}
		signers = append(signers, s)
	} else if home != "" {
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			p := filepath.Join(home, ".ssh", name)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			s, err := readKey(p)
			if err != nil {
				skipped = append(skipped, err.Error())
				continue
			}
			signers = append(signers, s)
		}
	}
	closer := func() {}
	if agentSocket != "" {
		conn, err := net.DialTimeout("unix", agentSocket, 5*time.Second)
		if err == nil {
			as, aerr := agent.NewClient(conn).Signers()
			if aerr == nil {
				signers = append(signers, as...)
				closer = func() { conn.Close() }
			} else {
				conn.Close()
				skipped = append(skipped, fmt.Sprintf("ssh agent at %s: %v", agentSocket, aerr))
			}
		} else {
			skipped = append(skipped, fmt.Sprintf("ssh agent at %s: %v", agentSocket, err))
		}
	}
	if len(signers) == 0 {
		msg := "no SSH key to log in with: "
		if agentSocket == "" {
			msg += "no agent ($SSH_AUTH_SOCK is not set), "
		}
		msg += "and none of ~/.ssh/id_ed25519, id_ecdsa, id_rsa could be used"
		if len(skipped) > 0 {
			msg += " (" + strings.Join(skipped, "; ") + ")"
		}
		return nil, nil, errors.New(msg + "\nhint: pass --identity FILE, or load a key into your agent (ssh-add)")
	}
	return signers, closer, nil
}

// readKey reads an unencrypted private key file.
func readKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	var pm *ssh.PassphraseMissingError
	if errors.As(err, &pm) {
		return nil, fmt.Errorf("identity %s is protected by a passphrase; load it into your agent first: ssh-add %s", path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	return s, nil
}

// dialSSH connects and logs in to v within timeout, or until ctx ends.
func dialSSH(ctx context.Context, v Via, o *Options, hk *hostKeys, timeout time.Duration) (*ssh.Client, error) {
	signers, closeAgent, err := authMethods(o.Identity, o.Home, o.AgentSocket)
	if err != nil {
		return nil, err
	}
	defer closeAgent()
	addr := v.Addr()
	cfg := &ssh.ClientConfig{
		User:              v.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signers...)},
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: hk.algorithms(addr),
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		// "ssh to u@h:p: connect: connection refused", not the address twice.
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
		}
		return nil, fmt.Errorf("ssh to %s: %w", v, err)
	}
	// The handshake gets the same deadline, and ends if ctx does.
	if dl, ok := dctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stopped := stop()
	if err != nil {
		conn.Close()
		var herr *HostKeyError
		if errors.As(err, &herr) {
			return nil, herr
		}
		if !stopped {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("ssh to %s: no answer within %s", v, timeout)
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("log in to %s: %w\nhint: is your public key in ~%s/.ssh/authorized_keys on %s? (ssh-copy-id -p %d %s@%s)", v, err, v.User, v.Host, v.Port, v.User, v.Host)
		}
		return nil, fmt.Errorf("ssh to %s: %w", v, err)
	}
	if !stopped {
		// ctx ended, or the time ran out, right after the handshake.
		c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("ssh to %s: no answer within %s", v, timeout)
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}
