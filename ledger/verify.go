package ledger

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Break kinds reported by Verify.
const (
	BreakModified   = "modified_event"      // an event no longer hashes to its leaf
	BreakDeleted    = "deleted_event"       // a sealed event, or a leaf, is missing
	BreakInserted   = "inserted_event"      // an event below the sealed head has no leaf
	BreakTree       = "tree_mismatch"       // the tree's nodes or a checkpoint disagree with the events
	BreakSignature  = "bad_signature"       // a checkpoint is not signed by the ledger key
	BreakWitness    = "witness_mismatch"    // a saved checkpoint disagrees with the tree
	BreakProjection = "projection_mismatch" // a report projection disagrees with the sealed events
	BreakMutable    = "record_disagrees"    // notices/deliveries disagree with the sealed events
	BreakUnsigned   = "unsigned_tree"       // leaves beyond the last checkpoint
	BreakTimestamp  = "bad_timestamp"       // a checkpoint's RFC 3161 token does not verify
)

// Break is one problem Verify found.
type Break struct {
	Kind     string `json:"kind"`
	Leaf     int64  `json:"leaf,omitempty"`
	EventID  int64  `json:"event_id,omitempty"`
	NoticeID int64  `json:"notice_id,omitempty"`
	Detail   string `json:"detail"`
}

func (b Break) String() string {
	s := b.Kind
	if b.EventID != 0 {
		s += fmt.Sprintf(" (event %d, leaf %d)", b.EventID, b.Leaf)
	}
	if b.NoticeID != 0 {
		s += fmt.Sprintf(" notice %d", b.NoticeID)
	}
	return s + ": " + b.Detail
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Verifier checks checkpoint signatures. Required.
	Verifier note.Verifier
	// Witnesses are checkpoints saved outside the database (signed notes):
	// the tree must have had each one's root at its size.
	Witnesses []string
	// TSA checks timestamp tokens, when set.
	TSA TokenVerifier
	// MaxBreaks bounds the problems reported (default 50).
	MaxBreaks int
}

// TokenVerifier checks an RFC 3161 token over data and returns its time.
type TokenVerifier interface {
	VerifyToken(token, data []byte) (time.Time, error)
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	OK          bool        `json:"ok"`
	Events      int64       `json:"events_checked"`
	Checkpoints int64       `json:"checkpoints_checked"`
	Timestamps  int64       `json:"timestamps_checked"`
	Witnesses   int64       `json:"witnesses_checked"`
	Notices     int64       `json:"projection_notices_checked"`
	Requests    int64       `json:"projection_requests_checked"`
	TreeSize    uint64      `json:"tree_size"`
	RootHash    string      `json:"root_hash"`
	Checkpoint  *Checkpoint `json:"checkpoint,omitempty"`
	Unsealed    int64       `json:"unsealed_events"` // events above the head, waiting for the next seal
	Breaks      []Break     `json:"breaks,omitempty"`
}

type storedCheckpoint struct {
	size  uint64
	root  []byte
	note  string
	token []byte
	at    time.Time
}

