package staff

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Login errors. The console shows the same message for both wrong
// credentials and a disabled or unknown account, so that it tells an
// attacker nothing.
var (
	ErrInvalidCredentials = errors.New("invalid login, password or code")
	ErrLocked             = errors.New("account locked after repeated failures: try again later")
)

// Beginner opens transactions (a pgxpool.Pool).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// dummyHash is checked against when the login is unknown, so that an
// unknown login takes as long to refuse as a wrong password.
var dummyHash, _ = HashPassword("courrier-dummy-password")

// Login checks login, password and TOTP code at now and opens a session.
// A code is accepted once: a code of a time step already used (by this or an
// earlier login) is refused. After p.MaxFailures failures in a row the
// account is locked for p.LockFor, whatever is then presented. Every
// attempt, failed or not, is recorded in the action log.
func Login(ctx context.Context, db Beginner, login, password, code string, now time.Time, p Policy) (*Session, error) {
	p = p.WithDefaults()
	login = strings.ToLower(strings.TrimSpace(login))
	var sess *Session
	var result error
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var a Account
		var role, hash, secret string
		var lastStep int64
		var failed int
		var disabled bool
		err := tx.QueryRow(ctx, `
			SELECT id, login, display_name, role, password_hash, totp_secret, totp_last_step, failed_logins,
			       locked_until, disabled_at IS NOT NULL, created_at, last_login_at
			FROM staff_accounts WHERE login = $1 FOR UPDATE`, login).Scan(
			&a.ID, &a.Login, &a.DisplayName, &role, &hash, &secret, &lastStep, &failed,
			&a.LockedUntil, &disabled, &a.CreatedAt, &a.LastLoginAt)
		if errors.Is(err, pgx.ErrNoRows) {
			_, _ = CheckPassword(dummyHash, password)
			result = ErrInvalidCredentials
			return recordUnknown(ctx, tx, login)
		}
		if err != nil {
			return fmt.Errorf("load staff account: %w", err)
		}
		a.Role = Role(role)
		if disabled {
			result = ErrInvalidCredentials
			return Record(ctx, tx, &a, "login_refused", "", "account disabled")
		}
		if a.LockedUntil != nil && now.Before(*a.LockedUntil) {
			result = ErrLocked
			return Record(ctx, tx, &a, "login_refused", "", "account locked")
		}
		okPass, err := CheckPassword(hash, password)
		if err != nil {
			return fmt.Errorf("staff account %d: %w", a.ID, err)
		}
		step, okCode := checkCode(secret, code, now, lastStep)
		if !okPass || !okCode {
			failed++
			detail := fmt.Sprintf("failure %d of %d", failed, p.MaxFailures)
			var locked *time.Time
			result = ErrInvalidCredentials
			if failed >= p.MaxFailures {
				until := now.Add(p.LockFor)
				locked, failed, result = &until, 0, ErrLocked
				detail += ": locked until " + until.UTC().Format(time.RFC3339)
			}
			if _, err := tx.Exec(ctx, `UPDATE staff_accounts SET failed_logins = $2, locked_until = coalesce($3, locked_until)
				WHERE id = $1`, a.ID, failed, locked); err != nil {
				return err
			}
			return Record(ctx, tx, &a, "login_failed", "", detail)
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_accounts SET failed_logins = 0, locked_until = NULL, totp_last_step = $2,
			last_login_at = $3 WHERE id = $1`, a.ID, step, now); err != nil {
			return err
		}
		a.LockedUntil = nil
		if sess, err = newSession(ctx, tx, &a, now, p); err != nil {
			return err
		}
		return Record(ctx, tx, &a, "login", "", "")
	})
	if err != nil {
		return nil, err
	}
	return sess, result
}

// totpOpts are the usual authenticator-app settings (RFC 6238 defaults).
var totpOpts = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// checkCode reports whether code is the TOTP code of secret for the time
// step of now or an adjacent one (clock drift), and that step is after
// lastStep (no replay). It returns the step matched.
func checkCode(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	cur := now.Unix() / 30
	for _, s := range []int64{cur - 1, cur, cur + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*30, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s, s > lastStep
		}
	}
	return 0, false
}

// Code returns the current TOTP code of secret (for tests and tools).
func Code(secret string, at time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, at, totpOpts)
}
