package jobs

import (
	"bytes"
	"context"
	"net"
	"net/smtp"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/channels/bounce"
	"github.com/courrier-dev/courrier/internal/bouncetest"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
)

type bounceBundle struct {
	*testBundle
	verp     *bounce.VERP
	rec      *Bounces
	listener *bounce.Server
	addr     string // the listener's
	relay    *bouncetest.Relay
}

// setupBounces wires courrier's email channel to a relay that cannot
// deliver and returns DSNs to courrier's own bounce listener.
func setupBounces(t *testing.T) *bounceBundle {
	t.Helper()
	b := &bounceBundle{testBundle: setup(t)}
	var err error
	b.verp, err = bounce.NewVERP("bounces", "bounce.caf.example", []byte("a bounce secret for tests"))
	require.NoError(t, err)
	b.rec = &Bounces{Pool: b.pool, VERP: b.verp, Fallback: FallbackAfterReceipt(b.client), FallbackMany: FallbackMany(b.client), Now: func() time.Time { return b.now }}
	b.listener, err = bounce.NewServer(bounce.ServerConfig{VERP: b.verp, Handler: b.rec.Handle, Timeout: 30 * time.Second})
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b.addr = l.Addr().String()
	go func() { _ = b.listener.Serve(l) }()
	t.Cleanup(func() { b.listener.Close() })

	b.relay, err = bouncetest.NewRelay(b.addr)
	require.NoError(t, err)
	t.Cleanup(func() { b.relay.Close() })
	email, err := channels.NewEmail(channels.EmailConfig{
		URL: "smtp://" + b.relay.Addr + "?tls=none", From: "Caf de Paris <ne-pas-repondre@caf.example.fr>",
		ReturnPath: b.verp.Address,
	})
	require.NoError(t, err)
	t.Cleanup(func() { email.Close() })
	b.deps.Channels[channels.Email] = email
	return b
}

func (b *bounceBundle) waitDSN(t *testing.T) bouncetest.Sent {
	t.Helper()
	select {
	case s := <-b.relay.Done:
		require.NoError(t, s.Err, "the listener took the DSN")
		return s
	case <-time.After(time.Minute):
		t.Fatal("the relay sent no DSN")
	}
	return bouncetest.Sent{}
}

type eventRow struct{ Event, ErrorCode, Detail string }

