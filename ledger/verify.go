package ledger

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
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
	Coverage    int64       `json:"projection_coverage_checked"`
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

	// Two streams in step: the leaves in tree order, and every event in id
	// order (leaves hold increasing event ids). An event between two leaves'
	// events was inserted after sealing; a leaf without its event lost it.
	leafRows, err := pool.Query(ctx, `SELECT idx, event_id, hash FROM ledger_leaves ORDER BY idx`)
	if err != nil {
		return nil, fmt.Errorf("verify: read leaves: %w", err)
	}
	defer leafRows.Close()
	evRows, err := pool.Query(ctx, `SELECT `+eventColumns+` FROM delivery_events ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("verify: read events: %w", err)
	}
	defer evRows.Close()
	var pending *Event // next event read and not consumed
	nextEvent := func() (*Event, error) {
		if pending != nil {
			return pending, nil
		}
		if !evRows.Next() {
			return nil, evRows.Err()
		}
		e, err := scanEvent(evRows)
		if err != nil {
			return nil, err
		}
		pending = &e
		return pending, nil
	}

	rng := rangeFactory.NewEmptyRange(0)
	proj := NewProjection()
	sealedDeliveries := map[int64]*sealedDelivery{}
	var lastEvent int64
	stop := false
	for !stop && leafRows.Next() {
		var idx, eventID int64
		var stored []byte
		if err := leafRows.Scan(&idx, &eventID, &stored); err != nil {
			return nil, fmt.Errorf("verify: read leaves: %w", err)
		}
		if uint64(idx) != rng.End() {
			stop = !add(Break{Kind: BreakDeleted, Leaf: int64(rng.End()), Detail: fmt.Sprintf("leaf %d is missing (next present is %d)", rng.End(), idx)})
			break
		}
		if eventID <= lastEvent {
			stop = !add(Break{Kind: BreakTree, Leaf: idx, EventID: eventID, Detail: fmt.Sprintf("event ids out of order (previous %d)", lastEvent)})
			break
		}
		var e *Event
		for {
			e, err = nextEvent()
			if err != nil {
				return nil, fmt.Errorf("verify: read events: %w", err)
			}
			if e == nil || e.ID >= eventID {
				break
			}
			stop = stop || !add(Break{Kind: BreakInserted, EventID: e.ID, NoticeID: e.NoticeID,
				Detail: fmt.Sprintf("%s event %d lies below the sealed head but was never sealed: it was inserted afterwards", e.Event, e.ID)})
			pending = nil
		}
		leaf := stored
		if e == nil || e.ID != eventID {
			stop = stop || !add(Break{Kind: BreakDeleted, Leaf: idx, EventID: eventID, Detail: fmt.Sprintf("sealed event %d is missing from delivery_events", eventID)})
		} else {
			pending = nil
			leaf = LeafHash(*e)
			if !bytes.Equal(leaf, stored) {
				stop = stop || !add(Break{Kind: BreakModified, Leaf: idx, EventID: e.ID, NoticeID: e.NoticeID,
					Detail: fmt.Sprintf("%s event no longer hashes to its sealed leaf: it was changed after sealing", e.Event)})
			}
			proj.Apply(*e)
			trackDelivery(sealedDeliveries, *e)
		}
		if err := rng.Append(leaf, nil); err != nil {
			return nil, err
		}
		res.Events++
		lastEvent = eventID
		for _, t := range targets[rng.End()] {
			root, _ := rng.GetRootHash(nil)
			if !bytes.Equal(root, t.root) {
				stop = stop || !add(Break{Kind: kindFor(t.witness), Detail: fmt.Sprintf("%s has root %x but the events give %x: sealed history was rewritten before leaf %d",
					t.what, t.root, root, rng.End())})
			} else if t.witness {
				res.Witnesses++
			}
		}
	}
	if err := leafRows.Err(); err != nil {
		return nil, fmt.Errorf("verify: read leaves: %w", err)
	}
	leafRows.Close()
	// What is left was recorded after the last seal.
	unsealedNotices, unsealedDeliveries := map[int64]bool{}, map[int64]bool{}
	for !stop {
		e, err := nextEvent()
		if err != nil {
			return nil, fmt.Errorf("verify: read events: %w", err)
		}
		if e == nil {
			break
		}
		pending = nil
		res.Unsealed++
		unsealedNotices[e.NoticeID], unsealedDeliveries[e.DeliveryID] = true, true
	}
	evRows.Close()
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

	if err := compareProjections(ctx, pool, proj, res, add); err != nil {
		return nil, err
	}
	if err := compareCoverage(ctx, pool, proj, res, add); err != nil {
		return nil, err
	}
	if err := crossCheck(ctx, pool, proj, sealedDeliveries, unsealedNotices, unsealedDeliveries, add); err != nil {
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
	var err error
	res.Notices, err = compareRows(ctx, pool, "notice", `SELECT `+noticeFactColumns+` FROM proj_notices ORDER BY notice_id`,
		scanNoticeFacts, func(f *NoticeFacts) int64 { return f.NoticeID }, proj.Notices, diffNotice,
		func(id int64, detail string) Break { return Break{Kind: BreakProjection, NoticeID: id, Detail: detail} },
		projectionTexts{extra: "the report projection holds a notice that no sealed event created",
			lacks: "the report projection lacks this sealed notice"}, add)
	if err != nil {
		return err
	}
	res.Requests, err = compareRows(ctx, pool, "request", `SELECT `+requestFactColumns+` FROM proj_requests ORDER BY request`,
		scanRequestFacts, func(f *RequestFacts) string { return f.Request }, proj.Requests, diffRequest,
		func(ref string, detail string) Break {
			return Break{Kind: BreakProjection, Detail: fmt.Sprintf("request %s: %s", ref, detail)}
		},
		projectionTexts{extra: "the report projection holds a request no sealed event received",
			lacks: "the report projection lacks this sealed request"}, add)
	return err
}

// projectionTexts are the details of a row the events do not support and
// of a row the events call for that is missing.
type projectionTexts struct{ extra, lacks string }

// compareRows reads a stored projection (sql, in key order) and compares
// each row with want, the projection recomputed from the sealed events:
// rows no event supports, rows that differ (diff) and rows missing, in key
// order. It returns the number of stored rows read.
func compareRows[K cmp.Ordered, T any](ctx context.Context, pool *pgxpool.Pool, what, sql string,
	scan func(pgx.Row) (*T, error), key func(*T) K, want map[K]*T, diff func(stored, want *T) string,
	brk func(K, string) Break, texts projectionTexts, add func(Break) bool) (int64, error) {
	rows, err := pool.Query(ctx, sql)
	if err != nil {
		return 0, fmt.Errorf("verify: read %s projection: %w", what, err)
	}
	defer rows.Close()
	var n int64
	seen := make(map[K]bool, len(want))
	for rows.Next() {
		stored, err := scan(rows)
		if err != nil {
			return n, err
		}
		n++
		k := key(stored)
		seen[k] = true
		w := want[k]
		if w == nil {
			add(brk(k, texts.extra))
			continue
		}
		if d := diff(stored, w); d != "" {
			add(brk(k, "report projection: "+d))
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("verify: read %s projection: %w", what, err)
	}
	var missing []K
	for k := range want {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	for _, k := range missing {
		add(brk(k, texts.lacks))
	}
	return n, nil
}

// sealedDelivery is what the sealed events say of a delivery.
type sealedDelivery struct {
	contentHash, templateVersion string
	attempted, delivered         bool
}

func trackDelivery(m map[int64]*sealedDelivery, e Event) {
	if e.DeliveryID == 0 {
		return
	}
	d := m[e.DeliveryID]
	if d == nil {
		d = &sealedDelivery{}
		m[e.DeliveryID] = d
	}
	switch {
	case e.Event == StateSending && e.Facts["content_hash"] != "":
		d.attempted, d.contentHash, d.templateVersion = true, e.Facts["content_hash"], e.Facts["template_version"]
	case EvidenceOf(e) != "":
		d.delivered = true
	}
}

// crossCheck compares the operational tables (notices, deliveries), which
// reports never read, with the sealed facts, so that an edit there is named
// rather than silently ignored. Rows with events not sealed yet are skipped.
func crossCheck(ctx context.Context, pool *pgxpool.Pool, proj *Projection, deliveries map[int64]*sealedDelivery,
	unsealedNotices, unsealedDeliveries map[int64]bool, add func(Break) bool) error {
	rows, err := pool.Query(ctx, `SELECT id, kind, test, delivered_at FROM notices ORDER BY id`)
	if err != nil {
		return fmt.Errorf("verify: cross-check notices: %w", err)
	}
	for rows.Next() {
		var id int64
		var kind string
		var test bool
		var deliveredAt *time.Time
		if err := rows.Scan(&id, &kind, &test, &deliveredAt); err != nil {
			rows.Close()
			return err
		}
		n := proj.Notices[id]
		if n == nil || unsealedNotices[id] {
			continue
		}
		var b *Break
		switch {
		case kind != n.Kind:
			b = &Break{Kind: BreakMutable, NoticeID: id, Detail: fmt.Sprintf("notices.kind is %q but the sealed events say %q", kind, n.Kind)}
		case test != n.Test:
			b = &Break{Kind: BreakMutable, NoticeID: id, Detail: fmt.Sprintf("notices.test is %v but the sealed events say %v", test, n.Test)}
		case deliveredAt != nil && n.RevokedAt == nil:
			first := n.ProvenAt
			if n.WeakAt != nil && (first == nil || n.WeakAt.Before(*first)) {
				first = n.WeakAt
			}
			if first == nil {
				b = &Break{Kind: BreakMutable, NoticeID: id, Detail: fmt.Sprintf("notices.delivered_at is %q but the sealed events say %q", fmtTime(deliveredAt), "no delivery evidence")}
			} else if !first.Equal(*deliveredAt) {
				b = &Break{Kind: BreakMutable, NoticeID: id, Detail: fmt.Sprintf("notices.delivered_at is %q but the sealed events say %q", fmtTime(deliveredAt), fmtTime(first))}
			}
		}
		if b != nil && !add(*b) {
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify: cross-check notices: %w", err)
	}

	rows, err = pool.Query(ctx, `SELECT id, notice_id, content_hash, template_version, state FROM deliveries ORDER BY id`)
	if err != nil {
		return fmt.Errorf("verify: cross-check deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, nid int64
		var hash, version, state string
		if err := rows.Scan(&id, &nid, &hash, &version, &state); err != nil {
			return err
		}
		d := deliveries[id]
		if d == nil || !d.attempted || unsealedDeliveries[id] {
			continue
		}
		var b *Break
		switch {
		case hash != d.contentHash:
			b = &Break{Kind: BreakMutable, NoticeID: nid, Detail: fmt.Sprintf("deliveries.content_hash of delivery %d is %q but the sealed events say %q", id, hash, d.contentHash)}
		case version != d.templateVersion:
			b = &Break{Kind: BreakMutable, NoticeID: nid, Detail: fmt.Sprintf("deliveries.template_version of delivery %d is %q but the sealed events say %q", id, version, d.templateVersion)}
		case state == StateDelivered && !d.delivered:
			b = &Break{Kind: BreakMutable, NoticeID: nid, Detail: fmt.Sprintf("deliveries.state of delivery %d is %q but the sealed events say %q", id, state, "no delivered event")}
		}
		if b != nil && !add(*b) {
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