// Verify recomputes the Merkle tree from delivery_events and checks, in
// order: every leaf's event is present and hashes to the stored leaf; no
// event below the head lacks a leaf; every checkpoint is signed by the key
// and its root is the recomputed root at its size (so a history rewritten
// consistently in every table is still caught, as the key is not in the
// database); every witness checkpoint matches; the projections equal those
// recomputed from the events, row by row; and the notices and deliveries
// tables agree with the sealed facts. Problems are results (OK false), not
// errors; errors are the database's.
func Verify(ctx context.Context, pool *pgxpool.Pool, opts VerifyOptions) (*VerifyResult, error) {
	if opts.Verifier == nil {
		return nil, fmt.Errorf("verify: no public key")
	}
	if opts.MaxBreaks <= 0 {
		opts.MaxBreaks = 50
	}
	res := &VerifyResult{}
	add := func(b Break) bool {
		res.Breaks = append(res.Breaks, b)
		return len(res.Breaks) < opts.MaxBreaks
	}

	// Checkpoints and witnesses, by size.
	var cps []storedCheckpoint
	rows, err := pool.Query(ctx, `SELECT tree_size, root_hash, note, tsa_token, signed_at FROM ledger_checkpoints ORDER BY tree_size`)
	if err != nil {
		return nil, fmt.Errorf("verify: read checkpoints: %w", err)
	}
	for rows.Next() {
		var c storedCheckpoint
		var size int64
		if err := rows.Scan(&size, &c.root, &c.note, &c.token, &c.at); err != nil {
			rows.Close()
			return nil, err
		}
		c.size = uint64(size)
		cps = append(cps, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify: read checkpoints: %w", err)
	}
	type target struct {
		root    []byte
		what    string
		witness bool
	}
	targets := map[uint64][]target{}
	for _, c := range cps {
		cp, err := OpenCheckpoint(c.note, opts.Verifier)
		if err != nil {
			if !add(Break{Kind: BreakSignature, Detail: fmt.Sprintf("checkpoint of size %d signed %s: %v", c.size, c.at.UTC().Format(time.RFC3339), err)}) {
				return res, nil
			}
			continue
		}
		if cp.Size != c.size || !bytes.Equal(cp.RootHash, c.root) {
			add(Break{Kind: BreakTree, Detail: fmt.Sprintf("checkpoint row of size %d root %x does not match its signed note (size %d root %x)", c.size, c.root, cp.Size, cp.RootHash)})
		}
		if opts.TSA != nil && c.token != nil {
			if _, err := opts.TSA.VerifyToken(c.token, []byte(c.note)); err != nil {
				add(Break{Kind: BreakTimestamp, Detail: fmt.Sprintf("checkpoint of size %d: timestamp token: %v", c.size, err)})
			} else {
				res.Timestamps++
			}
		}
		targets[cp.Size] = append(targets[cp.Size], target{cp.RootHash, fmt.Sprintf("signed checkpoint of size %d (%s)", cp.Size, c.at.UTC().Format(time.RFC3339)), false})
		res.Checkpoints++
	}
	for _, w := range opts.Witnesses {
		cp, err := OpenCheckpoint(w, opts.Verifier)
		if err != nil {
			add(Break{Kind: BreakWitness, Detail: "witness checkpoint: " + err.Error()})
			continue
		}
		targets[cp.Size] = append(targets[cp.Size], target{cp.RootHash, fmt.Sprintf("witness checkpoint of size %d", cp.Size), true})
	}

	// The leaves, in order, with their events and stored leaf hashes.
	rows, err = pool.Query(ctx, `
		SELECT l.idx, l.event_id, e.id IS NOT NULL, t.hash,
		       coalesce(e.delivery_id, 0), coalesce(e.notice_id, 0), coalesce(e.event, ''),
		       coalesce(e.provider_status, ''), coalesce(e.error_code, ''), coalesce(e.detail, ''),
		       coalesce(e.occurred_at, 'epoch'), coalesce(e.recorded_at, 'epoch'), coalesce(e.facts, '{}')
		FROM ledger_leaves l
		LEFT JOIN delivery_events e ON e.id = l.event_id
		LEFT JOIN ledger_tree t ON t.level = 0 AND t.idx = l.idx
		ORDER BY l.idx`)
	if err != nil {
		return nil, fmt.Errorf("verify: read leaves: %w", err)
	}
	rng := rangeFactory.NewEmptyRange(0)
	proj := NewProjection()
	var lastEvent int64
	var rowErr error
	stop := false
	for rows.Next() && !stop {
		var idx int64
		var present bool
		var stored, facts []byte
		var e Event
		if err := rows.Scan(&idx, &e.ID, &present, &stored, &e.DeliveryID, &e.NoticeID, &e.Event, &e.ProviderStatus,
			&e.ErrorCode, &e.Detail, &e.OccurredAt, &e.RecordedAt, &facts); err != nil {
			rowErr = err
			break
		}
		if len(facts) > 2 {
			if err := jsonUnmarshal(facts, &e.Facts); err != nil {
				stop = !add(Break{Kind: BreakModified, Leaf: idx, EventID: e.ID, NoticeID: e.NoticeID, Detail: "facts are not an object of strings"})
			}
		}
		var leaf []byte
		switch {
		case uint64(idx) != rng.End():
			stop = !add(Break{Kind: BreakDeleted, Leaf: int64(rng.End()), Detail: fmt.Sprintf("leaf %d is missing (next present is %d)", rng.End(), idx)})
		case !present:
			stop = !add(Break{Kind: BreakDeleted, Leaf: idx, EventID: e.ID, Detail: fmt.Sprintf("sealed event %d is missing from delivery_events", e.ID)})
		case e.ID <= lastEvent:
			stop = !add(Break{Kind: BreakTree, Leaf: idx, EventID: e.ID, Detail: fmt.Sprintf("event ids out of order (previous %d)", lastEvent)})
		default:
			leaf = LeafHash(e)
			if !bytes.Equal(leaf, stored) {
				stop = !add(Break{Kind: BreakModified, Leaf: idx, EventID: e.ID, NoticeID: e.NoticeID,
					Detail: fmt.Sprintf("%s event no longer hashes to its sealed leaf: it was changed after sealing", e.Event)})
			}
		}
		if leaf == nil {
			leaf = stored
		}
		if leaf == nil {
			leaf = make([]byte, 32)
		}
		if uint64(idx) == rng.End() {
			if err := rng.Append(leaf, nil); err != nil {
				return nil, err
			}
		}
		proj.Apply(e)
		res.Events++
		lastEvent = max(lastEvent, e.ID)
		for _, t := range targets[rng.End()] {
			root, _ := rng.GetRootHash(nil)
			if !bytes.Equal(root, t.root) {
				kind := BreakTree
				if t.witness {
					kind = BreakWitness
				}
				stop = stop || !add(Break{Kind: kind, Detail: fmt.Sprintf("%s has root %x but the events give %x: sealed history was rewritten before leaf %d",
					t.what, t.root, root, rng.End())})
			} else if t.witness {
				res.Witnesses++
			}
		}
	}
	rows.Close()
	if rowErr == nil {
		rowErr = rows.Err()
	}
	if rowErr != nil {
		return nil, fmt.Errorf("verify: read leaves: %w", rowErr)
	}
	if stop {
		return res, nil
	}
	res.TreeSize = rng.End()
	if root, _ := rng.GetRootHash(nil); root != nil {
		res.RootHash = hex.EncodeToString(root)
	}
	for size, ts := range targets {
		if size > res.TreeSize {
			for _, t := range ts {
				add(Break{Kind: kindFor(t.witness), Detail: fmt.Sprintf("%s is beyond the tree (size %d): sealed events were removed", t.what, res.TreeSize)})
			}
		}
	}
	if len(cps) > 0 {
		last := cps[len(cps)-1]
		res.Checkpoint = &Checkpoint{Size: last.size, RootHash: last.root, Note: last.note, TSAToken: last.token, SignedAt: last.at}
		if last.size < res.TreeSize {
			add(Break{Kind: BreakUnsigned, Detail: fmt.Sprintf("leaves %d to %d are not covered by a signed checkpoint", last.size, res.TreeSize-1)})
		}
	} else if res.TreeSize > 0 {
		add(Break{Kind: BreakUnsigned, Detail: "the tree has no signed checkpoint"})
	}

	// Inserted: a visible event below the head that has no leaf.
	var inserted *int64
	if err := pool.QueryRow(ctx, `
		SELECT min(e.id) FROM delivery_events e
		WHERE e.id < $1 AND NOT EXISTS (SELECT 1 FROM ledger_leaves l WHERE l.event_id = e.id)`, lastEvent).Scan(&inserted); err != nil {
		return nil, fmt.Errorf("verify: look for inserted events: %w", err)
	}
	if inserted != nil {
		var ev string
		var nid int64
		_ = pool.QueryRow(ctx, `SELECT event, coalesce(notice_id, 0) FROM delivery_events WHERE id = $1`, *inserted).Scan(&ev, &nid)
		add(Break{Kind: BreakInserted, EventID: *inserted, NoticeID: nid,
			Detail: fmt.Sprintf("%s event %d lies below the sealed head (event %d) but was never sealed: it was inserted afterwards", ev, *inserted, lastEvent)})
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM delivery_events WHERE id > $1`, lastEvent).Scan(&res.Unsealed); err != nil {
		return nil, fmt.Errorf("verify: count unsealed events: %w", err)
	}

	if err := compareProjections(ctx, pool, proj, res, add); err != nil {
		return nil, err
	}
	if err := crossCheck(ctx, pool, lastEvent, add); err != nil {
		return nil, err
	}
	res.OK = len(res.Breaks) == 0
	return res, nil
}

func kindFor(witness bool) string {
	if witness {
		return BreakWitness
	}
	return BreakTree
}

func timeEq(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func int64Eq(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// diffNotice names the first column in which stored differs from want.
func diffNotice(stored, want *NoticeFacts) string {
	switch {
	case stored.Kind != want.Kind:
		return fmt.Sprintf("kind is %q, sealed events say %q", stored.Kind, want.Kind)
	case stored.Recipient != want.Recipient || stored.RecipientID != want.RecipientID:
		return fmt.Sprintf("recipient is %q, sealed events say %q", stored.Recipient, want.Recipient)
	case stored.Caf != want.Caf:
		return fmt.Sprintf("caf is %q, sealed events say %q", stored.Caf, want.Caf)
	case stored.Test != want.Test:
		return fmt.Sprintf("test is %v, sealed events say %v", stored.Test, want.Test)
	case !int64Eq(stored.CampaignID, want.CampaignID):
		return "campaign differs from the sealed events"
	case !timeEq(stored.CreatedAt, want.CreatedAt) || !timeEq(stored.DueBy, want.DueBy):
		return "created_at or due_by differs from the sealed events"
	case stored.ProvenLevel != want.ProvenLevel || !timeEq(stored.ProvenAt, want.ProvenAt) || stored.ProvenChannel != want.ProvenChannel:
		return fmt.Sprintf("proven delivery is %s at %s, sealed events say %s at %s",
			orNone(stored.ProvenLevel), fmtTime(stored.ProvenAt), orNone(want.ProvenLevel), fmtTime(want.ProvenAt))
	case stored.WeakLevel != want.WeakLevel || !timeEq(stored.WeakAt, want.WeakAt) || stored.WeakChannel != want.WeakChannel:
		return fmt.Sprintf("weak delivery evidence is %s at %s, sealed events say %s at %s",
			orNone(stored.WeakLevel), fmtTime(stored.WeakAt), orNone(want.WeakLevel), fmtTime(want.WeakAt))
	case !timeEq(stored.RevokedAt, want.RevokedAt):
		return fmt.Sprintf("revoked_at is %s, sealed events say %s", fmtTime(stored.RevokedAt), fmtTime(want.RevokedAt))
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func diffRequest(stored, want *RequestFacts) string {
	switch {
	case stored.Kind != want.Kind || stored.MinimumIncome != want.MinimumIncome || stored.Channel != want.Channel:
		return fmt.Sprintf("kind/minimum_income/channel are %s/%v/%s, sealed events say %s/%v/%s",
			stored.Kind, stored.MinimumIncome, stored.Channel, want.Kind, want.MinimumIncome, want.Channel)
	case stored.Recipient != want.Recipient || stored.RecipientID != want.RecipientID || stored.Caf != want.Caf:
		return "recipient or caf differs from the sealed events"
	case !timeEq(stored.ReceivedAt, want.ReceivedAt):
		return fmt.Sprintf("received_at is %s, sealed events say %s", fmtTime(stored.ReceivedAt), fmtTime(want.ReceivedAt))
	case !timeEq(stored.AckDueBy, want.AckDueBy) || !timeEq(stored.AnswerDueBy, want.AnswerDueBy):
		return "a deadline differs from the sealed events"
	case !int64Eq(stored.AckNoticeID, want.AckNoticeID) || !int64Eq(stored.AnswerNoticeID, want.AnswerNoticeID):
		return "the acknowledgement or answer notice differs from the sealed events"
	}
	return ""
}

// compareProjections compares the stored projections with proj, row by row.
func compareProjections(ctx context.Context, pool *pgxpool.Pool, proj *Projection, res *VerifyResult, add func(Break) bool) error {
	seen := make(map[int64]bool, len(proj.Notices))
	rows, err := pool.Query(ctx, `SELECT `+noticeFactColumns+` FROM proj_notices ORDER BY notice_id`)
	if err != nil {
		return fmt.Errorf("verify: read notice projection: %w", err)
	}
	for rows.Next() {
		stored, err := scanNoticeFacts(rows)
		if err != nil {
			rows.Close()
			return err
		}
		res.Notices++
		seen[stored.NoticeID] = true
		want := proj.Notices[stored.NoticeID]
		if want == nil {
			add(Break{Kind: BreakProjection, NoticeID: stored.NoticeID, Detail: "the report projection holds a notice that no sealed event created"})
			continue
		}
		if d := diffNotice(stored, want); d != "" {
			add(Break{Kind: BreakProjection, NoticeID: stored.NoticeID, Detail: "report projection: " + d})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify: read notice projection: %w", err)
	}
	var missing []int64
	for id := range proj.Notices {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
	for _, id := range missing {
		add(Break{Kind: BreakProjection, NoticeID: id, Detail: "the report projection lacks this sealed notice"})
	}

	seenReq := map[string]bool{}
	rows, err = pool.Query(ctx, `SELECT `+requestFactColumns+` FROM proj_requests ORDER BY request`)
	if err != nil {
		return fmt.Errorf("verify: read request projection: %w", err)
	}
	for rows.Next() {
		stored, err := scanRequestFacts(rows)
		if err != nil {
			rows.Close()
			return err
		}
		res.Requests++
		seenReq[stored.Request] = true
		want := proj.Requests[stored.Request]
		if want == nil {
			add(Break{Kind: BreakProjection, Detail: fmt.Sprintf("request %s: the report projection holds a request no sealed event received", stored.Request)})
			continue
		}
		if d := diffRequest(stored, want); d != "" {
			add(Break{Kind: BreakProjection, Detail: fmt.Sprintf("request %s: report projection: %s", stored.Request, d)})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify: read request projection: %w", err)
	}
	for ref := range proj.Requests {
		if !seenReq[ref] {
			add(Break{Kind: BreakProjection, Detail: fmt.Sprintf("request %s: the report projection lacks this sealed request", ref)})
		}
	}
	return nil
}

// crossCheck compares the operational tables (notices, deliveries), which
// reports never read, with the sealed facts, so that an edit there is named
// rather than silently ignored.
func crossCheck(ctx context.Context, pool *pgxpool.Pool, head int64, add func(Break) bool) error {
	rows, err := pool.Query(ctx, `
		WITH sealed AS (
			SELECT e.notice_id, e.facts FROM delivery_events e JOIN ledger_leaves l ON l.event_id = e.id
			WHERE e.event = 'notice_created'
		)
		SELECT n.id, 'kind', n.kind, s.facts->>'kind' FROM notices n JOIN sealed s ON s.notice_id = n.id
		WHERE n.kind IS DISTINCT FROM s.facts->>'kind'
		UNION ALL
		SELECT n.id, 'test', n.test::text, s.facts->>'test' FROM notices n JOIN sealed s ON s.notice_id = n.id
		WHERE n.test::text IS DISTINCT FROM s.facts->>'test'
		UNION ALL
		SELECT n.id, 'delivered_at', courrier_ts(n.delivered_at), coalesce(courrier_ts(least(p.proven_at, p.weak_at)), '')
		FROM notices n JOIN proj_notices p ON p.notice_id = n.id
		WHERE n.delivered_at IS NOT NULL AND p.revoked_at IS NULL
		  AND n.delivered_at IS DISTINCT FROM least(p.proven_at, p.weak_at)
		  AND NOT EXISTS (SELECT 1 FROM delivery_events u WHERE u.notice_id = n.id AND u.id > $1)
		ORDER BY 1, 2`, head)
	if err != nil {
		return fmt.Errorf("verify: cross-check notices: %w", err)
	}
	for rows.Next() {
		var id int64
		var col, have, want string
		if err := rows.Scan(&id, &col, &have, &want); err != nil {
			rows.Close()
			return err
		}
		if want == "" {
			want = "no delivery evidence"
		}
		if !add(Break{Kind: BreakMutable, NoticeID: id, Detail: fmt.Sprintf("notices.%s is %q but the sealed events say %q", col, have, want)}) {
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify: cross-check notices: %w", err)
	}

	rows, err = pool.Query(ctx, `
		WITH att AS (
			SELECT DISTINCT ON (e.delivery_id) e.delivery_id, e.notice_id, e.facts
			FROM delivery_events e
			WHERE e.event = 'sending' AND e.delivery_id IS NOT NULL AND e.id <= $1 AND e.facts ? 'content_hash'
			ORDER BY e.delivery_id, e.id DESC
		), ev AS (
			SELECT DISTINCT e.delivery_id FROM delivery_events e
			WHERE e.event IN ('delivered', 'presumed_delivered', 'print_handed') AND e.delivery_id IS NOT NULL AND e.id <= $1
		)
		SELECT d.id, d.notice_id, 'content_hash', d.content_hash, a.facts->>'content_hash'
		FROM deliveries d JOIN att a ON a.delivery_id = d.id
		WHERE d.content_hash IS DISTINCT FROM a.facts->>'content_hash'
		UNION ALL
		SELECT d.id, d.notice_id, 'template_version', d.template_version, a.facts->>'template_version'
		FROM deliveries d JOIN att a ON a.delivery_id = d.id
		WHERE d.template_version IS DISTINCT FROM a.facts->>'template_version'
		UNION ALL
		SELECT d.id, d.notice_id, 'state', d.state, 'no delivered event'
		FROM deliveries d JOIN att a ON a.delivery_id = d.id
		WHERE d.state = 'delivered' AND NOT EXISTS (SELECT 1 FROM ev WHERE ev.delivery_id = d.id)
		ORDER BY 2, 1, 3`, head)
	if err != nil {
		return fmt.Errorf("verify: cross-check deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var did, nid int64
		var col, have, want string
		if err := rows.Scan(&did, &nid, &col, &have, &want); err != nil {
			return err
		}
		if !add(Break{Kind: BreakMutable, NoticeID: nid, Detail: fmt.Sprintf("deliveries.%s of delivery %d is %q but the sealed events say %q", col, did, have, want)}) {
			break
		}
	}
	return rows.Err()
}

// InclusionProof returns the proof that leaf idx is in the tree of the
// given size, from the stored nodes.
func InclusionProof(ctx context.Context, db DBTX, idx, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(idx, size)
	if err != nil {
		return nil, err
	}
	hashes, err := nodeHashes(ctx, db, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// ConsistencyProof returns the proof that the tree of size1 is a prefix of
// the tree of size2, from the stored nodes.
func ConsistencyProof(ctx context.Context, db DBTX, size1, size2 uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	hashes, err := nodeHashes(ctx, db, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// VerifyInclusion checks that the event whose canonical encoding is given
// is leaf idx of the tree of the given size and root.
func VerifyInclusion(idx, size uint64, encoding []byte, p [][]byte, root []byte) error {
	return proof.VerifyInclusion(rfc6962.DefaultHasher, idx, size, rfc6962.DefaultHasher.HashLeaf(encoding), p, root)
}

// VerifyConsistency checks that the tree of size1 and root1 is a prefix of
// the tree of size2 and root2.
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 []byte) error {
	return proof.VerifyConsistency(rfc6962.DefaultHasher, size1, size2, p, root1, root2)
}
