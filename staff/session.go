package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Policy is how long sessions last and when accounts lock.
type Policy struct {
	Absolute    time.Duration // a session ends this long after login (default 8 h)
	Idle        time.Duration // or after this long without a request (default 30 min)
	MaxFailures int           // failed logins in a row before the account locks (default 5)
	LockFor     time.Duration // how long it stays locked (default 15 min)
}

// WithDefaults fills the zero fields of p.
func (p Policy) WithDefaults() Policy {
	if p.Absolute <= 0 {
		p.Absolute = 8 * time.Hour
	}
	if p.Idle <= 0 {
		p.Idle = 30 * time.Minute
	}
	if p.MaxFailures <= 0 {
		p.MaxFailures = 5
	}
	if p.LockFor <= 0 {
		p.LockFor = 15 * time.Minute
	}
	return p
}

// Session is a logged-in account. Token goes in the session cookie; CSRF
// must come back with every form the session posts.
type Session struct {
	Token     string
	CSRF      string
	Account   *Account
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CheckCSRF reports whether token is the session's CSRF token.
func (s *Session) CheckCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

// ErrNoSession is returned for a missing, unknown, ended or expired session.
var ErrNoSession = errors.New("no valid session")

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func newSession(ctx context.Context, db DBTX, a *Account, now time.Time, p Policy) (*Session, error) {
	tok, err := randomToken()
	if err != nil {
		return nil, err
	}
	csrf, err := randomToken()
	if err != nil {
		return nil, err
	}
	s := &Session{Token: tok, CSRF: csrf, Account: a, CreatedAt: now, ExpiresAt: now.Add(p.Absolute)}
	_, err = db.Exec(ctx, `INSERT INTO staff_sessions (token_hash, account_id, csrf_token, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $4, $5)`, tokenHash(tok), a.ID, csrf, now, s.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	return s, nil
}

// touchEvery throttles the last_seen_at writes of a busy session.
const touchEvery = time.Minute

// Lookup returns the session of token at now, if it is still valid: not
// ended, within its absolute and idle limits, and its account not disabled.
// It records the request for the idle limit.
func Lookup(ctx context.Context, db DBTX, token string, now time.Time, p Policy) (*Session, error) {
	p = p.WithDefaults()
	if token == "" {
		return nil, ErrNoSession
	}
	s := &Session{Token: token}
	var lastSeen time.Time
	var role string
	a := &Account{}
	err := db.QueryRow(ctx, `
		SELECT s.csrf_token, s.created_at, s.expires_at, s.last_seen_at,
		       a.id, a.login, a.display_name, a.role, a.locked_until, a.created_at, a.last_login_at
		FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account_id
		WHERE s.token_hash = $1 AND s.ended_at IS NULL AND a.disabled_at IS NULL`, tokenHash(token)).Scan(
		&s.CSRF, &s.CreatedAt, &s.ExpiresAt, &lastSeen,
		&a.ID, &a.Login, &a.DisplayName, &role, &a.LockedUntil, &a.CreatedAt, &a.LastLoginAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	a.Role = Role(role)
	s.Account = a
	if !now.Before(s.ExpiresAt) || now.Sub(lastSeen) >= p.Idle {
		return nil, ErrNoSession
	}
	if now.Sub(lastSeen) >= touchEvery {
		if _, err := db.Exec(ctx, `UPDATE staff_sessions SET last_seen_at = $2 WHERE token_hash = $1`, tokenHash(token), now); err != nil {
			return nil, fmt.Errorf("touch session: %w", err)
		}
	}
	return s, nil
}

// Logout ends session s.
func Logout(ctx context.Context, db DBTX, s *Session) error {
	if _, err := db.Exec(ctx, `UPDATE staff_sessions SET ended_at = now() WHERE token_hash = $1 AND ended_at IS NULL`,
		tokenHash(s.Token)); err != nil {
		return fmt.Errorf("log out: %w", err)
	}
	return Record(ctx, db, s.Account, "logout", "", "")
}
