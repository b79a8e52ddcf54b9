package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func createToken(t testing.TB, s *Store, name string) string {
	t.Helper()
	secret, err := s.CreateToken(context.Background(), name)
	if err != nil {
		t.Fatalf("CreateToken(%q): %v", name, err)
	}
	return secret
}

func TestToken_CreateAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	alice := createToken(t, s, "alice")
	bob := createToken(t, s, "bob@laptop")

	if !strings.HasPrefix(alice, TokenPrefix) {
		t.Errorf("secret %q lacks the %q prefix", alice, TokenPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(alice, TokenPrefix))
	if err != nil || len(raw) != 32 {
		t.Errorf("secret body decodes to %d bytes, %v; want 32 bytes of base64url", len(raw), err)
	}
	if alice == bob {
		t.Error("two tokens have the same secret")
	}

	for secret, want := range map[string]string{alice: "alice", bob: "bob@laptop"} {
		got, err := s.Authenticate(ctx, secret)
		if err != nil || got != want {
			t.Errorf("Authenticate = %q, %v; want %q", got, err, want)
		}
	}

	for _, bad := range []string{"", "nope", alice[:len(alice)-1], alice + "x", strings.ToUpper(alice), TokenPrefix} {
		name, err := s.Authenticate(ctx, bad)
		if !errors.Is(err, ErrUnauthorized) || name != "" {
			t.Errorf("Authenticate(wrong secret) = %q, %v; want ErrUnauthorized", name, err)
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error %q contains the secret", err)
		}
	}
}

func TestToken_Revoke(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	old := createToken(t, s, "alice")
	if err := s.RevokeToken(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, old); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Authenticate(revoked) err = %v, want ErrUnauthorized", err)
	}
	if err := s.RevokeToken(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke twice: err = %v, want ErrNotFound", err)
	}
	if err := s.RevokeToken(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke unknown: err = %v, want ErrNotFound", err)
	}

	// The name is free again; the old secret stays refused.
	fresh := createToken(t, s, "alice")
	if name, err := s.Authenticate(ctx, fresh); err != nil || name != "alice" {
		t.Errorf("Authenticate(new alice) = %q, %v", name, err)
	}
	if _, err := s.Authenticate(ctx, old); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("old secret after re-create: err = %v, want ErrUnauthorized", err)
	}

	// Revocation survives a restart.
	if err := s.RevokeToken(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	if _, err := s.Authenticate(ctx, fresh); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("revoked secret after reopen: err = %v, want ErrUnauthorized", err)
	}
}

func TestToken_DuplicateName(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	first := createToken(t, s, "alice")
	secret, err := s.CreateToken(ctx, "alice")
	if !errors.Is(err, ErrTokenExists) || secret != "" {
		t.Fatalf("CreateToken(duplicate) = %q, %v; want ErrTokenExists", secret, err)
	}
	if want := `token "alice" already exists; revoke it first`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if name, err := s.Authenticate(ctx, first); err != nil || name != "alice" {
		t.Errorf("first token after refused duplicate: %q, %v", name, err)
	}

	// Racing creators of one name: exactly one wins.
	var wg sync.WaitGroup
	wins := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			if secret, err := s.CreateToken(ctx, "racer"); err == nil {
				wins <- secret
			} else if !errors.Is(err, ErrTokenExists) {
				t.Errorf("CreateToken(racer): %v", err)
			}
		})
	}
	wg.Wait()
	close(wins)
	if n := len(wins); n != 1 {
		t.Errorf("%d concurrent CreateToken(racer) succeeded, want 1", n)
	}
}

func TestToken_BadName(t *testing.T) {
	s := newStore(t)
	for _, name := range []string{"", "has space", "new\nline", "ünicode", strings.Repeat("a", 65), "semi;colon", "owner"} {
		if _, err := s.CreateToken(context.Background(), name); err == nil {
			t.Errorf("CreateToken(%q) succeeded; want an invalid-name error", name)
		}
	}
	createToken(t, s, strings.Repeat("a", 64))
	createToken(t, s, "ci-bot_2.x")
}

func TestToken_List(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	clock := t0
	s.now = func() time.Time { return clock }

	alice := createToken(t, s, "alice")
	clock = clock.Add(time.Hour)
	createToken(t, s, "bob")
	clock = clock.Add(time.Hour)
	if err := s.RevokeToken(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, alice); err != nil {
		t.Fatal(err)
	}
	authAt := clock

	tokens, err := s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 2 {
		t.Fatalf("Tokens = %+v, want alice and bob", tokens)
	}
	a, b := tokens[0], tokens[1]
	if a.Name != "alice" || !a.CreatedAt.Equal(t0) || a.RevokedAt != nil || a.LastUsed == nil || !a.LastUsed.Equal(authAt) {
		t.Errorf("alice = %+v", a)
	}
	if b.Name != "bob" || !b.CreatedAt.Equal(t0.Add(time.Hour)) || b.RevokedAt == nil || !b.RevokedAt.Equal(authAt) || b.LastUsed != nil {
		t.Errorf("bob = %+v", b)
	}

	// LastUsed is written at most once a minute: authentication stays a read.
	clock = clock.Add(30 * time.Second)
	s.Authenticate(ctx, alice)
	if tokens, _ := s.Tokens(ctx); !tokens[0].LastUsed.Equal(authAt) {
		t.Errorf("LastUsed = %v after a use 30 s later, want unchanged %v", tokens[0].LastUsed, authAt)
	}
	clock = clock.Add(31 * time.Second)
	s.Authenticate(ctx, alice)
	if tokens, _ := s.Tokens(ctx); !tokens[0].LastUsed.Equal(clock) {
		t.Errorf("LastUsed = %v after a use 61 s later, want %v", tokens[0].LastUsed, clock)
	}
}

func TestToken_SecretNotStored(t *testing.T) {
	s := newStore(t)
	dir := s.dir
	secret := createToken(t, s, "alice")
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, TokenPrefix))
	hash := sha256.Sum256([]byte(secret))
	needles := map[string][]byte{
		"secret":         []byte(secret),
		"secret body":    []byte(strings.TrimPrefix(secret, TokenPrefix)),
		"raw secret":     raw,
		"hex raw secret": []byte(hex.EncodeToString(raw)),
	}

	// checkFiles fails if any file of the state directory holds a needle, and
	// reports whether the hash was found.
	checkFiles := func(when string) (hashFound bool) {
		t.Helper()
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for what, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("%s: %s holds the %s", when, filepath.Base(path), what)
				}
			}
			hashFound = hashFound || bytes.Contains(b, hash[:])
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return hashFound
	}
	if !checkFiles("while open") {
		t.Error("while open: the secret's SHA-256 is in no file; the test looked in the wrong place")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !checkFiles("after close") {
		t.Error("after close: the secret's SHA-256 is not in the database")
	}
	s = openAt(t, filepath.Join(dir, FileName))
	if name, err := s.Authenticate(context.Background(), secret); err != nil || name != "alice" {
		t.Errorf("Authenticate after reopen = %q, %v", name, err)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	var secret string
	for _, name := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"} {
		secret = createToken(b, s, name)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Authenticate(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
}
