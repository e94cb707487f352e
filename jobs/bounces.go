package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/channels/bounce"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/recipients"
)

// Bounces records what bounces and complaints say, for the three intakes
// (SMTP listener, IMAP poller, provider webhook): a hard bounce makes the
// delivery bounced, marks the address undeliverable and moves the notice to
// the next channel of its route; a soft bounce makes it undelivered, moves
// the notice on and counts towards suspending the address; a complaint
// appends complained and opts the beneficiary out of non-legal mail.
type Bounces struct {
	Pool *pgxpool.Pool
	VERP *bounce.VERP
	// Fallback enqueues the notice's next channel, in the bounce's
	// transaction (FallbackAfterReceipt); FallbackMany, when set, does it
	// for the notices of hard bounces recorded together (FallbackMany).
	Fallback     func(ctx context.Context, tx pgx.Tx, noticeID int64) error
	FallbackMany func(ctx context.Context, tx pgx.Tx, noticeIDs []int64) error
	// SoftThreshold soft bounces to the same address within SoftWindow
	// suspend it (defaults 3 and 7 days).
	SoftThreshold int
	SoftWindow    time.Duration
	Now           func() time.Time
	Logger        *slog.Logger

	// Totals since start, for metrics and tests.
	Forged    atomic.Int64 // return paths of our shape whose tag did not verify
	Unmatched atomic.Int64 // messages naming no delivery of ours
	Ignored   atomic.Int64 // auto-replies, delayed DSNs, not mail
	Applied   atomic.Int64 // bounces and complaints that changed something
	Duplicate atomic.Int64 // bounces for deliveries already settled

	startBatcher sync.Once
	queue        chan *bounceItem
}

// ErrAcceptancePending: the bounce names a delivery whose acceptance is not
// recorded yet (the relay bounced before our commit); the intake retries.
var ErrAcceptancePending = errors.New("delivery acceptance not recorded yet")

// BounceInput is one report to record.
type BounceInput struct {
	Report *bounce.Report
	// DeliveryIDs are deliveries already identified (verified VERP
	// recipients of the SMTP envelope). When empty, the report's return
	// paths are verified instead, then MessageID is looked up.
	DeliveryIDs []int64
	// MessageID is the smtp provider message id ("<n1.d2@domain>") a
	// signed provider webhook names.
	MessageID string
	// IMAP, when set, is remembered in the same transaction so that the
	// message is never recorded twice.
	IMAP *bounce.IMAPKey
}

// Handle is the bounce.Handler of the SMTP listener and the IMAP poller.
// Hard bounces, the bulk of a mailing's bounces, are recorded together with
// those arriving at the same time (one transaction, set-based statements);
// everything else one by one.
func (b *Bounces) Handle(ctx context.Context, in bounce.Inbound) error {
	rep, err := bounce.Parse(in.Raw)
	if err != nil {
		rep = &bounce.Report{Type: bounce.TypeIgnored, Why: "not mail"}
	}
	input := BounceInput{Report: rep, DeliveryIDs: in.DeliveryIDs, IMAP: in.IMAP}
	if rep.Type == bounce.TypeBounce && rep.Class() == bounce.Hard {
		return b.submit(ctx, input)
	}
	return b.Record(ctx, input)
}

