package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/templates"
)

// DeliverBatchArgs asks for a campaign's batch of notices to be delivered.
// Each notice keeps its own outcome: one that must be retried, snoozed or
// fall back leaves the batch as its own DeliverArgs job.
type DeliverBatchArgs struct {
	NoticeIDs []int64 `json:"notice_ids"`
}

// Kind is the River job kind.
func (DeliverBatchArgs) Kind() string { return "deliver_batch" }

// InsertOpts: a batch is worked once; its stragglers become single jobs
// with their own retries.
func (DeliverBatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, Priority: 3, Queue: QueueBulk}
}

// QueueBulk is the queue of campaign batches. Its few workers each send a
// whole batch in parallel, so it needs far fewer workers than the default
// queue: more would only queue rendered messages for the SMTP connections.
const QueueBulk = "bulk"

// DeliverBatchWorker works DeliverBatchArgs.
type DeliverBatchWorker struct {
	river.WorkerDefaults[DeliverBatchArgs]
	Deps *Deps
}

// Work delivers the batch: one transaction records every attempt as
// sending, the messages are sent in parallel, and each acceptance is
// committed as it arrives (group commit), so that a crash exposes at most
// one message per sender. Notices that need more (a retry, a fallback, quiet
// hours, an earlier attempt) are handed to single-notice deliver jobs. A
// batch too long for MaxBatchTimeout at the channels' rate limits sends its
// head and re-enqueues its tail as another batch.
func (w *DeliverBatchWorker) Work(ctx context.Context, job *river.Job[DeliverBatchArgs]) error {
	var meta struct {
		CampaignID int64 `json:"campaign_id"`
	}
	_ = json.Unmarshal(job.Metadata, &meta)
	ids := job.Args.NoticeIDs
	client := river.ClientFromContext[pgx.Tx](ctx)
	if fits := w.Deps.batchFits(); len(ids) > fits {
		opts := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
		if meta.CampaignID != 0 {
			opts.Metadata = campaignMetadata(meta.CampaignID)
		}
		if _, err := client.Insert(ctx, DeliverBatchArgs{NoticeIDs: ids[fits:]}, opts); err != nil {
			return fmt.Errorf("re-enqueue the tail of a long batch: %w", err)
		}
		ids = ids[:fits]
	}
	spill, err := w.Deps.deliverBatch(ctx, ids)
	if len(spill) > 0 {
		// Even when recording failed part-way: what was recorded must move on.
		if _, ierr := client.InsertMany(context.WithoutCancel(ctx), spill); ierr != nil && err == nil {
			err = fmt.Errorf("hand %d notices to single deliver jobs: %w", len(spill), ierr)
		}
	}
	if err != nil {
		return err
	}
	// The campaign's last batch completes it (single jobs complete it too
	// when they finish its last notice).
	if meta.CampaignID != 0 {
		if _, err := campaigns.CompleteIfDone(context.WithoutCancel(ctx), w.Deps.Pool, meta.CampaignID); err != nil {
			return fmt.Errorf("complete campaign %d: %w", meta.CampaignID, err)
		}
	}
	return nil
}

// batchItem is one notice of a batch on its way out.
type batchItem struct {
	notice     *notices.Notice
	recipient  *recipients.Recipient
	step       channels.Step
	ch         channels.Channel
	provider   string
	rendered   *templates.Rendered
	content    ledger.Content
	deliveryID int64
	receipt    channels.Receipt
	err        error
	// recorded receives the outcome of recording this item's send.
	recorded chan error
	// single hands the notice to a single deliver job (its batch's spill);
	// until is how long recording this item's outcome may be retried.
	single func(int64, time.Time)
	until  time.Time
}

// deliverBatch returns the notices to hand to single deliver jobs.
func (d *Deps) deliverBatch(ctx context.Context, ids []int64) ([]river.InsertManyParams, error) {
	now := d.now()
	var spill []river.InsertManyParams
	single := func(id int64, at time.Time) {
		spill = append(spill, river.InsertManyParams{Args: DeliverArgs{NoticeID: id}, InsertOpts: &river.InsertOpts{ScheduledAt: at}})
	}

	items, err := d.prepareBatch(ctx, ids, now, single)
	if err != nil || len(items) == 0 {
		return spill, err
	}

	var mu sync.Mutex
	err = d.sendAll(ctx, items, func(id int64, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		single(id, at)
	})
	return spill, err
}

