package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// TokenPrefix starts every token secret, so that a leaked one is recognisable
// (by a person or a secret scanner). The rest is 32 random bytes, base64url
// without padding: the whole secret is URL-safe.
const TokenPrefix = "berth_"

// lastUsedGranularity bounds how often Authenticate writes Token.LastUsed:
// authentication happens on every request and must stay a read.
const lastUsedGranularity = time.Minute

const maxTokenName = 64

// ReservedTokenName cannot name a token: it is the user the API server
// reports for the Unix socket and for the token berth prints at start
// (server.OwnerUser), and a token must not be able to pass for that user.
const ReservedTokenName = "owner"

// Token is a named user of the API. Its secret is not kept.
type Token struct {
	Name      string
	CreatedAt time.Time
	RevokedAt *time.Time // nil while the token is active
	LastUsed  *time.Time // nil if never used; updated at most once a minute
}

// TokenExistsError is returned by CreateToken for the name of an active
// token. It matches ErrTokenExists.
type TokenExistsError struct {
	Name string
}

func (e *TokenExistsError) Error() string {
	return fmt.Sprintf("token %q already exists; revoke it first", e.Name)
}

// Is makes errors.Is(err, ErrTokenExists) true.
func (e *TokenExistsError) Is(target error) bool { return target == ErrTokenExists }

// validTokenName reports whether name can name a token: 1 to 64 ASCII
// letters, digits, '.', '_', '-' or '@'. Names show up in job history,
// notifications and logs, so they are kept plain.
func validTokenName(name string) bool {
	if len(name) == 0 || len(name) > maxTokenName {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '-', c == '@':
		default:
			return false
		}
	}
	return true
}

// CreateToken creates an active token for name and returns its secret, which
// is shown to the user once and is not stored: only its SHA-256 is. A name is
// unique among active tokens: for the name of an active token CreateToken
// returns a *TokenExistsError; a revoked token's name can be reused.
func (s *Store) CreateToken(ctx context.Context, name string) (secret string, err error) {
	if !validTokenName(name) {
		return "", fmt.Errorf("create token %q: a name is 1 to %d letters, digits, '.', '_', '-' or '@'", name, maxTokenName)
	}
	if name == ReservedTokenName {
		return "", fmt.Errorf("create token %q: the name is reserved for the user who started berth", name)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("create token %q: %w", name, err)
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	hash := sha256.Sum256([]byte(secret))
	now := s.now()
	err = s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx,
			`SELECT count(*) FROM tokens WHERE name = ? AND revoked_at IS NULL`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &TokenExistsError{Name: name}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (name, hash, created_at) VALUES (?, ?, ?)`,
			name, hash[:], dbTime(now))
		return err
	})
	var exists *TokenExistsError
	if errors.As(err, &exists) {
		return "", err // already says what and which
	}
	if err != nil {
		return "", fmt.Errorf("create token %q: %w", name, err)
	}
	return secret, nil
}

// Tokens returns every token, active and revoked, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, created_at, revoked_at, last_used FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var tokens []Token
	for rows.Next() {
		var (
			t                      Token
			created, revoked, used sql.NullInt64
		)
		if err := rows.Scan(&t.Name, &created, &revoked, &used); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.CreatedAt, t.RevokedAt, t.LastUsed = goTime(created), goTimePtr(revoked), goTimePtr(used)
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return tokens, nil
}

// RevokeToken revokes the active token called name: Authenticate refuses it
// from then on. It fails with ErrNotFound if no active token has that name.
func (s *Store) RevokeToken(ctx context.Context, name string) error {
	now := s.now()
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL`, dbTime(now), name)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke token %q: %w", name, err)
	}
	return nil
}

// Authenticate returns the name of the active token whose secret is secret,
// and records its use. It fails with ErrUnauthorized if there is none (an
// unknown, malformed or revoked secret). The secret's hash is compared with
// every active token's in constant time, without stopping at a match.
func (s *Store) Authenticate(ctx context.Context, secret string) (name string, err error) {
	if secret == "" {
		return "", fmt.Errorf("authenticate: %w", ErrUnauthorized)
	}
	hash := sha256.Sum256([]byte(secret))
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, hash, last_used FROM tokens WHERE revoked_at IS NULL`)
	if err != nil {
		return "", fmt.Errorf("authenticate: %w", err)
	}
	defer rows.Close()
	var (
		matchID   int64
		matchUsed sql.NullInt64
		found     int
	)
	for rows.Next() {
		var (
			id   int64
			n    string
			h    []byte
			used sql.NullInt64
		)
		if err := rows.Scan(&id, &n, &h, &used); err != nil {
			return "", fmt.Errorf("authenticate: %w", err)
		}
		eq := subtle.ConstantTimeCompare(hash[:], h)
		if eq == 1 {
			matchID, name, matchUsed = id, n, used
		}
		found |= eq
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("authenticate: %w", err)
	}
	rows.Close()
	if found == 0 {
		return "", fmt.Errorf("authenticate: %w", ErrUnauthorized)
	}
	now := s.now()
	if !matchUsed.Valid || now.Sub(goTime(matchUsed)) >= lastUsedGranularity {
		err := s.write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used = ? WHERE id = ?`, dbTime(now), matchID)
			return err
		})
		if err != nil {
			return "", fmt.Errorf("authenticate %q: record use: %w", name, err)
		}
	}
	return name, nil
}
