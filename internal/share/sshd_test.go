package share

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/berth-dev/berth/internal/berthtest"
)

const sshdPath = "/usr/sbin/sshd"

// testSSHD is a throwaway OpenSSH server on 127.0.0.1, with its own host
// key and one authorized client key, started by the test.
type testSSHD struct {
	t    *testing.T
	dir  string
	port int
	user string
	// clientKey is the private key file of the authorized client.
	clientKey string
	// knownHosts is a known_hosts file that trusts the server's host key.
	knownHosts string
	hostKey    ssh.PublicKey
	config     string
	pidFile    string

	mu     sync.Mutex // guards cmd, exited and out
	cmd    *exec.Cmd
	exited chan error // gets cmd's Wait result
	out    *bytes.Buffer
}

// needSSHD skips the test with -short when OpenSSH's server is missing, and
// fails it otherwise: the test command installs openssh-server.
func needSSHD(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		if testing.Short() {
			t.Skipf("%s is missing (apt-get install -y openssh-server): skipped with -short", sshdPath)
		}
		t.Fatalf("%s is missing: install openssh-server (apt-get install -y openssh-server) to run the share tests, or use -short to skip them", sshdPath)
	}
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Fatalf("ssh-keygen is missing: install openssh-client")
	}
}

// startSSHD starts a server on a free loopback port; it is killed when the
// test ends.
func startSSHD(t *testing.T) *testSSHD {
	t.Helper()
	needSSHD(t)
	// The privilege separation folder; it exists where sshd ever ran.
	_ = os.MkdirAll("/run/sshd", 0o755)
	dir := t.TempDir()
	d := &testSSHD{t: t, dir: dir, port: berthtest.FreePort(t), user: currentUser()}
	hostKey := filepath.Join(dir, "host_ed25519")
	keygen(t, hostKey)
	d.clientKey = filepath.Join(dir, "client_ed25519")
	keygen(t, d.clientKey)
	d.hostKey = readPub(t, hostKey+".pub")
	clientPub, err := os.ReadFile(d.clientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, clientPub, 0o600); err != nil {
		t.Fatal(err)
	}
	d.knownHosts = filepath.Join(dir, "known_hosts")
	writeKnownHosts(t, d.knownHosts, d.addr(), d.hostKey)
	d.pidFile = filepath.Join(dir, "sshd.pid")
	d.config = filepath.Join(dir, "sshd_config")
	conf := strings.Join([]string{
		"Port " + strconv.Itoa(d.port),
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKey,
		"PidFile " + d.pidFile,
		"AuthorizedKeysFile " + authorized,
		"UsePAM no",
		"StrictModes no",
		"AllowTcpForwarding yes",
		"GatewayPorts clientspecified",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"PermitTTY no",
		"X11Forwarding no",
		"UseDNS no",
		"LogLevel VERBOSE",
		"",
	}, "\n")
	if err := os.WriteFile(d.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d.start()
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			t.Logf("sshd output:\n%s", d.output())
		}
	})
	return d
}

// addr is the server's host:port.
func (d *testSSHD) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port)) }

// via is the --via of the server.
func (d *testSSHD) via() string { return d.user + "@" + d.addr() }

func (d *testSSHD) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.out == nil {
		return ""
	}
	return d.out.String()
}

// start runs sshd (again, on the same port) and waits until it listens.
func (d *testSSHD) start() {
	d.t.Helper()
	_ = os.Remove(d.pidFile)
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", d.config)
	d.mu.Lock()
	if d.out == nil {
		d.out = &bytes.Buffer{}
	}
	w := &lockedWriter{mu: &d.mu, w: d.out}
	d.mu.Unlock()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("start sshd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	d.mu.Lock()
	d.cmd, d.exited = cmd, exited
	d.mu.Unlock()
	// sshd writes its pid file once it listens.
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			d.mu.Lock()
			d.cmd, d.exited = nil, nil
			d.mu.Unlock()
			d.t.Fatalf("sshd exited at start (%v):\n%s", err, d.output())
		default:
		}
		if b, err := os.ReadFile(d.pidFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("sshd did not start within 10s:\n%s", d.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pid is the listening server's pid.
func (d *testSSHD) pid() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cmd.Process.Pid
}

// kill cuts every link: it kills the server and its session processes
// (they run in sessions of their own, so a process group would not do).
func (d *testSSHD) kill() {
	d.mu.Lock()
	cmd, exited := d.cmd, d.exited
	d.cmd, d.exited = nil, nil
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	for _, pid := range descendants(cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = cmd.Process.Kill()
	<-exited
}

// descendants lists the processes under pid, from /proc.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// keygen writes a new passphrase-less ed25519 key pair at path, path.pub.
func keygen(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "berth-share-test", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
}

func readPub(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeKnownHosts writes a known_hosts file trusting key for addr.
func writeKnownHosts(t *testing.T, path, addr string, key ssh.PublicKey) {
	t.Helper()
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// errNotYet is what waitFor's condition returns while it does not hold.
var errNotYet = errors.New("not yet")

// waitFor polls cond until it returns nil, for up to limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
