package project

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestQuickName(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		opts   LoadOptions
		want   string
		wantOK bool
		subdir string
	}{
		{name: "name key", files: map[string]string{"compose.yaml": "name: Shop\nservices: {a: {command: x}}\n"}, want: "shop", wantOK: true},
		{name: "folder", files: map[string]string{"compose.yaml": "services: {a: {command: x}}\n"}, subdir: "My App", want: "myapp", wantOK: true},
		{name: "override wins", files: map[string]string{"compose.yaml": "name: one\n", "compose.override.yaml": "name: two\n"}, want: "two", wantOK: true},
		{name: "-p", files: map[string]string{"compose.yaml": "name: one\n"}, opts: LoadOptions{Name: "Other"}, want: "other", wantOK: true},
		{name: "environment", files: map[string]string{"compose.yaml": "name: one\n"}, opts: LoadOptions{Environ: []string{"COMPOSE_PROJECT_NAME=envname"}}, want: "envname", wantOK: true},
		{name: "interpolated", files: map[string]string{"compose.yaml": "name: ${X:-a}\n"}, wantOK: false},
		{name: "dotenv sets it", files: map[string]string{"compose.yaml": "services: {}\n", ".env": "COMPOSE_PROJECT_NAME=x\n"}, wantOK: false},
		{name: "no file", files: map[string]string{}, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.subdir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for f, body := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			opts := tt.opts
			opts.WorkingDir = dir
			got, ok := QuickName(opts)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("QuickName = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
			if ok {
				// It must agree with a full load.
				opts.Native = true
				p, err := Load(context.Background(), opts)
				if err == nil && p.Name != got {
					t.Errorf("Load found %q, QuickName %q", p.Name, got)
				}
			}
		})
	}
}
