package jobs

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels/bounce"
	"github.com/courrier-dev/courrier/internal/bouncetest"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/recipients"
)

// TestBounceIMAP: bounces read from a real IMAP server (go-imap's in-memory
// backend). The poller crashes after recording a message and before
// flagging it; the next poll flags it without recording it twice.
func TestBounceIMAP(t *testing.T) {
	t.Parallel()
	b := setupBounces(t)
	ctx := context.Background()
	b.relay.SetStatus(func(string) (string, string) { return "", "" }) // the relay delivers; bounces come by IMAP
	imapSrv, err := bouncetest.NewIMAPServer()
	require.NoError(t, err)
	t.Cleanup(func() { imapSrv.Close() })

	var nids []int64
	var dsns [][]byte
	for i, email := range []string{"un@exemple.fr", "deux@exemple.fr"} {
		rid := b.recipient(t, "300000"+string(rune('1'+i)), func(r *recipients.Recipient) { r.Email = email })
		nid, _ := b.enqueue(t, rightsNotice(rid, "imap-"+email))
		require.NoError(t, b.deps.deliver(ctx, nid, false))
		d := emailDelivery(t, b.testBundle, nid)
		dsn := bouncetest.DSN(b.verp.Address(d.ID), email, "5.1.1", "550 5.1.1 user unknown", []byte("Subject: x\r\n"))
		require.NoError(t, imapSrv.Append("INBOX", dsn))
		nids, dsns = append(nids, nid), append(dsns, dsn)
	}
	// Noise a bounce mailbox receives: an auto-reply and a forged tag.
	require.NoError(t, imapSrv.Append("INBOX", []byte("From: a@example.org\r\nTo: x@bounce.caf.example\r\nAuto-Submitted: auto-replied\r\nSubject: Absence\r\n\r\nabsent\r\n")))
	require.NoError(t, imapSrv.Append("INBOX", bouncetest.DSN("bounces+d1.aaaaaaaaaaaaa@bounce.caf.example", "z@example.org", "5.1.1", "550 x", nil)))

	// The first poll "crashes" right after recording the first bounce: the
	// handler returns an error after its transaction committed, so the
	// poller does not flag it.
	var crashed atomic.Bool
	crashOn := []byte(b.verp.Address(emailDelivery(t, b.testBundle, nids[0]).ID))
	poller, err := bounce.NewPoller(bounce.IMAPConfig{
		Addr: imapSrv.Addr, Security: "none", Username: imapSrv.Username, Password: imapSrv.Password,
		Handler: func(ctx context.Context, in bounce.Inbound) error {
			if err := b.rec.Handle(ctx, in); err != nil {
				return err
			}
			if bytes.Contains(in.Raw, crashOn) && crashed.CompareAndSwap(false, true) {
				return errors.New("crash between recording and flagging")
			}
			return nil
		},
	})
	require.NoError(t, err)
	n, err := poller.PollOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n, "all but the crashed one flagged")
	require.EqualValues(t, 1, poller.Failed.Load())
	for _, nid := range nids {
		require.Equal(t, ledger.StateBounced, emailDelivery(t, b.testBundle, nid).State, "recorded, even the one that crashed")
	}

	n, err = poller.PollOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the crashed message is fetched again, and flagged")
	n, err = poller.PollOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is read twice")

	for _, nid := range nids {
		d := emailDelivery(t, b.testBundle, nid)
		require.Equal(t, ledger.StateBounced, d.State)
		bounced := 0
		for _, e := range events(t, b.testBundle, d.ID) {
			if e.Event == ledger.EventBounced {
				bounced++
			}
		}
		require.Equal(t, 1, bounced, "one bounced event per delivery")
	}
	require.Equal(t, 4, countJobs(t, b.pool, "deliver"), "two notices, one fallback each")
	require.EqualValues(t, 1, b.rec.Forged.Load())
	require.EqualValues(t, 1, b.rec.Ignored.Load())
	var seen int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM bounce_imap_seen`).Scan(&seen))
	require.Equal(t, 4, seen)

	// Moving processed messages out of the INBOX.
	require.NoError(t, imapSrv.Append("INBOX", dsns[0]))
	mover, err := bounce.NewPoller(bounce.IMAPConfig{Addr: imapSrv.Addr, Security: "none", Username: imapSrv.Username,
		Password: imapSrv.Password, MoveTo: "Processed", Handler: b.rec.Handle})
	require.NoError(t, err)
	n, err = mover.PollOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	inbox, _, err := imapSrv.Status("INBOX")
	require.NoError(t, err)
	moved, _, err := imapSrv.Status("Processed")
	require.NoError(t, err)
	require.EqualValues(t, 4, inbox)
	require.EqualValues(t, 1, moved)
	require.EqualValues(t, 1, b.rec.Duplicate.Load(), "the same DSN again appends nothing")
}
