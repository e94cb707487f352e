package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Email evidence events beyond the relay's acceptance (issue 13).
const (
	// EventBounced: a hard bounce; final, revokes the acceptance.
	EventBounced = StateBounced
	// EventSoftBounced: the relay gave up on a temporary failure (mailbox
	// full, policy block); the delivery becomes undelivered.
	EventSoftBounced = "soft_bounced"
	// EventComplained: the recipient reported the message as spam (ARF).
	EventComplained = "complained"
	// EventPresumedDelivered: accepted by the relay and no bounce within the
	// quiet period; the evidence level compliance counts for email.
	EventPresumedDelivered = "presumed_delivered"
)

// EmailDelivery is what the bounce recorder needs to know of a delivery.
type EmailDelivery struct {
	ID, NoticeID, RecipientID int64
	Channel, Provider, State  string
	MessageID                 string
}

// ErrNoDelivery is returned when a bounce names a delivery that does not exist.
var ErrNoDelivery = errors.New("no such delivery")

// LockDelivery loads delivery id for update, with its beneficiary.
func LockDelivery(ctx context.Context, tx pgx.Tx, id int64) (EmailDelivery, error) {
	var d EmailDelivery
	err := tx.QueryRow(ctx, `
		SELECT d.id, d.notice_id, n.recipient_id, d.channel, d.provider, d.state, coalesce(d.provider_message_id, '')
		FROM deliveries d JOIN notices n ON n.id = d.notice_id
		WHERE d.id = $1 FOR UPDATE OF d`, id).Scan(&d.ID, &d.NoticeID, &d.RecipientID, &d.Channel, &d.Provider, &d.State, &d.MessageID)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, fmt.Errorf("delivery %d: %w", id, ErrNoDelivery)
	}
	if err != nil {
		return d, fmt.Errorf("lock delivery %d: %w", id, err)
	}
	return d, nil
}

// FindDeliveryByMessageID returns the id of the delivery whose provider
// message id is messageID, or 0.
func FindDeliveryByMessageID(ctx context.Context, tx pgx.Tx, provider, messageID string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM deliveries WHERE provider = $1 AND provider_message_id = $2`, provider, messageID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// Bounce moves an accepted delivery to its final failed state (bounced for
// a hard bounce, undelivered for a soft one) and appends the event. It
// returns false, writing nothing, when the delivery had already failed or
// bounced: a duplicate bounce appends nothing. A delivery still marked
// sending is not touched either (its acceptance is not recorded yet; the
// caller asks for the bounce again later).
func Bounce(ctx context.Context, tx pgx.Tx, d EmailDelivery, hard bool, status, detail string, at time.Time) (bool, error) {
	state, event := StateUndelivered, EventSoftBounced
	if hard {
		state, event = StateBounced, EventBounced
	}
	tag, err := tx.Exec(ctx, `
		UPDATE deliveries SET state = $2, error_code = $3, error = $4, final_at = $5, updated_at = now()
		WHERE id = $1 AND state IN ('sent', 'delivered', 'unknown')`, d.ID, state, status, detail, at)
	if err != nil {
		return false, fmt.Errorf("record bounce of delivery %d: %w", d.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	return true, AppendEvent(ctx, tx, Event{DeliveryID: d.ID, NoticeID: d.NoticeID, Event: event,
		ProviderStatus: "dsn", ErrorCode: status, Detail: detail, OccurredAt: at})
}

// Complained appends a complained event, once per delivery. It returns
// false when the delivery already has one.
func Complained(ctx context.Context, tx pgx.Tx, d EmailDelivery, feedbackType string, at time.Time) (bool, error) {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM delivery_events WHERE delivery_id = $1 AND event = $2)`,
		d.ID, EventComplained).Scan(&exists); err != nil {
		return false, fmt.Errorf("find complaint of delivery %d: %w", d.ID, err)
	}
	if exists {
		return false, nil
	}
	return true, AppendEvent(ctx, tx, Event{DeliveryID: d.ID, NoticeID: d.NoticeID, Event: EventComplained,
		ProviderStatus: "arf", Detail: "feedback type " + feedbackType, OccurredAt: at})
}