// prepareBatch locks and loads the batch, routes and renders each notice,
// and records every attempt as sending in one transaction.
func (d *Deps) prepareBatch(ctx context.Context, ids []int64, now time.Time, single func(int64, time.Time)) ([]*batchItem, error) {
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()

	rows, err := tx.Query(ctx, `
		SELECT `+prefixed("n.", notices.Columns)+`, `+prefixed("r.", recipients.Columns)+`,
		       EXISTS (SELECT 1 FROM deliveries dl WHERE dl.notice_id = n.id)
		FROM notices n JOIN recipients r ON r.id = n.recipient_id
		WHERE n.id = ANY($1) AND n.state = 'pending'
		ORDER BY n.id
		FOR UPDATE OF n SKIP LOCKED`, ids)
	if err != nil {
		return nil, fmt.Errorf("load batch: %w", err)
	}
	var items []*batchItem
	for rows.Next() {
		n, r, seen, err := scanNoticeRecipient(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		if seen {
			single(n.ID, time.Time{}) // an earlier attempt exists: the single path knows how to resume it
			continue
		}
		items = append(items, &batchItem{notice: n, recipient: r})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	var ready []*batchItem
	var doneIDs []int64
	var doneStates, doneReasons []string
	for _, it := range items {
		n, r := it.notice, it.recipient
		steps, skipped := channels.Plan(d.route(r, string(n.Kind)), contactOf(r), n.Kind.Bulk())
		found := false
		for _, s := range steps {
			impl := d.Channels[s.Channel]
			if n.Test {
				impl = d.Outbox
			}
			if impl == nil {
				skipped = append(skipped, string(s.Channel)+": channel not configured")
				continue
			}
			it.step, it.ch, found = s, impl, true
			break
		}
		if !found {
			doneIDs, doneStates = append(doneIDs, n.ID), append(doneStates, notices.StateNoRoute)
			doneReasons = append(doneReasons, "no usable channel: "+strings.Join(skipped, "; "))
			continue
		}
		if it.step.Channel == channels.SMS {
			if next := d.quietNext(r, now); next.After(now) {
				single(n.ID, next)
				continue
			}
		}
		rendered, err := d.Templates.Render(n.TemplateKey, string(it.step.Channel), d.input(r, n.Data))
		if err != nil {
			var re *templates.RenderError
			if !errors.As(err, &re) {
				return nil, fmt.Errorf("notice %d: render: %w", n.ID, err)
			}
			doneIDs, doneStates = append(doneIDs, n.ID), append(doneStates, notices.StateFailed)
			doneReasons = append(doneReasons, "render failed: "+err.Error())
			continue
		}
		if err := d.Templates.SaveVersion(ctx, tx, rendered); err != nil {
			return nil, err
		}
		it.rendered = rendered
		it.content = ledger.Content{Subject: rendered.Subject, Text: rendered.Text, HTML: rendered.HTML}
		it.provider = providerName(it.ch)
		ready = append(ready, it)
	}

	if len(doneIDs) > 0 {
		if _, err := tx.Exec(ctx, `
			UPDATE notices n SET state = v.state, state_reason = v.reason, updated_at = $4
			FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v(id, state, reason)
			WHERE n.id = v.id`, doneIDs, doneStates, doneReasons, now); err != nil {
			return nil, fmt.Errorf("record batch no_route/failed: %w", err)
		}
	}
	if len(ready) > 0 {
		attempts := make([]ledger.Attempt, len(ready))
		for i, it := range ready {
			attempts[i] = ledger.Attempt{NoticeID: it.notice.ID, Channel: string(it.step.Channel), Provider: it.provider,
				Address: it.step.Address, TemplateVersion: it.rendered.Version, Content: it.content, At: now}
		}
		deliveryIDs, err := ledger.StartAttempts(ctx, tx, attempts, d.KeepBatchContent)
		if err != nil {
			return nil, err
		}
		// The notices stay pending: their delivery rows say sending, and a
		// batch found again after a crash hands them to the single path,
		// which honours the sending lease.
		for i, it := range ready {
			it.deliveryID = deliveryIDs[i]
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return ready, nil
}

// errNotSent marks an item of a batch whose job ran out of time before it
// was sent: it goes to a single job at once.
var errNotSent = errors.New("batch time budget spent before sending")

// sendAll sends every item, several at a time (the SMTP channel keeps a pool
// of connections and each connection sends one message at a time), and has
// each outcome recorded before its sender takes the next item: at any
// moment each sender holds at most one message that was sent but is not yet
// recorded, which bounds the duplicates a crash can cause. Outcomes are
// committed by the process's group commit, shared by every batch being
// worked, so that one commit holds the outcomes of all the senders that
// finished meanwhile, whatever their batch.
func (d *Deps) sendAll(ctx context.Context, items []*batchItem, single func(int64, time.Time)) error {
	parallel := d.BatchParallelism
	if parallel <= 0 {
		parallel = 8
	}
	until := recordUntil(ctx)
	var (
		wg       sync.WaitGroup
		stopOnce sync.Once
		firstErr error
	)
	stop := make(chan struct{})
	next := make(chan *batchItem)
	for range min(parallel, len(items)) {
		wg.Go(func() {
			for it := range next {
				release := d.slot(it.step.Channel)
				if ctx.Err() != nil {
					it.err = errNotSent
				} else {
					it.receipt, it.err = it.ch.Send(ctx, d.batchMessage(it))
				}
				it.single, it.until = single, until
				err := d.recordOutcome(it)
				release()
				if err != nil {
					stopOnce.Do(func() { firstErr = err; close(stop) })
					return
				}
			}
		})
	}
feed:
	for _, it := range items {
		select {
		case next <- it:
		case <-stop:
			break feed
		}
	}
	close(next)
	wg.Wait()
	return firstErr
}

func (d *Deps) batchMessage(it *batchItem) channels.Message {
	msg := channels.Message{
		NoticeID: it.notice.ID, DeliveryID: it.deliveryID, Kind: string(it.notice.Kind), Channel: it.step.Channel,
		To: it.step.Address, ToName: it.recipient.DisplayName(),
		Subject: it.content.Subject, Text: it.content.Text, HTML: it.content.HTML,
	}
	d.sender(it.recipient, &msg)
	if it.notice.Kind.Bulk() && it.step.Channel == channels.Email && d.Unsubscribe != nil {
		msg.UnsubscribeURL = d.Unsubscribe(it.recipient.ID, string(it.notice.Kind))
	}
	return msg
}

// groupCommit gathers the outcomes of a process's batch senders: the
// outcomes that arrive while a group is being committed make the next
// group (one statement, one commit), whatever batch they belong to.
type groupCommit struct {
	mu      sync.Mutex
	pending []*batchItem
	running bool
}

// recordOutcome hands the outcome of a sent item to the group commit and
// returns once it is committed (or could not be). A failed commit is
// retried while the item's job may still hold its notice (see
// recordUntil), so a short database outage costs no duplicate.
func (d *Deps) recordOutcome(it *batchItem) error {
	it.recorded = make(chan error, 1)
	g := &d.outcomes
	g.mu.Lock()
	g.pending = append(g.pending, it)
	if !g.running {
		g.running = true
		go d.commitGroups()
	}
	g.mu.Unlock()
	return <-it.recorded
}

// commitGroups commits pending outcomes group by group until none is left.
func (d *Deps) commitGroups() {
	g := &d.outcomes
	for {
		g.mu.Lock()
		group := g.pending
		g.pending = nil
		if len(group) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		err := d.commitGroup(group)
		if err != nil && len(group) > 1 {
			// One item's outcome must not fail the others (they may be other
			// batches'): record each alone.
			for _, it := range group {
				it.recorded <- d.commitGroup([]*batchItem{it})
			}
			continue
		}
		for _, it := range group {
			it.recorded <- err
		}
	}
}

// commitGroup records a group's outcomes, retrying while the database is
// unreachable and one of the items' jobs may still hold its notice, then
// hands the notices that need one to single deliver jobs.
func (d *Deps) commitGroup(group []*batchItem) error {
	until := group[0].until
	for _, it := range group[1:] {
		if it.until.After(until) {
			until = it.until
		}
	}
	var spilled []func()
	err := retryDB(until, func() error {
		spilled = spilled[:0]
		return d.recordGroup(context.Background(), group, func(it *batchItem, at time.Time) {
			spilled = append(spilled, func() { it.single(it.notice.ID, at) })
		})
	})
	if err == nil {
		for _, f := range spilled {
			f()
		}
	}
	return err
}

// recordGroup records a group of outcomes. A group of acceptances only
// (the usual case) is one statement in its own implicit transaction: one
// round trip, one commit. A group with failures is one transaction:
// acceptances in one statement, failures one by one (they are rare).
func (d *Deps) recordGroup(ctx context.Context, items []*batchItem, single func(*batchItem, time.Time)) error {
	ctx = context.WithoutCancel(ctx) // what was sent must be recorded
	now := d.now()
	accepted := make([]ledger.Acceptance, 0, len(items))
	failures := false
	for _, it := range items {
		if it.err != nil {
			failures = true
			continue
		}
		accepted = append(accepted, ledger.Acceptance{DeliveryID: it.deliveryID, NoticeID: it.notice.ID,
			Channel: string(it.step.Channel), Provider: it.provider, MessageID: it.receipt.MessageID,
			Delivered: it.receipt.Delivered, Evidence: it.receipt.Evidence, RelayReply: it.receipt.RelayReply})
	}
	if !failures {
		return ledger.AcceptMany(ctx, d.Pool, accepted, now)
	}

	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, it := range items {
		if it.err == nil {
			continue
		}
		if errors.Is(it.err, errNotSent) {
			if err := ledger.Failed(ctx, tx, it.deliveryID, it.notice.ID, false, "not_sent", it.err.Error(), now); err != nil {
				return err
			}
			single(it, time.Time{})
			continue
		}
		ce := channels.Classify(it.err)
		d.log().Warn("send failed", "notice_id", it.notice.ID, "delivery_id", it.deliveryID, "channel", it.step.Channel,
			"class", ce.Class.String(), "code", ce.Code)
		final := ce.Class == channels.Permanent
		if err := ledger.Failed(ctx, tx, it.deliveryID, it.notice.ID, final, ce.Code, ce.Error(), now); err != nil {
			return err
		}
		if final {
			if err := markContact(ctx, tx, it.recipient.ID, it.step.Channel, ce); err != nil {
				return err
			}
		}
		if err := notices.SetState(ctx, tx, it.notice.ID, notices.StatePending, "", "", now); err != nil {
			return err
		}
		at := time.Time{}
		if ce.Class == channels.Throttled {
			wait := ce.RetryAfter
			if wait <= 0 {
				wait = time.Second
			}
			at = now.Add(wait)
		}
		single(it, at)
	}
	if err := ledger.AcceptMany(ctx, tx, accepted, now); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// prefixed qualifies each column of a column list with prefix; in an
// expression such as coalesce(email, ”) the first argument is qualified.
func prefixed(prefix, columns string) string {
	var parts []string
	depth, start := 0, 0
	for i, c := range columns {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, columns[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, columns[start:])
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if open := strings.IndexByte(p, '('); open >= 0 {
			p = p[:open+1] + prefix + p[open+1:]
		} else {
			p = prefix + p
		}
		parts[i] = p
	}
	return strings.Join(parts, ", ")
}

func scanNoticeRecipient(rows pgx.Rows) (*notices.Notice, *recipients.Recipient, bool, error) {
	n, r := &notices.Notice{}, &recipients.Recipient{}
	var seen bool
	dest, finish := notices.ScanDest(n)
	dest = append(dest, recipients.ScanDest(r)...)
	dest = append(dest, &seen)
	if err := rows.Scan(dest...); err != nil {
		return nil, nil, false, fmt.Errorf("scan batch row: %w", err)
	}
	return n, r, seen, finish()
}
