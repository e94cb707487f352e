package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/recipients"
)

// maxHardBatch bounds the hard bounces recorded in one transaction.
const maxHardBatch = 256

type bounceItem struct {
	in  BounceInput
	ids []int64
	err chan error
}

// FallbackMany returns the function that enqueues, in the caller's
// transaction, one deliver job per notice (already back to pending), so
// that each moves to the next channel of its route.
func FallbackMany(client *river.Client[pgx.Tx]) func(ctx context.Context, tx pgx.Tx, noticeIDs []int64) error {
	return func(ctx context.Context, tx pgx.Tx, noticeIDs []int64) error {
		params := make([]river.InsertManyParams, len(noticeIDs))
		for i, id := range noticeIDs {
			params[i] = river.InsertManyParams{Args: DeliverArgs{NoticeID: id}}
		}
		if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("enqueue fallback for %d notices: %w", len(noticeIDs), err)
		}
		return nil
	}
}

// submit hands a hard bounce to the batcher and waits for its outcome. If
// ctx ends first, the bounce may still be recorded: the intake retries,
// and the retry is a duplicate that appends nothing.
func (b *Bounces) submit(ctx context.Context, in BounceInput) error {
	b.startBatcher.Do(func() {
		b.queue = make(chan *bounceItem, maxHardBatch)
		go b.batchLoop()
	})
	it := &bounceItem{in: in, ids: b.resolve(in), err: make(chan error, 1)}
	select {
	case b.queue <- it:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-it.err:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// batchLoop records whatever hard bounces are waiting, together. It runs
// for the life of the process.
func (b *Bounces) batchLoop() {
	for first := range b.queue {
		items := []*bounceItem{first}
	collect:
		for len(items) < maxHardBatch {
			select {
			case it := <-b.queue:
				items = append(items, it)
			default:
				break collect
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		errs, err := b.recordHard(ctx, items)
		cancel()
		for i, it := range items {
			if err != nil {
				it.err <- err
			} else {
				it.err <- errs[i]
			}
		}
	}
}

// recordHard records hard bounces in one transaction, with the rules of
// apply: a delivery already bounced gets nothing more, one whose acceptance
// is not recorded yet fails its item only (ErrAcceptancePending).
func (b *Bounces) recordHard(ctx context.Context, items []*bounceItem) ([]error, error) {
	now := b.now()
	errs := make([]error, len(items))
	tx, err := b.Pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()

	// IMAP messages recorded before a crash are skipped.
	skip := make([]bool, len(items))
	type key struct {
		mailbox       string
		validity, uid int64
	}
	var mbs []string
	var vals, uids []int64
	for _, it := range items {
		if k := it.in.IMAP; k != nil {
			mbs, vals, uids = append(mbs, k.Mailbox), append(vals, int64(k.UIDValidity)), append(uids, int64(k.UID))
		}
	}
	if len(mbs) > 0 {
		rows, err := tx.Query(ctx, `
			INSERT INTO bounce_imap_seen (mailbox, uid_validity, uid)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) ON CONFLICT DO NOTHING
			RETURNING mailbox, uid_validity, uid`, mbs, vals, uids)
		if err != nil {
			return nil, fmt.Errorf("remember %d IMAP messages: %w", len(mbs), err)
		}
		fresh := map[key]bool{}
		var k key
		if _, err := pgx.ForEachRow(rows, []any{&k.mailbox, &k.validity, &k.uid}, func() error {
			fresh[k] = true
			return nil
		}); err != nil {
			return nil, err
		}
		for i, it := range items {
			if k := it.in.IMAP; k != nil && !fresh[key{k.Mailbox, int64(k.UIDValidity), int64(k.UID)}] {
				skip[i] = true
			}
		}
	}

	var all []int64
	for i, it := range items {
		if !skip[i] {
			all = append(all, it.ids...)
		}
	}
	found := map[int64]ledger.EmailDelivery{}
	if len(all) > 0 {
		rows, err := tx.Query(ctx, `
			SELECT d.id, d.notice_id, n.recipient_id, d.channel, d.state
			FROM deliveries d JOIN notices n ON n.id = d.notice_id
			WHERE d.id = ANY($1) ORDER BY d.id FOR UPDATE OF d`, all)
		if err != nil {
			return nil, fmt.Errorf("lock %d deliveries: %w", len(all), err)
		}
		var d ledger.EmailDelivery
		if _, err := pgx.ForEachRow(rows, []any{&d.ID, &d.NoticeID, &d.RecipientID, &d.Channel, &d.State}, func() error {
			found[d.ID] = d
			return nil
		}); err != nil {
			return nil, err
		}
	}

	chosen := map[int64]bool{}
	var bounces []ledger.HardBounce
	var rids, nids []int64
	for i, it := range items {
		if skip[i] {
			continue
		}
		if len(it.ids) == 0 {
			b.Unmatched.Add(1)
			continue
		}
		for _, id := range it.ids {
			if d, ok := found[id]; ok && d.Channel == "email" && (d.State == ledger.StateSending || d.State == ledger.StatePending) {
				errs[i] = fmt.Errorf("delivery %d: %w", id, ErrAcceptancePending)
			}
		}
		if errs[i] != nil {
			if k := it.in.IMAP; k != nil { // not recorded: the next poll must see it again
				if _, err := tx.Exec(ctx, `DELETE FROM bounce_imap_seen WHERE mailbox = $1 AND uid_validity = $2 AND uid = $3`,
					k.Mailbox, int64(k.UIDValidity), int64(k.UID)); err != nil {
					return nil, err
				}
			}
			continue
		}
		rc := worst(it.in.Report.Recipients)
		detail := fmt.Sprintf("%s bounce (%s, %s)", rc.Class, it.in.Report.Format, rc.Rule)
		if rc.Diagnostic != "" {
			detail += ": " + rc.Diagnostic
		}
		for _, id := range it.ids {
			d, ok := found[id]
			switch {
			case !ok || d.Channel != "email":
				b.Unmatched.Add(1)
			case chosen[id] || (d.State != ledger.StateSent && d.State != ledger.StateDelivered && d.State != ledger.StateUnknown):
				b.Duplicate.Add(1)
			default:
				chosen[id] = true
				bounces = append(bounces, ledger.HardBounce{DeliveryID: id, NoticeID: d.NoticeID, Status: rc.Status, Detail: detail})
				rids, nids = append(rids, d.RecipientID), append(nids, d.NoticeID)
			}
		}
	}
	if len(bounces) > 0 {
		done, err := ledger.BounceMany(ctx, tx, bounces, now)
		if err != nil {
			return nil, err
		}
		b.Applied.Add(int64(len(done)))
		if err := recipients.MarkEmailsUndeliverable(ctx, tx, rids, "hard bounce"); err != nil {
			return nil, err
		}
		rows, err := tx.Query(ctx, `
			UPDATE notices SET state = 'pending', delivered_at = NULL, state_reason = 'email bounced: hard', updated_at = now()
			WHERE id = ANY($1) AND channel = 'email' AND state IN ('sent', 'delivered') RETURNING id`, nids)
		if err != nil {
			return nil, fmt.Errorf("%d notices back to pending after bounce: %w", len(nids), err)
		}
		moved, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, err
		}
		if err := b.fallback(ctx, tx, moved); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return errs, nil
}

func (b *Bounces) fallback(ctx context.Context, tx pgx.Tx, noticeIDs []int64) error {
	if len(noticeIDs) == 0 {
		return nil
	}
	if b.FallbackMany != nil {
		return b.FallbackMany(ctx, tx, noticeIDs)
	}
	if b.Fallback == nil {
		return nil
	}
	for _, id := range noticeIDs {
		if err := b.Fallback(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}
