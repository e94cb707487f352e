package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Receipt is a provider's report on a message it accepted (a Twilio status
// callback, an email bounce).
type Receipt struct {
	Provider  string // twilio, smtp
	MessageID string // the provider's message id (Twilio MessageSid)
	// DeliveryID is the delivery the receipt names (0 if unknown). Twilio
	// callbacks carry it in their URL, so a callback that overtakes the
	// commit of the message SID still finds its delivery.
	DeliveryID int64
	Status     string // the provider's status: queued|sending|sent|delivered|undelivered|failed…
	ErrorCode  string
	OccurredAt time.Time
}

// ReceiptOutcome is what RecordReceipt did.
type ReceiptOutcome struct {
	Known      bool // false: no delivery matches; nothing was written
	DeliveryID int64
	NoticeID   int64
	State      string // the delivery's state after the receipt
	// FinalFailure: this receipt moved the delivery to undelivered or failed;
	// the caller moves the notice on to its next channel.
	FinalFailure bool
	// Replayed: the same status was already recorded for this delivery;
	// nothing was written.
	Replayed bool
}

// stateRank orders delivery states so that receipts merge whatever order
// they arrive in: a state only ever moves to a higher rank, so a late "sent"
// never overwrites "delivered". unknown (no receipt in time, see MarkStuck)
// ranks with sent: any final receipt still settles it.
func stateRank(state string) int {
	switch state {
	case StatePending:
		return 0
	case StateSending:
		return 1
	case StateSent, StateUnknown:
		return 2
	case StateDelivered, StateUndelivered, StateFailed, StateBounced:
		return 3
	}
	return -1
}

// receiptState maps a provider status to the delivery state it implies, or
// "" when it implies none (the event is still recorded).
func receiptState(status string) string {
	switch status {
	case "accepted", "scheduled", "queued", "sent":
		return StateSent
	case "sending":
		return StateSending
	case "delivered", "read":
		return StateDelivered
	case "undelivered":
		return StateUndelivered
	case "failed", "canceled":
		return StateFailed
	case "bounced":
		return StateBounced
	}
	return ""
}

