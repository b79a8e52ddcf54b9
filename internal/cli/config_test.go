package cli

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/iostreams"
)

// writeCompose writes a compose.yaml (and extra files) into a temp folder.
func writeCompose(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestConfigCmd(t *testing.T) {
	dir := writeCompose(t, map[string]string{"compose.yaml": `services:
  web:
    image: app
    command: [run, "$$HOME"]
    depends_on: [db]
    user: "1000"
  db:
    image: postgres
    volumes: [data:/var/lib/postgresql/data]
  tool:
    image: t
    profiles: [tools, debug]
volumes:
  data:
`})
	file := filepath.Join(dir, "compose.yaml")
	out := filepath.Join(dir, "out.json")
	tests := []struct {
		name       string
		args       []string
		wantCode   ExitCode
		wantOut    string // substring of stdout ("" = stdout must be empty)
		wantErr    string // substring of stderr
		exactLines []string
	}{
		{name: "yaml by default", args: []string{"config"}, wantOut: "name: ", wantErr: "services.web.user"},
		{name: "json escapes dollars", args: []string{"config", "--format", "json"}, wantOut: `"$$HOME"`},
		{name: "services in dependency order", args: []string{"config", "--services"}, exactLines: []string{"db", "web"}},
		{name: "profiles", args: []string{"config", "--profiles"}, exactLines: []string{"debug", "tools"}},
		{name: "volumes", args: []string{"config", "--volumes"}, exactLines: []string{"data"}},
		{name: "quiet", args: []string{"config", "-q"}},
		{name: "output file", args: []string{"config", "--format", "json", "-o", out}},
		{name: "bad format is a usage error", args: []string{"config", "--format", "toml"}, wantCode: ExitUsage, wantErr: `invalid --format "toml"`},
		{name: "no arguments", args: []string{"config", "web"}, wantCode: ExitUsage},
		// docker compose's own placement: global flags before the verb.
		{name: "global flags before the verb", args: []string{"-f", file, "-p", "before", "config", "--format", "json"}, wantOut: `"name": "before"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, stdout, stderr := iostreams.Test()
			args := tt.args
			if args[0] == "config" {
				args = append([]string{"config", "-f", file}, args[1:]...)
			}
			code := Run(args, ios)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			switch {
			case tt.exactLines != nil:
				got := strings.Split(strings.TrimSpace(stdout.String()), "\n")
				if strings.Join(got, ",") != strings.Join(tt.exactLines, ",") {
					t.Errorf("stdout lines %q, want %q", got, tt.exactLines)
				}
			case tt.wantOut == "" && stdout.Len() > 0:
				t.Errorf("stdout = %q, want nothing", stdout)
			case !strings.Contains(stdout.String(), tt.wantOut):
				t.Errorf("stdout = %q, want it to contain %q", stdout, tt.wantOut)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantErr)
			}
		})
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(b, []byte(`"services"`)) {
		t.Errorf("-o wrote %q, %v", b, err)
	}
}

// corpusSkips lists corpus samples that cannot match the reference, with
// why. The reference is docker compose v5.5 on compose-go v2.14.0 and berth
// uses v2.16.2; every sample matches today, so the list is empty. Add a
// sample here only with the precise compose-go difference that explains it.
var corpusSkips = map[string]string{}

// TestConfigCorpus builds berth and runs the conformance corpus
// (../shared/corpus next to the repository) with `berth config --format json`.
func TestConfigCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the whole corpus")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	corpus := filepath.Join(root, "..", "shared", "corpus")
	check := filepath.Join(corpus, "check.sh")
	if _, err := os.Stat(check); err != nil {
		t.Fatalf("conformance corpus not found at %s (it must be a sibling of the repository, as in CI): %v", corpus, err)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("check.sh needs python3: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "berth")
	build := exec.Command("go", "build", "-o", bin, "./cmd/berth")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command("bash", check, bin, "config", "--format", "json")
	cmd.Dir = root
	out, _ := cmd.CombinedOutput() // exit status 1 when anything fails; the lines say what
	var (
		last     string
		failures []string
		current  []string
	)
	flush := func() {
		if len(current) > 0 {
			failures = append(failures, strings.Join(current, "\n"))
			current = nil
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "FAIL "):
			flush()
			name := strings.TrimPrefix(line, "FAIL ")
			if reason, ok := corpusSkips[name]; ok {
				t.Logf("skipping %s: %s", name, reason)
				continue
			}
			current = []string{line}
		case strings.HasPrefix(line, "PASS "):
			flush()
			if _, ok := corpusSkips[strings.TrimPrefix(line, "PASS ")]; ok {
				t.Errorf("%s passes now: remove it from corpusSkips", line)
			}
		case strings.HasPrefix(line, "  ") && current != nil:
			current = append(current, line)
		default:
			if strings.TrimSpace(line) != "" {
				last = line
			}
		}
	}
	flush()
	t.Log(last)
	if !strings.HasSuffix(last, "failed") {
		t.Fatalf("check.sh did not finish with a summary line:\n%s", out)
	}
	for _, f := range failures {
		t.Error(f)
	}
}
