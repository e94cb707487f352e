package jobs

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
)

// quotingRelay is a real SMTP server that rejects every recipient with a
// reply quoting credentials, an address and a phone number, as some relays
// do.
type quotingRelay struct{}

func (quotingRelay) NewSession(*smtp.Conn) (smtp.Session, error) { return quotingSession{}, nil }

type quotingSession struct{}

func (quotingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (quotingSession) Rcpt(string, *smtp.RcptOptions) error {
	return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
		Message: "Authentication failed for AUTH PLAIN AGNsYWlyZQBzM2NyZXQ= (lea.dupre@exemple.fr, +33612345678)"}
}
func (quotingSession) Data(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
func (quotingSession) Reset()                 {}
func (quotingSession) Logout() error          { return nil }

func TestCredentialQuotingReplyIsNotSealed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := smtp.NewServer(quotingRelay{})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	email, err := channels.NewEmail(channels.EmailConfig{URL: "smtp://" + l.Addr().String() + "?tls=none", From: "Caf <ne-pas-repondre@caf.fr>", Connections: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = email.Close() })
	b.deps.Channels[channels.Email] = email

	rid := b.recipient(t, "1000020", nil)
	id, _ := b.enqueue(t, rightsNotice(rid, "k-quoting"))
	err = b.deps.deliver(ctx, id, true)
	if err != nil {
		require.False(t, errors.Is(err, context.Canceled))
	}
	var details, errs, facts string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT string_agg(detail || ' ' || error_code || ' ' || provider_status, ' | ' ORDER BY id), string_agg(facts::text, ' ')
		FROM delivery_events WHERE notice_id = $1`, id).Scan(&details, &facts))
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT string_agg(error, ' ') FROM deliveries WHERE notice_id = $1`, id).Scan(&errs))
	require.Contains(t, details, "535", "the status code is kept")
	require.Contains(t, details, "5.7.8", "the enhanced status code is kept")
	for _, secret := range []string{"AGNsYWlyZQBzM2NyZXQ", "lea.dupre", "612345678", "AUTH PLAIN"} {
		require.NotContains(t, details, secret)
		require.NotContains(t, facts, secret)
		require.NotContains(t, errs, secret)
	}
	evs, err := ledger.EventsForNotice(ctx, b.pool, id)
	require.NoError(t, err)
	var failed int
	for _, e := range evs {
		if e.Event == ledger.StateFailed {
			failed++
		}
	}
	require.Equal(t, 1, failed, "the rejection is recorded once, reduced")
	n, err := notices.Get(ctx, b.pool, id)
	require.NoError(t, err)
	require.NotEqual(t, "email", n.Channel, "the rejected channel did not deliver")
}