// RelayReply is the reduced final reply of the relay to one accepted email.
type RelayReply struct {
	DeliveryID int64
	Reply      string // e.g. 250 2.0.0 Ok: queued as 4Xyz
}

// SetRelayReplies stores the relay's final reply on each delivery (the
// ledger event carries it too, in the acceptance's detail).
func SetRelayReplies(ctx context.Context, tx DBTX, replies []RelayReply) error {
	if len(replies) == 0 {
		return nil
	}
	ids, texts := make([]int64, len(replies)), make([]string, len(replies))
	for i, r := range replies {
		ids[i], texts[i] = r.DeliveryID, r.Reply
	}
	_, err := tx.Exec(ctx, `
		UPDATE deliveries d SET relay_reply = v.reply
		FROM unnest($1::bigint[], $2::text[]) AS v(id, reply) WHERE d.id = v.id`, ids, texts)
	if err != nil {
		return fmt.Errorf("record %d relay replies: %w", len(replies), err)
	}
	return nil
}

// DefaultQuietPeriod is how long an accepted email waits without a bounce
// before it is presumed delivered.
const DefaultQuietPeriod = 72 * time.Hour

// PresumeDelivered appends a presumed_delivered event to at most limit
// emails accepted by the relay more than quiet before now that neither
// bounced nor soft-bounced since, and returns how many it presumed.
func PresumeDelivered(ctx context.Context, db *pgxpool.Pool, quiet time.Duration, now time.Time, limit int) (int, error) {
	if quiet <= 0 {
		quiet = DefaultQuietPeriod
	}
	if limit <= 0 {
		limit = 5000
	}
	detail := fmt.Sprintf("no bounce within %s of acceptance", quiet)
	var n int
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			WITH due AS (
				SELECT id, notice_id FROM deliveries
				WHERE provider = 'smtp' AND state = 'delivered' AND presumed_at IS NULL AND final_at < $1
				ORDER BY final_at LIMIT $2
				FOR UPDATE SKIP LOCKED
			), marked AS (
				UPDATE deliveries d SET presumed_at = $3 FROM due WHERE d.id = due.id
				RETURNING d.id, d.notice_id
			)
			INSERT INTO delivery_events (delivery_id, notice_id, event, detail, occurred_at)
			SELECT id, notice_id, $4, $5, $3 FROM marked ORDER BY id`,
			now.Add(-quiet), limit, now, EventPresumedDelivered, detail)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("presume emails delivered: %w", err)
	}
	return n, nil
}

// HardBounce is one hard bounce of BounceMany.
type HardBounce struct {
	DeliveryID, NoticeID int64
	Status, Detail       string
}

// BounceMany records many hard bounces at once, with the rules of Bounce:
// the caller holds the delivery rows locked and passes only deliveries in
// sent, delivered or unknown; any other is left alone. It returns the ids
// it bounced.
func BounceMany(ctx context.Context, tx pgx.Tx, bs []HardBounce, at time.Time) ([]int64, error) {
	if len(bs) == 0 {
		return nil, nil
	}
	ids, nids := make([]int64, len(bs)), make([]int64, len(bs))
	statuses, details := make([]string, len(bs)), make([]string, len(bs))
	for i, b := range bs {
		ids[i], nids[i], statuses[i], details[i] = b.DeliveryID, b.NoticeID, b.Status, b.Detail
	}
	rows, err := tx.Query(ctx, `
		WITH v AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS v(id, nid, status, detail)),
		moved AS (
			UPDATE deliveries d SET state = 'bounced', error_code = v.status, error = v.detail, final_at = $5, updated_at = now()
			FROM v WHERE d.id = v.id AND d.state IN ('sent', 'delivered', 'unknown')
			RETURNING d.id, v.nid, v.status, v.detail
		),
		logged AS (
			INSERT INTO delivery_events (delivery_id, notice_id, event, provider_status, error_code, detail, occurred_at)
			SELECT id, nid, $6, 'dsn', status, detail, $5 FROM moved ORDER BY id
		)
		SELECT id FROM moved`, ids, nids, statuses, details, at, EventBounced)
	if err != nil {
		return nil, fmt.Errorf("record %d hard bounces: %w", len(bs), err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("record %d hard bounces: %w", len(bs), err)
	}
	return done, nil
}
