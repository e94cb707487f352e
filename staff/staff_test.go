package staff

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery")
	require.NoError(t, err)
	require.Regexp(t, `^\$argon2id\$v=19\$m=19456,t=2,p=1\$`, h)
	ok, err := CheckPassword(h, "correct horse battery")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = CheckPassword(h, "correct horse batterY")
	require.NoError(t, err)
	require.False(t, ok)
	_, err = CheckPassword("$2a$10$bcrypt", "x")
	require.Error(t, err)
}

func TestRoles(t *testing.T) {
	t.Parallel()
	require.True(t, RoleAgent.Can(PermSend))
	require.False(t, RoleAgent.Can(PermRunCampaigns))
	require.True(t, RoleOperator.Can(PermRunCampaigns))
	require.False(t, RoleOperator.Can(PermApprove))
	require.True(t, RoleApprover.Can(PermApprove))
	require.False(t, RoleAuditor.Can(PermSend), "auditors read only")
	require.True(t, RoleAuditor.Can(PermCompliance))
	require.True(t, RoleAdmin.Can(PermAccounts))
	require.False(t, Role("root").Valid())
}

func TestLoginTOTPSessionsLockout(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	now := time.Date(2027, 3, 12, 9, 0, 0, 0, time.UTC)
	p := Policy{}.WithDefaults()

	c, err := Create(ctx, db, NewAccount{Login: "Agent.Dupont", DisplayName: "Agent Dupont", Role: RoleAgent, CreatedBy: "cli"})
	require.NoError(t, err)
	require.Equal(t, "agent.dupont", c.Account.Login)
	require.NotEmpty(t, c.Password, "generated")
	require.Contains(t, c.TOTPURL, "otpauth://totp/")
	_, err = Create(ctx, db, NewAccount{Login: "agent.dupont", Role: RoleAgent})
	require.ErrorIs(t, err, ErrExists)
	_, err = Create(ctx, db, NewAccount{Login: "x", Role: "root"})
	require.ErrorContains(t, err, "role")
	_, err = Create(ctx, db, NewAccount{Login: "y", Role: RoleAgent, Password: "short"})
	require.ErrorContains(t, err, "password")

	code, err := Code(c.TOTPSecret, now)
	require.NoError(t, err)
	_, err = Login(ctx, db, "agent.dupont", "wrong password!", code, now, p)
	require.ErrorIs(t, err, ErrInvalidCredentials)
	_, err = Login(ctx, db, "agent.dupont", c.Password, "000000", now, p)
	require.ErrorIs(t, err, ErrInvalidCredentials)
	_, err = Login(ctx, db, "nobody", c.Password, code, now, p)
	require.ErrorIs(t, err, ErrInvalidCredentials)

	s, err := Login(ctx, db, "AGENT.DUPONT", c.Password, code, now, p)
	require.NoError(t, err)
	require.Equal(t, RoleAgent, s.Account.Role)
	require.True(t, s.CheckCSRF(s.CSRF))
	require.False(t, s.CheckCSRF(""))
	require.False(t, s.CheckCSRF("forged"))

	_, err = Login(ctx, db, "agent.dupont", c.Password, code, now.Add(10*time.Second), p)
	require.ErrorIs(t, err, ErrInvalidCredentials, "the same code is refused a second time")

	got, err := Lookup(ctx, db, s.Token, now.Add(29*time.Minute), p)
	require.NoError(t, err)
	require.Equal(t, s.Account.ID, got.Account.ID)
	got, err = Lookup(ctx, db, s.Token, now.Add(58*time.Minute), p)
	require.NoError(t, err, "29 minutes after the last request")
	_, err = Lookup(ctx, db, s.Token, now.Add(90*time.Minute), p)
	require.ErrorIs(t, err, ErrNoSession, "idle for 32 minutes")
	_, err = Lookup(ctx, db, "forged", now, p)
	require.ErrorIs(t, err, ErrNoSession)

	// Absolute expiry: active every 20 minutes, still ends after 8 h.
	code2, _ := Code(c.TOTPSecret, now.Add(time.Minute))
	s2, err := Login(ctx, db, "agent.dupont", c.Password, code2, now.Add(time.Minute), p)
	require.NoError(t, err)
	at := now.Add(time.Minute)
	for at.Before(now.Add(8*time.Hour - 20*time.Minute)) {
		at = at.Add(20 * time.Minute)
		_, err = Lookup(ctx, db, s2.Token, at, p)
		require.NoError(t, err, at)
	}
	_, err = Lookup(ctx, db, s2.Token, now.Add(8*time.Hour+2*time.Minute), p)
	require.ErrorIs(t, err, ErrNoSession)
	require.NoError(t, Logout(ctx, db, got))
	_, err = Lookup(ctx, db, s.Token, now.Add(59*time.Minute), p)
	require.ErrorIs(t, err, ErrNoSession, "logged out")

	// Lockout: 5 failures lock, even the right credentials are then refused.
	later := now.Add(2 * time.Hour)
	for i := 0; i < 4; i++ {
		_, err = Login(ctx, db, "agent.dupont", "wrong password!", "", later, p)
		require.ErrorIs(t, err, ErrInvalidCredentials)
	}
	_, err = Login(ctx, db, "agent.dupont", "wrong password!", "", later, p)
	require.ErrorIs(t, err, ErrLocked)
	good, _ := Code(c.TOTPSecret, later.Add(time.Minute))
	_, err = Login(ctx, db, "agent.dupont", c.Password, good, later.Add(time.Minute), p)
	require.ErrorIs(t, err, ErrLocked)
	good, _ = Code(c.TOTPSecret, later.Add(16*time.Minute))
	_, err = Login(ctx, db, "agent.dupont", c.Password, good, later.Add(16*time.Minute), p)
	require.NoError(t, err, "the lock expires")

	// Disabled: refused, sessions ended.
	s3, err := Lookup(ctx, db, s2.Token, now.Add(2*time.Minute), p)
	require.NoError(t, err)
	_, err = Disable(ctx, db, "agent.dupont", "admin")
	require.NoError(t, err)
	_, err = Lookup(ctx, db, s3.Token, now.Add(3*time.Minute), p)
	require.ErrorIs(t, err, ErrNoSession)

	acts, err := Actions(ctx, db, "agent.dupont", 100)
	require.NoError(t, err)
	require.Equal(t, "account_disabled", acts[0].Action)
	var kinds []string
	for _, a := range acts {
		kinds = append(kinds, a.Action)
	}
	require.Contains(t, kinds, "login_failed")
	require.Contains(t, kinds, "login")
	require.Contains(t, kinds, "logout")
	_, err = db.Exec(ctx, `DELETE FROM staff_actions`)
	require.ErrorContains(t, err, "append-only")
}
