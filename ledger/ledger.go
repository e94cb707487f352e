// Package ledger records every delivery attempt of every notice and the
// status events that follow it. Events are only ever appended: the ledger is
// the evidence from which compliance reports prove that a promise was kept.
package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DBTX is what ledger functions need from a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Delivery states.
const (
	StatePending     = "pending"
	StateSending     = "sending"
	StateSent        = "sent"
	StateDelivered   = "delivered"
	StateUndelivered = "undelivered"
	StateBounced     = "bounced"
	StateFailed      = "failed"
	StateUnknown     = "unknown"
)

// FailedStates are final states in which the channel did not deliver.
var FailedStates = []string{StateUndelivered, StateBounced, StateFailed}

// Content is the rendered message of a delivery, kept until the retention
// period ends; its hash is kept for ever.
type Content struct {
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text,omitempty"`
	HTML    string `json:"html,omitempty"`
}

// Hash is the hex SHA-256 of the content's canonical encoding: subject,
// text and HTML, each preceded by its length in bytes as a decimal number
// and a colon ("7:Bonjour" …), so that no two contents share an encoding.
func (c Content) Hash() string {
	h := sha256.New()
	for _, part := range []string{c.Subject, c.Text, c.HTML} {
		h.Write(strconv.AppendInt(nil, int64(len(part)), 10))
		h.Write([]byte{':'})
		h.Write([]byte(part))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Delivery is one channel's attempt(s) at delivering one notice.
type Delivery struct {
	ID                int64      `json:"id"`
	NoticeID          int64      `json:"notice_id"`
	Channel           string     `json:"channel"`
	Provider          string     `json:"provider"`
	Address           string     `json:"address"`
	TemplateVersion   string     `json:"template_version"`
	ContentHash       string     `json:"content_hash"`
	ProviderMessageID string     `json:"provider_message_id,omitempty"`
	State             string     `json:"state"`
	Attempt           int        `json:"attempt"`
	ErrorCode         string     `json:"error_code,omitempty"`
	Error             string     `json:"error,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	SendingAt         *time.Time `json:"sending_at,omitempty"`
	SentAt            *time.Time `json:"sent_at,omitempty"`
	FinalAt           *time.Time `json:"final_at,omitempty"`
}

// Event is one status change in the ledger.
type Event struct {
	ID             int64     `json:"id"`
	DeliveryID     int64     `json:"delivery_id"`
	NoticeID       int64     `json:"notice_id"`
	Event          string    `json:"event"`
	ProviderStatus string    `json:"provider_status,omitempty"`
	ErrorCode      string    `json:"error_code,omitempty"`
	Detail         string    `json:"detail,omitempty"`
	OccurredAt     time.Time `json:"occurred_at"`
	RecordedAt     time.Time `json:"recorded_at"`
	// Facts are what the event establishes (a notice's kind and recipient,
	// an attempt's content hash and masked address, a provider's message
	// id, an evidence level …), sealed with it. Values are strings; no
	// personal data beyond the beneficiary number and masked addresses.
	Facts map[string]string `json:"facts,omitempty"`
}

// Attempt describes a send about to be made.
type Attempt struct {
	NoticeID        int64
	Channel         string
	Provider        string
	Address         string
	TemplateVersion string
	Content         Content
	At              time.Time
}

// StartAttempt creates or reuses the notice's delivery row for the channel,
// marks it sending, and appends a "sending" event. It returns the delivery id
// and the attempt number.
func StartAttempt(ctx context.Context, tx DBTX, a Attempt) (id int64, attempt int, err error) {
	content, err := json.Marshal(a.Content)
	if err != nil {
		return 0, 0, err
	}
	err = tx.QueryRow(ctx, `
		INSERT INTO deliveries (notice_id, channel, provider, address, template_version, content, content_hash,
		                        state, attempt, sending_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'sending', 1, $8, $8, $8)
		ON CONFLICT (notice_id, channel) DO UPDATE
		SET provider = EXCLUDED.provider, address = EXCLUDED.address,
		    template_version = EXCLUDED.template_version, content = EXCLUDED.content,
		    content_hash = EXCLUDED.content_hash, state = 'sending',
		    attempt = deliveries.attempt + 1, sending_at = EXCLUDED.sending_at, updated_at = EXCLUDED.updated_at
		RETURNING id, attempt`,
		a.NoticeID, a.Channel, a.Provider, a.Address, a.TemplateVersion, content, a.Content.Hash(), a.At,
	).Scan(&id, &attempt)
	if err != nil {
		return 0, 0, fmt.Errorf("start attempt for notice %d on %s: %w", a.NoticeID, a.Channel, err)
	}
	err = AppendEvent(ctx, tx, Event{DeliveryID: id, NoticeID: a.NoticeID, Event: StateSending,
		Detail: fmt.Sprintf("attempt %d via %s", attempt, a.Provider), OccurredAt: a.At, Facts: a.facts()})
	return id, attempt, err
}

// facts are the sealed facts of an attempt: what was sent, how, to whom
// (masked).
func (a Attempt) facts() map[string]string {
	return map[string]string{
		"channel": a.Channel, "provider": a.Provider, "template_version": a.TemplateVersion,
		"content_hash": a.Content.Hash(), "address_masked": MaskAddress(a.Channel, a.Address),
	}
}

func factsJSON(f map[string]string) []byte {
	if len(f) == 0 {
		return []byte("{}")
	}
	b, _ := json.Marshal(f) // a map of strings always encodes
	return b
}

// AppendEvent appends one event to the ledger. Its detail is reduced to
// what may be sealed for ever (see ReduceReply); the database's insert
// trigger also masks addresses and phone numbers in every text column.
func AppendEvent(ctx context.Context, db DBTX, e Event) error {
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now()
	}
	var deliveryID, noticeID *int64
	if e.DeliveryID != 0 {
		deliveryID = &e.DeliveryID
	}
	if e.NoticeID != 0 {
		noticeID = &e.NoticeID
	}
	_, err := db.Exec(ctx, `
		INSERT INTO delivery_events (delivery_id, notice_id, event, provider_status, error_code, detail, occurred_at, facts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		deliveryID, noticeID, e.Event, e.ProviderStatus, e.ErrorCode, ReduceReply(e.Detail), e.OccurredAt, factsJSON(e.Facts))
	if err != nil {
		return fmt.Errorf("append %s event for delivery %d: %w", e.Event, e.DeliveryID, err)
	}
	return nil
}

// Accepted records that the provider accepted the message. When delivered is
// true, acceptance is the channel's final evidence (named by evidence) and the
// delivery becomes delivered; otherwise it becomes sent and waits for a
// receipt. A receipt that arrived first (a higher state) is never overwritten.
func Accepted(ctx context.Context, tx DBTX, deliveryID, noticeID int64, messageID string, delivered bool, evidence string, at time.Time) (state string, err error) {
	target := StateSent
	if delivered {
		target = StateDelivered
	}
	var channel, provider string
	err = tx.QueryRow(ctx, `
		UPDATE deliveries
		SET provider_message_id = coalesce(provider_message_id, nullif($2, '')),
		    sent_at = coalesce(sent_at, $4),
		    state = CASE WHEN state IN ('pending', 'sending') OR (state = 'sent' AND $3 = 'delivered') THEN $3 ELSE state END,
		    final_at = CASE WHEN $3 = 'delivered' THEN coalesce(final_at, $4) ELSE final_at END,
		    error_code = '', error = '', updated_at = $4
		WHERE id = $1
		RETURNING state, channel, provider`, deliveryID, messageID, target, at).Scan(&state, &channel, &provider)
	if err != nil {
		return "", fmt.Errorf("record acceptance of delivery %d: %w", deliveryID, err)
	}
	// Where acceptance is the final evidence, one "delivered" event says so
	// (its detail names the evidence); otherwise "sent" waits for a receipt.
	e := Event{DeliveryID: deliveryID, NoticeID: noticeID, Event: StateSent, Detail: "accepted by provider", OccurredAt: at,
		Facts: acceptFacts(channel, provider, messageID, delivered, evidence)}
	if delivered {
		e.Event, e.Detail = StateDelivered, evidence
	}
	if err := AppendEvent(ctx, tx, e); err != nil {
		return "", err
	}
	return state, nil
}

// acceptFacts are the sealed facts of an acceptance: the provider's message
// id and, where acceptance is the channel's final evidence, its level.
// The evidence may carry the relay's reply after the level
// ("smtp_accepted: 250 2.0.0 OK: queued"): the level is the evidence fact,
// the reply (reduced) the relay_reply fact.
func acceptFacts(channel, provider, messageID string, delivered bool, evidence string) map[string]string {
	level, reply, _ := strings.Cut(evidence, ": ")
	f := map[string]string{"channel": channel, "provider": provider, "provider_message_id": messageID, "accepted_as": level}
	if reply != "" {
		f["relay_reply"] = ReduceReply(reply)
	}
	if delivered {
		f["evidence"] = level
	}
	return f
}

// Failed records a failed attempt. A final failure (permanent, or retries
// exhausted) moves the delivery to failed; otherwise it returns to pending
// for a retry.
func Failed(ctx context.Context, tx DBTX, deliveryID, noticeID int64, final bool, code, msg string, at time.Time) error {
	state, event := StatePending, "retry"
	msg = ReduceReply(msg)
	if final {
		state, event = StateFailed, StateFailed
	}
	_, err := tx.Exec(ctx, `
		UPDATE deliveries SET state = $2, error_code = $3, error = $4, updated_at = $5,
		       final_at = CASE WHEN $2 = 'failed' THEN $5 ELSE final_at END
		WHERE id = $1 AND state IN ('pending', 'sending')`, deliveryID, state, code, msg, at)
	if err != nil {
		return fmt.Errorf("record failure of delivery %d: %w", deliveryID, err)
	}
	return AppendEvent(ctx, tx, Event{DeliveryID: deliveryID, NoticeID: noticeID, Event: event, ErrorCode: code, Detail: msg, OccurredAt: at})
}

const deliveryColumns = `id, notice_id, channel, provider, address, template_version, content_hash,
	coalesce(provider_message_id, ''), state, attempt, error_code, error, created_at, sending_at, sent_at, final_at`

func scanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	err := row.Scan(&d.ID, &d.NoticeID, &d.Channel, &d.Provider, &d.Address, &d.TemplateVersion, &d.ContentHash,
		&d.ProviderMessageID, &d.State, &d.Attempt, &d.ErrorCode, &d.Error, &d.CreatedAt, &d.SendingAt, &d.SentAt, &d.FinalAt)
	return d, err
}

// DeliveriesForNotice lists a notice's deliveries in creation order.
func DeliveriesForNotice(ctx context.Context, db DBTX, noticeID int64) ([]Delivery, error) {
	rows, err := db.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE notice_id = $1 ORDER BY id`, noticeID)
	if err != nil {
		return nil, fmt.Errorf("list deliveries of notice %d: %w", noticeID, err)
	}
	return collect(rows, scanDelivery)
}

// EventsForNotice lists a notice's ledger events in order.
func EventsForNotice(ctx context.Context, db DBTX, noticeID int64) ([]Event, error) {
	rows, err := db.Query(ctx, `
		SELECT `+eventColumns+` FROM delivery_events WHERE notice_id = $1 ORDER BY id`, noticeID)
	if err != nil {
		return nil, fmt.Errorf("list events of notice %d: %w", noticeID, err)
	}
	return collect(rows, scanEvent)
}

// StartAttempts records first attempts for many notices at once (a
// campaign batch) and returns their delivery ids in order. The notices must
// have no delivery yet on those channels. With keepContent false only the
// content's hash is stored: the text can be reproduced from the template
// version and the notice's data (templates.RenderVersion), and the hash
// proves the reproduction is what was sent.
func StartAttempts(ctx context.Context, tx DBTX, attempts []Attempt, keepContent bool) ([]int64, error) {
	n := len(attempts)
	noticeIDs := make([]int64, n)
	chans, providers, addrs, versions, hashes := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	contents := make([][]byte, n)
	var at time.Time
	for i, a := range attempts {
		var b []byte
		if keepContent {
			var err error
			if b, err = json.Marshal(a.Content); err != nil {
				return nil, err
			}
		}
		noticeIDs[i], chans[i], providers[i], addrs[i], versions[i] = a.NoticeID, a.Channel, a.Provider, a.Address, a.TemplateVersion
		contents[i], hashes[i] = b, a.Content.Hash()
		at = a.At
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO deliveries (notice_id, channel, provider, address, template_version, content, content_hash,
		                        state, attempt, sending_at, created_at, updated_at)
		SELECT v.notice_id, v.channel, v.provider, v.address, v.version, v.content, v.hash, 'sending', 1, $8, $8, $8
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[])
		     WITH ORDINALITY AS v(notice_id, channel, provider, address, version, content, hash, ord)
		ORDER BY v.ord
		RETURNING id, notice_id`, noticeIDs, chans, providers, addrs, versions, contents, hashes, at)
	if err != nil {
		return nil, fmt.Errorf("start %d attempts: %w", n, err)
	}
	byNotice := make(map[int64]int64, n)
	for rows.Next() {
		var id, noticeID int64
		if err := rows.Scan(&id, &noticeID); err != nil {
			rows.Close()
			return nil, err
		}
		byNotice[noticeID] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("start %d attempts: %w", n, err)
	}
	ids := make([]int64, n)
	for i, a := range attempts {
		ids[i] = byNotice[a.NoticeID]
	}
	masked := make([]string, n)
	for i, a := range attempts {
		masked[i] = MaskAddress(a.Channel, a.Address)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO delivery_events (delivery_id, notice_id, event, detail, occurred_at, facts)
		SELECT d, nid, 'sending', 'attempt 1 via ' || p, $4,
		       jsonb_build_object('channel', ch, 'provider', p, 'template_version', tv, 'content_hash', h, 'address_masked', m)
		FROM unnest($1::bigint[], $2::bigint[], $3::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS v(d, nid, p, ch, tv, h, m)`,
		ids, noticeIDs, providers, at, chans, versions, hashes, masked); err != nil {
		return nil, fmt.Errorf("append %d sending events: %w", n, err)
	}
	return ids, nil
}

// Acceptance is a provider's acceptance of one message of a batch.
type Acceptance struct {
	DeliveryID, NoticeID int64
	Channel              string
	// Provider names the delivery's provider, as recorded when the attempt
	// started; empty, it is read from the delivery row.
	Provider  string
	MessageID string
	Delivered bool
	Evidence  string
	// RelayReply, when not empty, is stored on the delivery (see
	// SetRelayReplies).
	RelayReply string
}

// acceptManySQL records a group of acceptances in one statement
// (courrier_accept_many, migration 0095), so that a group needs a single
// round trip and, run outside an explicit transaction, a single implicit
// one: each delivery row is rewritten once (relay reply included), each
// acceptance appends one event whose facts are those of acceptFacts, and
// each notice moves to sent or delivered.
const acceptManySQL = `SELECT deliveries_done, events_done FROM courrier_accept_many($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// AcceptMany records many acceptances at once, with the same rules as
// Accepted, and moves their notices to sent or delivered. It is one
// statement: given a pool rather than a transaction it commits on its own.
func AcceptMany(ctx context.Context, db DBTX, acc []Acceptance, at time.Time) error {
	if len(acc) == 0 {
		return nil
	}
	n := len(acc)
	dids, nids := make([]int64, n), make([]int64, n)
	chans, mids, evidence, providers, replies := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	delivered := make([]bool, n)
	for i, a := range acc {
		dids[i], nids[i], chans[i], mids[i], delivered[i], evidence[i] = a.DeliveryID, a.NoticeID, a.Channel, a.MessageID, a.Delivered, a.Evidence
		providers[i], replies[i] = a.Provider, a.RelayReply
	}
	var updated, appended int
	if err := db.QueryRow(ctx, acceptManySQL, dids, nids, delivered, evidence, chans, mids, providers, replies, at).
		Scan(&updated, &appended); err != nil {
		return fmt.Errorf("record %d acceptances: %w", n, err)
	}
	if updated != n || appended != n {
		return fmt.Errorf("record %d acceptances: %d deliveries found, %d events appended", n, updated, appended)
	}
	return nil
}

// eventColumns are the delivery_events columns scanEvent reads.
const eventColumns = `id, coalesce(delivery_id, 0), coalesce(notice_id, 0), event, provider_status, error_code, detail,
	occurred_at, recorded_at, facts`

func scanEvent(row pgx.Row) (Event, error) {
	var e Event
	var facts []byte
	if err := row.Scan(&e.ID, &e.DeliveryID, &e.NoticeID, &e.Event, &e.ProviderStatus, &e.ErrorCode, &e.Detail,
		&e.OccurredAt, &e.RecordedAt, &facts); err != nil {
		return e, err
	}
	if len(facts) > 2 {
		if err := json.Unmarshal(facts, &e.Facts); err != nil {
			return e, fmt.Errorf("event %d: facts: %w", e.ID, err)
		}
	}
	return e, nil
}

// EventsByID loads events by id, in id order.
func EventsByID(ctx context.Context, db DBTX, ids []int64) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM delivery_events WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("load %d events: %w", len(ids), err)
	}
	return collect(rows, scanEvent)
}

// collect reads every row with scan and closes rows: one loop for the
// ledger's listings.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
}