func events(t *testing.T, b *testBundle, deliveryID int64) []eventRow {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT event, error_code, detail FROM delivery_events WHERE delivery_id = $1 ORDER BY id`, deliveryID)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[eventRow])
	require.NoError(t, err)
	return out
}

func emailDelivery(t *testing.T, b *testBundle, noticeID int64) ledger.Delivery {
	t.Helper()
	ds, err := ledger.DeliveriesForNotice(context.Background(), b.pool, noticeID)
	require.NoError(t, err)
	for _, d := range ds {
		if d.Channel == "email" {
			return d
		}
	}
	t.Fatal("no email delivery")
	return ledger.Delivery{}
}

// TestBounceEndToEnd: courrier sends through a relay that cannot deliver;
// the relay's RFC 3464 report reaches courrier's listener at the VERP
// address; the delivery is bounced, the address undeliverable, and the
// notice ends on the next channel of its route (SMS).
func TestBounceEndToEnd(t *testing.T) {
	t.Parallel()
	b := setupBounces(t)
	ctx := context.Background()
	rid := b.recipient(t, "2000001", nil)
	nid, _ := b.enqueue(t, rightsNotice(rid, "bounce-e2e"))

	require.NoError(t, b.deps.deliver(ctx, nid, false))
	sent := b.waitDSN(t)
	id, err := b.verp.Parse(sent.ReturnPath)
	require.NoError(t, err)

	d := emailDelivery(t, b.testBundle, nid)
	require.Equal(t, id, d.ID, "the return path names the delivery")
	require.Equal(t, ledger.StateBounced, d.State)
	require.Equal(t, "5.1.1", d.ErrorCode)
	var reply string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT relay_reply FROM deliveries WHERE id = $1`, d.ID).Scan(&reply))
	require.Equal(t, "250 2.0.0 OK: queued", reply, "proof of handover on the delivery")

	evs := events(t, b.testBundle, d.ID)
	var names []string
	for _, e := range evs {
		names = append(names, e.Event)
	}
	require.Equal(t, []string{"sending", "delivered", "bounced"}, names)
	require.Equal(t, "smtp_accepted: 250 2.0.0 OK: queued", evs[1].Detail, "proof of handover in the ledger")
	require.Contains(t, evs[2].Detail, "hard bounce (dsn, status 5.1.1)")
	require.NotContains(t, evs[2].Detail, "@", "no address in the ledger")

	var status string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT email_status FROM recipients WHERE id = $1`, rid).Scan(&status))
	require.Equal(t, "undeliverable", status)
	require.Equal(t, 2, countJobs(t, b.pool, "deliver"), "one fallback job")

	// The fallback job runs: the notice goes out by SMS.
	require.NoError(t, b.deps.deliver(ctx, nid, false))
	n, err := notices.Get(ctx, b.pool, nid)
	require.NoError(t, err)
	require.Equal(t, "sms", n.Channel)

	// The relay retries its DSN: nothing is appended, nothing enqueued.
	require.NoError(t, b.relay.Resend(sent))
	require.Len(t, events(t, b.testBundle, d.ID), 3)
	require.Equal(t, 2, countJobs(t, b.pool, "deliver"))
	require.EqualValues(t, 1, b.rec.Duplicate.Load())

	// A late "delivered" never overwrites bounced.
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		out, err := ledger.RecordReceipt(ctx, tx, ledger.Receipt{Provider: "smtp", MessageID: d.ProviderMessageID, Status: "delivered"})
		require.True(t, out.Known)
		require.Equal(t, ledger.StateBounced, out.State)
		return err
	}))
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		state, err := ledger.Accepted(ctx, tx, d.ID, nid, d.ProviderMessageID, true, "smtp_accepted", b.now)
		require.Equal(t, ledger.StateBounced, state)
		return err
	}))
	require.Equal(t, ledger.StateBounced, emailDelivery(t, b.testBundle, nid).State)
	n, err = notices.Get(ctx, b.pool, nid)
	require.NoError(t, err)
	require.Equal(t, "sms", n.Channel)
}

// TestBounceForgedVERP: a return path whose tag does not verify is refused
// at RCPT and counted; nothing is written.
func TestBounceForgedVERP(t *testing.T) {
	t.Parallel()
	b := setupBounces(t)
	ctx := context.Background()
	rid := b.recipient(t, "2000002", nil)
	nid, _ := b.enqueue(t, rightsNotice(rid, "bounce-forged"))
	require.NoError(t, b.deps.deliver(ctx, nid, false))
	real := b.waitDSN(t) // the real bounce for this delivery
	d := emailDelivery(t, b.testBundle, nid)

	forged := b.verp.Address(d.ID + 1)
	forged = forged[:len(forged)-len("@bounce.caf.example")-1] + "x@bounce.caf.example"
	err := bouncetest.Deliver(b.addr, forged, real.DSN, 1)
	require.Error(t, err)
	require.Contains(t, err.Error(), "550")
	require.EqualValues(t, 1, b.listener.Forged.Load())

	c, err := smtp.Dial(b.addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Mail(""))
	require.ErrorContains(t, c.Rcpt("postmaster@bounce.caf.example"), "550")
	require.EqualValues(t, 1, b.listener.Refused.Load())

	// Through IMAP (headers only): the forged tag is ignored and counted.
	before := len(events(t, b.testBundle, d.ID))
	require.NoError(t, b.rec.Handle(ctx, bounce.Inbound{Raw: bouncetest.DSN(forged, "x@example.org", "5.1.1", "550 5.1.1 unknown", nil)}))
	require.EqualValues(t, 1, b.rec.Forged.Load())
	require.Len(t, events(t, b.testBundle, d.ID), before)
}

// TestBounceSoftThresholdAndComplaint: soft bounces suspend the address at
// the threshold; a complaint appends complained and opts the beneficiary
// out of non-legal mail.
func TestBounceSoftThresholdAndComplaint(t *testing.T) {
	t.Parallel()
	b := setupBounces(t)
	ctx := context.Background()
	b.rec.SoftThreshold = 2
	b.relay.SetStatus(func(string) (string, string) { return "5.2.2", "552 5.2.2 Boite pleine" })
	rid := b.recipient(t, "2000003", nil)
	for i, key := range []string{"soft-1", "soft-2"} {
		nid, _ := b.enqueue(t, rightsNotice(rid, key))
		require.NoError(t, b.deps.deliver(ctx, nid, false))
		b.waitDSN(t)
		d := emailDelivery(t, b.testBundle, nid)
		require.Equal(t, ledger.StateUndelivered, d.State)
		evs := events(t, b.testBundle, d.ID)
		require.Equal(t, ledger.EventSoftBounced, evs[len(evs)-1].Event)
		var status string
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT email_status FROM recipients WHERE id = $1`, rid).Scan(&status))
		if i == 0 {
			require.Equal(t, "ok", status, "one soft bounce is below the threshold")
		} else {
			require.Equal(t, "suspended", status)
		}
	}

	// Outside the window, soft bounces do not add up.
	b.rec.SoftWindow = time.Hour
	rid3 := b.recipient(t, "2000007", func(r *recipients.Recipient) { r.Email = "lent@exemple.fr" })
	for _, key := range []string{"window-1", "window-2"} {
		nid, _ := b.enqueue(t, rightsNotice(rid3, key))
		require.NoError(t, b.deps.deliver(ctx, nid, false))
		b.waitDSN(t)
		b.now = b.now.Add(2 * time.Hour)
	}
	var status3 string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT email_status FROM recipients WHERE id = $1`, rid3).Scan(&status3))
	require.Equal(t, "ok", status3, "two soft bounces two hours apart, window one hour")

	// A complaint about an email that reached its mailbox.
	b.relay.SetStatus(func(string) (string, string) { return "", "" })
	rid2 := b.recipient(t, "2000004", func(r *recipients.Recipient) { r.Email = "autre@exemple.fr" })
	nid, _ := b.enqueue(t, rightsNotice(rid2, "complaint"))
	require.NoError(t, b.deps.deliver(ctx, nid, false))
	d := emailDelivery(t, b.testBundle, nid)
	require.Equal(t, ledger.StateDelivered, d.State)
	arf, err := os.ReadFile("../channels/bounce/testdata/corpus/arf-complaint.eml")
	require.NoError(t, err)
	arf = bytes.ReplaceAll(arf, []byte("bounces+d109.aaaaaaaaaaaaa@bounce.caf.example"), []byte(b.verp.Address(d.ID)))
	for range 2 {
		require.NoError(t, b.rec.Handle(ctx, bounce.Inbound{Raw: arf}))
	}
	evs := events(t, b.testBundle, d.ID)
	require.Equal(t, ledger.EventComplained, evs[len(evs)-1].Event)
	require.Equal(t, ledger.StateDelivered, emailDelivery(t, b.testBundle, nid).State, "a complaint proves delivery")
	n := 0
	for _, e := range evs {
		if e.Event == ledger.EventComplained {
			n++
		}
	}
	require.Equal(t, 1, n, "one complained event however many reports")
	var optOut bool
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT outreach_opt_out FROM recipients WHERE id = $1`, rid2).Scan(&optOut))
	require.True(t, optOut)
}