// RecordReceipt applies r inside tx: it finds the delivery by provider and
// message id or, failing that, by r.DeliveryID when that delivery has no
// message id yet or the same one (and then stores the id). It always appends
// a ledger event for a known delivery, and moves the delivery's state only
// forward (see stateRank). A delivered receipt also marks the notice
// delivered on the delivery's channel. An unknown message writes nothing and
// returns Known=false.
func RecordReceipt(ctx context.Context, tx pgx.Tx, r Receipt) (ReceiptOutcome, error) {
	if r.Provider == "" || (r.MessageID == "" && r.DeliveryID == 0) {
		return ReceiptOutcome{}, errors.New("record receipt: provider and a message id or delivery id are required")
	}
	if r.OccurredAt.IsZero() {
		r.OccurredAt = time.Now()
	}
	var (
		out     ReceiptOutcome
		channel string
		state   string
		err     error
	)
	scan := func(row pgx.Row) error { return row.Scan(&out.DeliveryID, &out.NoticeID, &channel, &state) }
	err = pgx.ErrNoRows
	if r.MessageID != "" {
		err = scan(tx.QueryRow(ctx, `
			SELECT id, notice_id, channel, state FROM deliveries
			WHERE provider = $1 AND provider_message_id = $2 FOR UPDATE`, r.Provider, r.MessageID))
	}
	if errors.Is(err, pgx.ErrNoRows) && r.DeliveryID != 0 {
		err = scan(tx.QueryRow(ctx, `
			SELECT id, notice_id, channel, state FROM deliveries
			WHERE id = $1 AND provider = $2 AND (provider_message_id IS NULL OR provider_message_id = nullif($3, ''))
			FOR UPDATE`, r.DeliveryID, r.Provider, r.MessageID))
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ReceiptOutcome{}, nil
	}
	if err != nil {
		return ReceiptOutcome{}, fmt.Errorf("record receipt: find delivery: %w", err)
	}
	out.Known = true

	// A replayed receipt (same message, same status: a provider retrying
	// its callback, or someone replaying a signed one) appends nothing.
	var replay bool
	if err := tx.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM delivery_events
		               WHERE delivery_id = $1 AND event = $2 AND provider_status = $2 AND provider_status <> '')`,
		out.DeliveryID, r.Status).Scan(&replay); err != nil {
		return ReceiptOutcome{}, fmt.Errorf("record receipt: look for a replay: %w", err)
	}
	if replay {
		out.State, out.Replayed = state, true
		return out, nil
	}
	if err := AppendEvent(ctx, tx, Event{
		DeliveryID: out.DeliveryID, NoticeID: out.NoticeID, Event: r.Status, ProviderStatus: r.Status,
		ErrorCode: r.ErrorCode, Detail: r.Provider + " receipt", OccurredAt: r.OccurredAt,
		Facts: map[string]string{"channel": channel, "provider": r.Provider, "provider_message_id": r.MessageID},
	}); err != nil {
		return ReceiptOutcome{}, err
	}

	next := receiptState(r.Status)
	advance := next != "" && stateRank(next) > stateRank(state)
	newState := state
	if advance {
		newState = next
	}
	final := advance && stateRank(next) == 3
	errorCode := ""
	if final && next != StateDelivered {
		errorCode = r.ErrorCode
	}
	_, err = tx.Exec(ctx, `
		UPDATE deliveries SET
		    provider_message_id = coalesce(provider_message_id, nullif($2, '')),
		    state = $3,
		    sent_at = CASE WHEN $4 AND $3 <> 'sending' THEN coalesce(sent_at, $5) ELSE sent_at END,
		    final_at = CASE WHEN $6 THEN coalesce(final_at, $5) ELSE final_at END,
		    error_code = CASE WHEN $6 THEN $7 ELSE error_code END,
		    updated_at = now()
		WHERE id = $1`,
		out.DeliveryID, r.MessageID, newState, advance, r.OccurredAt, final, errorCode)
	if err != nil {
		return ReceiptOutcome{}, fmt.Errorf("record receipt for delivery %d: %w", out.DeliveryID, err)
	}
	out.State = newState

	switch {
	case final && next == StateDelivered:
		_, err = tx.Exec(ctx, `
			UPDATE notices SET state = 'delivered', channel = $2, delivered_at = coalesce(delivered_at, $3), updated_at = now()
			WHERE id = $1 AND state <> 'delivered'`, out.NoticeID, channel, r.OccurredAt)
		if err != nil {
			return ReceiptOutcome{}, fmt.Errorf("mark notice %d delivered: %w", out.NoticeID, err)
		}
	case final && (next == StateUndelivered || next == StateFailed || next == StateBounced):
		out.FinalFailure = true
	}
	return out, nil
}

// DefaultStuckAfter is how long a delivery may wait for its final receipt
// before MarkStuck gives up on it.
const DefaultStuckAfter = 72 * time.Hour

// MarkStuck moves deliveries still sending or sent, whose sending_at or
// sent_at is older than olderThan at now, to unknown, with an unknown event
// each. Compliance counts unknown as not proven. A final receipt arriving
// later still settles the delivery. It returns how many it moved.
func MarkStuck(ctx context.Context, db *pgxpool.Pool, olderThan time.Duration, now time.Time) (int, error) {
	return MarkStuckThen(ctx, db, olderThan, now, nil)
}

// MarkStuckThen is MarkStuck that also calls then, in the same transaction,
// for the notice of each delivery it moved: an unknown outcome means the
// promise is not proven, so the caller moves the notice on to the next
// channel of its route (jobs.FallbackAfterReceipt).
func MarkStuckThen(ctx context.Context, db *pgxpool.Pool, olderThan time.Duration, now time.Time,
	then func(ctx context.Context, tx pgx.Tx, noticeID int64) error) (int, error) {
	if olderThan <= 0 {
		olderThan = DefaultStuckAfter
	}
	cutoff := now.Add(-olderThan)
	detail := fmt.Sprintf("no final receipt within %s", olderThan)
	var n int
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH stuck AS (
				SELECT id, state FROM deliveries
				WHERE (state = 'sending' AND sending_at < $1)
				   OR (state = 'sent' AND coalesce(sent_at, sending_at) < $1)
				FOR UPDATE SKIP LOCKED
			)
			UPDATE deliveries d SET state = 'unknown', updated_at = now()
			FROM stuck WHERE d.id = stuck.id
			RETURNING d.id, d.notice_id, stuck.state`, cutoff)
		if err != nil {
			return err
		}
		type moved struct {
			id, notice int64
			was        string
		}
		var all []moved
		for rows.Next() {
			var m moved
			if err := rows.Scan(&m.id, &m.notice, &m.was); err != nil {
				return err
			}
			all = append(all, m)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, m := range all {
			if err := AppendEvent(ctx, tx, Event{DeliveryID: m.id, NoticeID: m.notice, Event: StateUnknown,
				Detail: detail + " (was " + m.was + ")", OccurredAt: now}); err != nil {
				return err
			}
			if then != nil {
				if err := then(ctx, tx, m.notice); err != nil {
					return err
				}
			}
		}
		n = len(all)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mark stuck deliveries: %w", err)
	}
	return n, nil
}
