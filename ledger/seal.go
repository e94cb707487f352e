package ledger

// The hash chain over delivery_events.
//
// Sealing walks the ledger in id order and gives each event a position
// (1, 2, 3 … without gaps) and a hash:
//
//	hash(1) = SHA-256(32 zero bytes ‖ encoding(event 1))
//	hash(n) = SHA-256(hash(n-1) ‖ encoding(event n))
//
// The rows go to ledger_chain (one per event) and each batch's head hash to
// ledger_seals; delivery_events itself is never updated, and all three tables
// refuse UPDATE, DELETE and TRUNCATE by trigger (migration 0006).
//
// The canonical encoding of an event is a JSON object without whitespace,
// with exactly these keys in this order:
//
//	{"id":1,"delivery_id":2,"notice_id":3,"event":"delivered","provider_status":"",
//	 "error_code":"","detail":"smtp_accepted",
//	 "occurred_at":"2028-01-02T03:04:05.123456Z","recorded_at":"2028-01-02T03:04:05.2Z"}
//
// numbers in decimal, strings escaped as by Go's encoding/json with HTML
// escaping off, times in UTC in RFC 3339 with the fractional seconds trimmed
// of trailing zeros (Go's time.RFC3339Nano). Events hold no personal data (the
// insert trigger redacts addresses), so the chain survives retention purges.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// sealLockKey is the advisory lock that keeps two sealers apart ("seal").
const sealLockKey int64 = 0x636f75727273

// DefaultSealBatch is the batch size used when Seal is given zero.
const DefaultSealBatch = 5000

// SealSettle is how long an event waits before it may be sealed, on top of
// the wait for older transactions described at Seal.
const SealSettle = time.Second

// GenesisHash is the previous hash of the first event in the chain.
var GenesisHash = make([]byte, sha256.Size)

// EncodeEvent returns the canonical encoding of e that the chain hashes.
func EncodeEvent(e Event) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		ID             int64  `json:"id"`
		DeliveryID     int64  `json:"delivery_id"`
		NoticeID       int64  `json:"notice_id"`
		Event          string `json:"event"`
		ProviderStatus string `json:"provider_status"`
		ErrorCode      string `json:"error_code"`
		Detail         string `json:"detail"`
		OccurredAt     string `json:"occurred_at"`
		RecordedAt     string `json:"recorded_at"`
	}{e.ID, e.DeliveryID, e.NoticeID, e.Event, e.ProviderStatus, e.ErrorCode, e.Detail,
		e.OccurredAt.UTC().Format(time.RFC3339Nano), e.RecordedAt.UTC().Format(time.RFC3339Nano)})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// ChainHash returns SHA-256(prev ‖ EncodeEvent(e)).
func ChainHash(prev []byte, e Event) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(EncodeEvent(e))
	return h.Sum(nil)
}