// resolve returns the deliveries in names: its verified ids, or those of
// its report's valid VERP return paths (forged ones are counted).
func (b *Bounces) resolve(in BounceInput) []int64 {
	ids := in.DeliveryIDs
	if len(ids) == 0 && b.VERP != nil {
		for _, rp := range in.Report.ReturnPaths {
			id, err := b.VERP.Parse(rp)
			switch {
			case errors.Is(err, bounce.ErrForged):
				b.Forged.Add(1)
			case err == nil && !containsID(ids, id):
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// Record applies in, in one transaction.
func (b *Bounces) Record(ctx context.Context, in BounceInput) error {
	rep := in.Report
	ids := b.resolve(in)
	tx, err := b.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if k := in.IMAP; k != nil {
		tag, err := tx.Exec(ctx, `INSERT INTO bounce_imap_seen (mailbox, uid_validity, uid) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, k.Mailbox, int64(k.UIDValidity), int64(k.UID))
		if err != nil {
			return fmt.Errorf("remember IMAP message %d: %w", k.UID, err)
		}
		if tag.RowsAffected() == 0 {
			return nil // recorded before a crash; the poller flags it now
		}
	}
	if len(ids) == 0 && in.MessageID != "" {
		id, err := ledger.FindDeliveryByMessageID(ctx, tx, "smtp", in.MessageID)
		if err != nil {
			return err
		}
		if id != 0 {
			ids = append(ids, id)
		}
	}
	switch {
	case rep.Type == bounce.TypeIgnored:
		b.Ignored.Add(1)
	case len(ids) == 0:
		b.Unmatched.Add(1)
	}
	if rep.Type != bounce.TypeIgnored {
		for _, id := range ids {
			if err := b.apply(ctx, tx, id, rep); err != nil {
				return err
			}
		}
	}
	return tx.Commit(ctx)
}

func (b *Bounces) apply(ctx context.Context, tx pgx.Tx, id int64, rep *bounce.Report) error {
	now := b.now()
	d, err := ledger.LockDelivery(ctx, tx, id)
	if errors.Is(err, ledger.ErrNoDelivery) {
		b.Unmatched.Add(1)
		return nil
	}
	if err != nil {
		return err
	}
	if d.Channel != "email" {
		b.Unmatched.Add(1)
		return nil
	}
	if d.State == ledger.StateSending || d.State == ledger.StatePending {
		return fmt.Errorf("delivery %d: %w", d.ID, ErrAcceptancePending)
	}
	if rep.Type == bounce.TypeComplaint {
		applied, err := ledger.Complained(ctx, tx, d, rep.FeedbackType, now)
		if err != nil || !applied {
			b.count(applied)
			return err
		}
		b.count(true)
		b.log().Debug("complaint recorded", "delivery_id", d.ID, "notice_id", d.NoticeID)
		return recipients.OptOutOutreach(ctx, tx, d.RecipientID, "arf_complaint")
	}

	rc := worst(rep.Recipients)
	hard := rc.Class == bounce.Hard
	detail := fmt.Sprintf("%s bounce (%s, %s)", rc.Class, rep.Format, rc.Rule)
	if rc.Diagnostic != "" {
		detail += ": " + rc.Diagnostic
	}
	applied, err := ledger.Bounce(ctx, tx, d, hard, rc.Status, detail, now)
	b.count(applied)
	if err != nil || !applied {
		return err
	}
	b.log().Debug("bounce recorded", "delivery_id", d.ID, "notice_id", d.NoticeID, "class", rc.Class, "status", rc.Status)
	if hard {
		err = recipients.MarkEmailUndeliverable(ctx, tx, d.RecipientID, "hard bounce "+rc.Status)
	} else {
		err = b.countSoft(ctx, tx, d, now)
	}
	if err != nil {
		return err
	}
	// The notice moves on once: only while email is still its channel.
	tag, err := tx.Exec(ctx, `UPDATE notices SET state = 'pending', delivered_at = NULL, state_reason = $2, updated_at = now()
		WHERE id = $1 AND channel = 'email' AND state IN ('sent', 'delivered')`, d.NoticeID, "email bounced: "+string(rc.Class))
	if err != nil {
		return fmt.Errorf("notice %d back to pending after bounce: %w", d.NoticeID, err)
	}
	if tag.RowsAffected() == 1 && b.Fallback != nil {
		return b.Fallback(ctx, tx, d.NoticeID)
	}
	return nil
}

// countSoft remembers a soft bounce and suspends the address when the
// threshold is reached within the window. Only bounces of deliveries to the
// beneficiary's current address count.
func (b *Bounces) countSoft(ctx context.Context, tx pgx.Tx, d ledger.EmailDelivery, now time.Time) error {
	threshold, window := b.SoftThreshold, b.SoftWindow
	if threshold <= 0 {
		threshold = 3
	}
	if window <= 0 {
		window = 7 * 24 * time.Hour
	}
	var n int
	err := tx.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO email_soft_bounces (delivery_id, recipient_id, occurred_at) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING RETURNING delivery_id
		)
		SELECT (SELECT count(*) FROM ins) + count(*) FROM email_soft_bounces s
		JOIN deliveries dl ON dl.id = s.delivery_id
		JOIN recipients r ON r.id = s.recipient_id
		WHERE s.recipient_id = $2 AND s.occurred_at > $4 AND dl.address = r.email`,
		d.ID, d.RecipientID, now, now.Add(-window)).Scan(&n)
	if err != nil {
		return fmt.Errorf("count soft bounces of beneficiary %d: %w", d.RecipientID, err)
	}
	if n < threshold {
		return nil
	}
	b.log().Warn("email address suspended after soft bounces", "recipient_id", d.RecipientID, "count", n)
	return recipients.SuspendEmail(ctx, tx, d.RecipientID, fmt.Sprintf("%d soft bounces within %s", n, window))
}

func worst(rs []bounce.Recipient) bounce.Recipient {
	if len(rs) == 0 {
		return bounce.Recipient{Class: bounce.Soft, Rule: "default"}
	}
	for _, r := range rs {
		if r.Class == bounce.Hard {
			return r
		}
	}
	return rs[0]
}

func (b *Bounces) count(applied bool) {
	if applied {
		b.Applied.Add(1)
	} else {
		b.Duplicate.Add(1)
	}
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (b *Bounces) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Bounces) log() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}

// WriteMetrics writes the recorder's totals in Prometheus text format.
func (b *Bounces) WriteMetrics(w io.Writer) {
	fmt.Fprintln(w, "# HELP courrier_bounce_reports Bounce and complaint reports by outcome since start.")
	fmt.Fprintln(w, "# TYPE courrier_bounce_reports counter")
	for _, c := range []struct {
		name string
		n    int64
	}{{"applied", b.Applied.Load()}, {"duplicate", b.Duplicate.Load()}, {"ignored", b.Ignored.Load()},
		{"unmatched", b.Unmatched.Load()}, {"forged", b.Forged.Load()}} {
		fmt.Fprintf(w, "courrier_bounce_reports{outcome=%q} %d\n", c.name, c.n)
	}
}
