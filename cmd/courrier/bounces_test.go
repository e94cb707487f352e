package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/bench"
	"github.com/courrier-dev/courrier/internal/bouncetest"
	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/templates"
)

// TestServeBounces wires courrier as `serve` does, with the bounce
// listener and the IMAP poller on: one email bounces back by SMTP through
// the relay, another by the bounce mailbox; both notices end on SMS.
func TestServeBounces(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	relay, err := bouncetest.NewRelay("")
	require.NoError(t, err)
	defer relay.Close()
	relay.SetStatus(func(rcpt string) (string, string) {
		if strings.HasPrefix(rcpt, "imap") {
			return "", "" // its bounce comes through the mailbox
		}
		return "5.1.1", "550 5.1.1 user unknown"
	})
	mbox, err := bouncetest.NewIMAPServer()
	require.NoError(t, err)
	defer mbox.Close()
	twilio, err := bench.StartTwilioSink()
	require.NoError(t, err)
	defer twilio.Close()

	vars := map[string]string{
		"SMTP_URL": "smtp://" + relay.Addr + "?tls=none", "SMTP_FROM": "Caf de Paris <ne-pas-repondre@caf.example.fr>",
		"TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef", "TWILIO_AUTH_TOKEN": "testtoken0123456789", "TWILIO_FROM": "CAF",
		"TWILIO_API_URL": twilio.URL, "COURRIER_OUTBOX": t.TempDir(),
		"COURRIER_BOUNCE_SECRET": "a bounce secret of 16+ bytes", "COURRIER_BOUNCE_DOMAIN": "bounce.caf.example",
		"COURRIER_BOUNCE_SMTP_ADDR":     "127.0.0.1:0",
		"COURRIER_BOUNCE_IMAP_URL":      "imap://" + mbox.Username + ":" + mbox.Password + "@" + mbox.Addr + "/INBOX?tls=none",
		"COURRIER_BOUNCE_IMAP_INTERVAL": "50ms",
	}
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] },
		Pool: pgtest.New(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	pool := env.Pool
	rt, err := env.newRuntime(ctx, pool, env.Logger, runtimeOpts{noQuietHours: true})
	require.NoError(t, err)
	defer rt.Close()
	app, err := env.newApp(ctx, pool, rt)
	require.NoError(t, err)
	require.NoError(t, app.client.Start(ctx))
	require.NoError(t, app.bounces.start(ctx))
	relay.SetBounceAddr(app.bounces.addr)
	defer func() {
		stopCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		app.bounces.stop(stopCtx)
		_ = app.client.Stop(stopCtx)
	}()

	enqueue := func(ref, email string) int64 {
		rid, _, err := recipients.Upsert(ctx, pool, &recipients.Recipient{Ref: ref, GivenName: "Léa", FamilyName: "Dupré",
			Email: email, Phone: "+33612345678", PhoneType: "mobile", ConsentEmail: true, ConsentSMS: true, Active: true})
		require.NoError(t, err)
		var nid int64
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			nid, _, err = jobs.EnqueueNotice(ctx, tx, app.client, notices.New{RecipientID: rid, Kind: notices.RightsOpened,
				IdempotencyKey: "bounce-" + ref, Data: templates.SampleData(string(notices.RightsOpened)), CreatedBy: "test"}, nil)
			return err
		}))
		return nid
	}
	bySMTP := enqueue("5000001", "smtp@exemple.fr")
	byIMAP := enqueue("5000002", "imap@exemple.fr")

	// The IMAP bounce: once its email is accepted, the mailbox receives a DSN.
	var imapDelivery int64
	waitFor(t, func() bool {
		return pool.QueryRow(ctx, `SELECT id FROM deliveries WHERE notice_id = $1 AND channel = 'email' AND state = 'delivered'`,
			byIMAP).Scan(&imapDelivery) == nil
	})
	verpAddr := app.bounces.s.verp.Address(imapDelivery)
	require.NoError(t, mbox.Append("INBOX", bouncetest.DSN(verpAddr, "imap@exemple.fr", "5.1.1", "550 5.1.1 no such user", []byte("Subject: x\r\n"))))

	for _, nid := range []int64{bySMTP, byIMAP} {
		waitFor(t, func() bool {
			var email, channel string
			err := pool.QueryRow(ctx, `SELECT d.state, n.channel FROM deliveries d JOIN notices n ON n.id = d.notice_id
				WHERE d.notice_id = $1 AND d.channel = 'email'`, nid).Scan(&email, &channel)
			return err == nil && email == "bounced" && channel == "sms"
		})
	}
	var bounced int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM delivery_events WHERE event = 'bounced'`).Scan(&bounced))
	require.Equal(t, 2, bounced)
	var metrics strings.Builder
	writeBounceMetrics(&metrics)
	require.Contains(t, metrics.String(), `courrier_bounce_reports{outcome="applied"} 2`)
	require.Contains(t, metrics.String(), `courrier_bounce_intake_messages{intake="imap",outcome="recorded"} 1`)
}

// waitFor polls cond until it holds (a minute at most: this is a wait for
// asynchronous work, not a timing assertion).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBounceSettings(t *testing.T) {
	t.Parallel()
	settings := func(vars map[string]string) (*bounceSettings, error) {
		return (&Env{Getenv: func(k string) string { return vars[k] }}).bounceSettings()
	}
	s, err := settings(nil)
	require.NoError(t, err)
	require.Nil(t, s, "nothing configured")
	require.False(t, s.intake())
	require.Nil(t, s.returnPath())

	_, err = settings(map[string]string{"COURRIER_BOUNCE_SECRET": "0123456789abcdef"})
	require.ErrorContains(t, err, "COURRIER_BOUNCE_DOMAIN")
	_, err = settings(map[string]string{"COURRIER_BOUNCE_SECRET": "short", "COURRIER_BOUNCE_DOMAIN": "b.example"})
	require.ErrorContains(t, err, "16 bytes")
	_, err = settings(map[string]string{"COURRIER_BOUNCE_SMTP_ADDR": ":25", "MAILGUN_WEBHOOK_SIGNING_KEY": "k"})
	require.ErrorContains(t, err, "need COURRIER_BOUNCE_SECRET")
	_, err = settings(map[string]string{"COURRIER_BOUNCE_SECRET": "0123456789abcdef", "COURRIER_BOUNCE_DOMAIN": "b.example",
		"COURRIER_BOUNCE_IMAP_URL": "imap://u:p@host/INBOX"})
	require.ErrorContains(t, err, "tls=starttls")

	s, err = settings(map[string]string{"COURRIER_BOUNCE_SECRET": "0123456789abcdef", "COURRIER_BOUNCE_DOMAIN": "b.example",
		"COURRIER_BOUNCE_IMAP_URL": "imaps://bounces:p%40ss@imap.example/Bounces?move=Done"})
	require.NoError(t, err)
	require.True(t, s.intake())
	require.Equal(t, "imap.example:993", s.imap.Addr)
	require.Equal(t, "p@ss", s.imap.Password)
	require.Equal(t, "Bounces", s.imap.Mailbox)
	require.Equal(t, "Done", s.imap.MoveTo)
	require.Equal(t, "tls", s.imap.Security)
	require.True(t, strings.HasPrefix(s.returnPath()(42), "bounces+d42."))
}

func TestBounceCheckCommand(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	env := &Env{Stdout: &out, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	require.NoError(t, runBounce(context.Background(), env, []string{"check",
		"../../channels/bounce/testdata/corpus/gmail-no-such-user.eml", "../../channels/bounce/testdata/corpus/delayed.eml"}))
	require.Contains(t, out.String(), "gmail-no-such-user.eml: bounce format=dsn class=hard")
	require.Contains(t, out.String(), `rule="status 5.1.1"`)
	require.Contains(t, out.String(), "delayed.eml: ignored format=dsn why=delayed")
	require.Error(t, runBounce(context.Background(), env, []string{"check"}))
}