// TestPresumeDelivered: after the quiet period an accepted email without
// bounce is presumed delivered, once; a bounced one never is.
func TestPresumeDelivered(t *testing.T) {
	t.Parallel()
	b := setupBounces(t)
	ctx := context.Background()
	b.relay.SetStatus(func(rcpt string) (string, string) {
		if rcpt == "bounce@exemple.fr" {
			return "5.1.1", "550 5.1.1 unknown"
		}
		return "", ""
	})
	ok := b.recipient(t, "2000005", func(r *recipients.Recipient) { r.Email = "ok@exemple.fr" })
	bad := b.recipient(t, "2000006", func(r *recipients.Recipient) { r.Email = "bounce@exemple.fr" })
	nOK, _ := b.enqueue(t, rightsNotice(ok, "presume-ok"))
	nBad, _ := b.enqueue(t, rightsNotice(bad, "presume-bad"))
	require.NoError(t, b.deps.deliver(ctx, nOK, false))
	require.NoError(t, b.deps.deliver(ctx, nBad, false))
	b.waitDSN(t)

	n, err := ledger.PresumeDelivered(ctx, b.pool, 72*time.Hour, b.now.Add(71*time.Hour), 0)
	require.NoError(t, err)
	require.Zero(t, n, "still within the quiet period")
	w := &PresumeWorker{Pool: b.pool, Now: func() time.Time { return b.now.Add(73 * time.Hour) }}
	require.NoError(t, w.Work(ctx, nil))
	require.NoError(t, w.Work(ctx, nil))
	last := func(nid int64) string {
		evs := events(t, b.testBundle, emailDelivery(t, b.testBundle, nid).ID)
		return evs[len(evs)-1].Event
	}
	require.Equal(t, ledger.EventPresumedDelivered, last(nOK))
	require.Equal(t, ledger.EventBounced, last(nBad))
	var presumed int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM delivery_events WHERE event = 'presumed_delivered'`).Scan(&presumed))
	require.Equal(t, 1, presumed)
}