// Seal chains the events recorded since the last seal, in id order, in
// batches of batchSize (DefaultSealBatch if zero), each batch in its own
// transaction with one ledger_seals row. It returns how many events it
// sealed. If another sealer holds the seal lock it returns 0 at once.
//
// Sealing only reads delivery_events and takes no table lock, so senders are
// never slowed down. Ids come from a sequence and may commit out of order: a
// transaction that took id 10 may commit after one that took id 11. Seal
// therefore stops at the first event recorded at or after the cut-off
// min(now - SealSettle, start of the oldest transaction still open in the
// database): the insert trigger sets recorded_at to the clock time of the
// insert, so any id still uncommitted was taken after that cut-off and is
// higher than every event sealed. A lower id that appears later anyway
// (a clock jump, a prepared transaction) is reported by Verify as an event
// inserted below the sealed head.
func Seal(ctx context.Context, pool *pgxpool.Pool, batchSize int) (sealed int, err error) {
	if batchSize <= 0 {
		batchSize = DefaultSealBatch
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("seal: acquire connection: %w", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", sealLockKey).Scan(&locked); err != nil {
		return 0, fmt.Errorf("seal: take lock: %w", err)
	}
	if !locked {
		return 0, nil
	}
	defer func() {
		_, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", sealLockKey)
	}()

	var cutoff time.Time
	err = conn.QueryRow(ctx, `
		SELECT least(clock_timestamp() - make_interval(secs => $1),
		             coalesce((SELECT min(xact_start) FROM pg_stat_activity
		                       WHERE pid <> pg_backend_pid() AND xact_start IS NOT NULL), 'infinity'))`,
		SealSettle.Seconds()).Scan(&cutoff)
	if err != nil {
		return 0, fmt.Errorf("seal: cut-off: %w", err)
	}
	for {
		n, more, err := sealBatch(ctx, conn.Conn(), batchSize, cutoff)
		sealed += n
		if err != nil || !more {
			return sealed, err
		}
		if err := ctx.Err(); err != nil {
			return sealed, err
		}
	}
}

// sealBatch seals up to size events; more reports that a full batch was
// sealed and there may be more.
func sealBatch(ctx context.Context, conn *pgx.Conn, size int, cutoff time.Time) (n int, more bool, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()

	var lastPos, lastEvent int64
	prev := GenesisHash
	err = tx.QueryRow(ctx, `SELECT position, event_id, hash FROM ledger_chain ORDER BY position DESC LIMIT 1`).
		Scan(&lastPos, &lastEvent, &prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("seal: read chain head: %w", err)
	}
	rows, err := tx.Query(ctx, `
		SELECT id, delivery_id, notice_id, event, provider_status, error_code, detail, occurred_at, recorded_at
		FROM delivery_events WHERE id > $1 ORDER BY id LIMIT $2`, lastEvent, size)
	if err != nil {
		return 0, false, fmt.Errorf("seal: read events: %w", err)
	}
	var events []Event
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.ID, &e.DeliveryID, &e.NoticeID, &e.Event, &e.ProviderStatus, &e.ErrorCode, &e.Detail, &e.OccurredAt, &e.RecordedAt); err != nil {
			rows.Close()
			return 0, false, err
		}
		if !e.RecordedAt.Before(cutoff) {
			break // this one and every later id may still be overtaken
		}
		events = append(events, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, false, fmt.Errorf("seal: read events: %w", err)
	}
	if len(events) == 0 {
		return 0, false, nil
	}

	ids := make([]int64, len(events))
	positions := make([]int64, len(events))
	prevs := make([][]byte, len(events))
	hashes := make([][]byte, len(events))
	for i, e := range events {
		h := ChainHash(prev, e)
		ids[i], positions[i], prevs[i], hashes[i] = e.ID, lastPos+int64(i)+1, prev, h
		prev = h
	}
	var sealID int64
	err = tx.QueryRow(ctx, `
		INSERT INTO ledger_seals (first_position, last_position, last_event_id, head_hash)
		VALUES ($1, $2, $3, $4) RETURNING id`,
		positions[0], positions[len(positions)-1], ids[len(ids)-1], prev).Scan(&sealID)
	if err != nil {
		return 0, false, fmt.Errorf("seal: record seal: %w", err)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO ledger_chain (event_id, position, prev_hash, hash, seal_id)
		SELECT e, p, ph, h, $5 FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[]) AS t(e, p, ph, h)`,
		ids, positions, prevs, hashes, sealID)
	if err != nil {
		return 0, false, fmt.Errorf("seal: record chain: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, false, fmt.Errorf("seal: commit: %w", err)
	}
	return len(events), len(events) == size, nil
}

// Break kinds reported by Verify.
const (
	BreakModified = "modified_event" // an event no longer hashes to its chain hash
	BreakDeleted  = "deleted_event"  // a chained event, or a chain position, is missing
	BreakInserted = "inserted_event" // an event below the sealed head has no place in the chain
	BreakChain    = "broken_link"    // a chain row does not follow its predecessor
	BreakSeal     = "seal_mismatch"  // a seal's head hash or range disagrees with the chain
)

// Break is the first problem Verify found.
type Break struct {
	Kind     string `json:"kind"`
	Position int64  `json:"position,omitempty"`
	EventID  int64  `json:"event_id,omitempty"`
	SealID   int64  `json:"seal_id,omitempty"`
	Detail   string `json:"detail"`
}

func (b *Break) String() string {
	return fmt.Sprintf("%s at position %d (event %d): %s", b.Kind, b.Position, b.EventID, b.Detail)
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	OK           bool   `json:"ok"`
	Events       int64  `json:"events_checked"`
	Seals        int64  `json:"seals_checked"`
	HeadPosition int64  `json:"head_position"`
	HeadEventID  int64  `json:"head_event_id"`
	HeadHash     string `json:"head_hash"`
	Unsealed     int64  `json:"unsealed_events"` // events above the head, waiting for the next seal
	Break        *Break `json:"break,omitempty"`
}

// Verify recomputes the whole chain from delivery_events and reports the
// first broken link: a modified event, a deleted event or chain row, an event
// inserted below the sealed head, or a seal whose head hash disagrees. A
// broken chain is a result (OK false), not an error; errors are the
// database's.
func Verify(ctx context.Context, pool *pgxpool.Pool) (*VerifyResult, error) {
	res := &VerifyResult{}
	prev := GenesisHash
	var lastEvent int64
	fail := func(b Break) (*VerifyResult, error) {
		res.Break = &b
		return res, nil
	}

	rows, err := pool.Query(ctx, `
		SELECT c.position, c.event_id, c.prev_hash, c.hash, e.id IS NOT NULL,
		       coalesce(e.delivery_id, 0), coalesce(e.notice_id, 0), coalesce(e.event, ''),
		       coalesce(e.provider_status, ''), coalesce(e.error_code, ''), coalesce(e.detail, ''),
		       coalesce(e.occurred_at, 'epoch'), coalesce(e.recorded_at, 'epoch')
		FROM ledger_chain c LEFT JOIN delivery_events e ON e.id = c.event_id
		ORDER BY c.position`)
	if err != nil {
		return nil, fmt.Errorf("verify: read chain: %w", err)
	}
	var b *Break
	for rows.Next() {
		var pos int64
		var prevHash, hash []byte
		var present bool
		var e Event
		if err := rows.Scan(&pos, &e.ID, &prevHash, &hash, &present, &e.DeliveryID, &e.NoticeID, &e.Event,
			&e.ProviderStatus, &e.ErrorCode, &e.Detail, &e.OccurredAt, &e.RecordedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("verify: read chain: %w", err)
		}
		switch {
		case pos != res.Events+1:
			b = &Break{Kind: BreakDeleted, Position: res.Events + 1, Detail: fmt.Sprintf("chain position %d is missing (next present is %d)", res.Events+1, pos)}
		case !present:
			b = &Break{Kind: BreakDeleted, Position: pos, EventID: e.ID, Detail: "the chained event is missing from delivery_events"}
		case e.ID <= lastEvent:
			b = &Break{Kind: BreakChain, Position: pos, EventID: e.ID, Detail: fmt.Sprintf("event ids out of order (previous %d)", lastEvent)}
		case !bytes.Equal(prevHash, prev):
			b = &Break{Kind: BreakChain, Position: pos, EventID: e.ID, Detail: "previous hash does not match the hash before it"}
		case !bytes.Equal(ChainHash(prev, e), hash):
			b = &Break{Kind: BreakModified, Position: pos, EventID: e.ID, Detail: "the event's content does not match its chain hash"}
		}
		if b != nil {
			break
		}
		res.Events, lastEvent, prev = pos, e.ID, hash
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify: read chain: %w", err)
	}
	if b != nil {
		return fail(*b)
	}
	res.HeadPosition, res.HeadEventID, res.HeadHash = res.Events, lastEvent, hex.EncodeToString(prev)

	// Seals: contiguous ranges whose head hashes are the chain's.
	srows, err := pool.Query(ctx, `
		SELECT s.id, s.first_position, s.last_position, s.last_event_id, s.head_hash,
		       c.hash, coalesce(c.event_id, 0)
		FROM ledger_seals s LEFT JOIN ledger_chain c ON c.position = s.last_position
		ORDER BY s.last_position`)
	if err != nil {
		return nil, fmt.Errorf("verify: read seals: %w", err)
	}
	var next int64 = 1
	for srows.Next() {
		var id, first, last, lastEv, chainEv int64
		var head, chainHash []byte
		if err := srows.Scan(&id, &first, &last, &lastEv, &head, &chainHash, &chainEv); err != nil {
			srows.Close()
			return nil, fmt.Errorf("verify: read seals: %w", err)
		}
		switch {
		case first != next:
			b = &Break{Kind: BreakSeal, Position: first, SealID: id, Detail: fmt.Sprintf("seal starts at %d, expected %d", first, next)}
		case chainHash == nil || !bytes.Equal(chainHash, head):
			b = &Break{Kind: BreakSeal, Position: last, SealID: id, EventID: lastEv, Detail: "seal head hash does not match the chain"}
		case chainEv != lastEv:
			b = &Break{Kind: BreakSeal, Position: last, SealID: id, EventID: lastEv, Detail: fmt.Sprintf("seal head is event %d, chain has %d", lastEv, chainEv)}
		}
		if b != nil {
			break
		}
		res.Seals++
		next = last + 1
	}
	srows.Close()
	if err := srows.Err(); err != nil {
		return nil, fmt.Errorf("verify: read seals: %w", err)
	}
	if b != nil {
		return fail(*b)
	}
	if next != res.HeadPosition+1 {
		return fail(Break{Kind: BreakSeal, Position: next, Detail: fmt.Sprintf("chain head %d is not covered by a seal (seals end at %d)", res.HeadPosition, next-1)})
	}

	// Inserted: a visible event below the head that the chain does not hold.
	var inserted *int64
	err = pool.QueryRow(ctx, `
		SELECT min(e.id) FROM delivery_events e
		WHERE e.id < $1 AND NOT EXISTS (SELECT 1 FROM ledger_chain c WHERE c.event_id = e.id)`, lastEvent).Scan(&inserted)
	if err != nil {
		return nil, fmt.Errorf("verify: look for inserted events: %w", err)
	}
	if inserted != nil {
		return fail(Break{Kind: BreakInserted, EventID: *inserted, Detail: fmt.Sprintf("event %d lies below the sealed head (event %d) but is not in the chain", *inserted, lastEvent)})
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM delivery_events WHERE id > $1`, lastEvent).Scan(&res.Unsealed); err != nil {
		return nil, fmt.Errorf("verify: count unsealed events: %w", err)
	}
	res.OK = true
	return res, nil
}
