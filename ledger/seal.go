package ledger

// Sealing: the Merkle tree over ledger events and its signed checkpoints.
//
// Sealing walks delivery_events in id order and appends each event as the
// next leaf of an RFC 6962 Merkle tree (leaf hash SHA-256(0x00 ‖
// EncodeEvent(event)), node hash SHA-256(0x01 ‖ left ‖ right)): the event
// id and leaf hash go to ledger_leaves, every other node of a perfect
// subtree to ledger_tree.
// Each batch ends with a checkpoint — tree size and root hash — signed with
// an Ed25519 key held outside the database, in the signed-note format of
// golang.org/x/mod/sumdb/note (the checkpoint convention of
// github.com/transparency-dev/formats):
//
//	courrier-ledger
//	12345
//	<base64 root hash>
//
//	— courrier-ledger <base64 signature>
//
// The projections reports read (project.go, coverage.go) are written in
// the same transaction, from the same events. delivery_events is never updated, and
// every ledger table refuses UPDATE, DELETE and TRUNCATE by trigger
// (migrations 0006, 0010); the serving role may only INSERT and SELECT them
// (migration 0011).

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// sealLockKey is the advisory lock that keeps two sealers apart ("seal").
const sealLockKey int64 = 0x636f75727273

// DefaultSealBatch is the batch size used when none is given.
const DefaultSealBatch = 5000

// SealSettle is how long an event waits before it may be sealed, on top of
// the wait for older transactions described at Seal.
const SealSettle = time.Second

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// Timestamper obtains an RFC 3161 timestamp token over data (a signed
// checkpoint).
type Timestamper interface {
	Timestamp(ctx context.Context, data []byte) ([]byte, error)
}

// SealOptions configure Seal.
type SealOptions struct {
	// Key signs checkpoints. Required.
	Key *Key
	// Batch is the number of events per checkpoint (DefaultSealBatch if 0).
	Batch int
	// Settle overrides SealSettle (tests seal at once with a tiny value).
	Settle time.Duration
	// TSA, when set, countersigns each checkpoint.
	TSA Timestamper
}

// Checkpoint is a signed statement of the tree's size and root.
type Checkpoint struct {
	Origin   string `json:"origin"`
	Size     uint64 `json:"tree_size"`
	RootHash []byte `json:"root_hash"`
	// Note is the signed note (checkpoint body and signature lines).
	Note string `json:"note"`
	// TSAToken is the RFC 3161 timestamp token over Note, if any.
	TSAToken []byte    `json:"tsa_token,omitempty"`
	SignedAt time.Time `json:"signed_at"`
}

// CheckpointBody is the text a checkpoint signs.
func CheckpointBody(origin string, size uint64, root []byte) string {
	return origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root) + "\n"
}

// SignCheckpoint signs a checkpoint of the tree.
func SignCheckpoint(k *Key, size uint64, root []byte) (string, error) {
	b, err := note.Sign(&note.Note{Text: CheckpointBody(k.Signer.Name(), size, root)}, k.Signer)
	if err != nil {
		return "", fmt.Errorf("sign checkpoint: %w", err)
	}
	return string(b), nil
}

// OpenCheckpoint verifies a signed checkpoint with v and parses it.
func OpenCheckpoint(signed string, v note.Verifier) (*Checkpoint, error) {
	n, err := note.Open([]byte(signed), note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return nil, fmt.Errorf("checkpoint is not signed by the ledger key %s", v.Name())
		}
		return nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return nil, errors.New("checkpoint: want origin, size and root lines")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("checkpoint size %q: %w", lines[1], err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return nil, fmt.Errorf("checkpoint root %q: not a base64 SHA-256 hash", lines[2])
	}
	return &Checkpoint{Origin: lines[0], Size: size, RootHash: root, Note: signed}, nil
}

// Seal appends the events recorded since the last seal to the Merkle tree,
// in id order, in batches of opts.Batch, each batch in its own transaction
// with its projections and one signed checkpoint. It returns how many
// events it sealed. If another sealer holds the seal lock it returns 0 at
// once.
//
// Sealing only reads delivery_events and takes no table lock, so senders are
// never slowed down. Ids come from a sequence and may commit out of order: a
// transaction that took id 10 may commit after one that took id 11. Seal
// therefore stops at the first event recorded at or after the cut-off
// min(now - settle, start of the oldest transaction still open in this
// database): the insert trigger sets recorded_at to the clock time of the
// insert, so any id still uncommitted was taken after that cut-off and is
// higher than every event sealed. A lower id that appears later anyway is
// reported by Verify as an event inserted below the sealed head.
func Seal(ctx context.Context, pool *pgxpool.Pool, opts SealOptions) (sealed int, err error) {
	if opts.Key == nil {
		return 0, ErrNoKey
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultSealBatch
	}
	if opts.Settle <= 0 {
		opts.Settle = SealSettle
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

	// A coverage rebuild asked for (by migration 0090 on a ledger sealed
	// before it, or by an operator) runs even when nothing new is sealed.
	if err := pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error { return rebuildCoverageIfMarked(ctx, tx) }); err != nil {
		return 0, fmt.Errorf("seal: %w", err)
	}

	var cutoff time.Time
	err = conn.QueryRow(ctx, `
		SELECT least(clock_timestamp() - make_interval(secs => $1),
		             coalesce((SELECT min(xact_start) FROM pg_stat_activity
		                       WHERE pid <> pg_backend_pid() AND xact_start IS NOT NULL
		                         AND datname = current_database()), 'infinity'))`,
		opts.Settle.Seconds()).Scan(&cutoff)
	if err != nil {
		return 0, fmt.Errorf("seal: cut-off: %w", err)
	}
	for {
		n, more, err := sealBatch(ctx, conn.Conn(), opts, cutoff)
		sealed += n
		if err != nil || !more {
			return sealed, err
		}
		if err := ctx.Err(); err != nil {
			return sealed, err
		}
	}
}

// treeState reads the tree's size, last sealed event and compact range.
func treeState(ctx context.Context, db DBTX) (size uint64, lastEvent int64, rng *compact.Range, err error) {
	var maxIdx *int64
	if err := db.QueryRow(ctx, `SELECT max(idx) FROM ledger_leaves`).Scan(&maxIdx); err != nil {
		return 0, 0, nil, fmt.Errorf("read tree size: %w", err)
	}
	if maxIdx == nil {
		return 0, 0, rangeFactory.NewEmptyRange(0), nil
	}
	size = uint64(*maxIdx) + 1
	if err := db.QueryRow(ctx, `SELECT event_id FROM ledger_leaves WHERE idx = $1`, *maxIdx).Scan(&lastEvent); err != nil {
		return 0, 0, nil, fmt.Errorf("read tree head: %w", err)
	}
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := nodeHashes(ctx, db, ids)
	if err != nil {
		return 0, 0, nil, err
	}
	rng, err = rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("tree of size %d: %w", size, err)
	}
	return size, lastEvent, rng, nil
}

// nodeHashes reads the stored hashes of the given nodes, in order.
func nodeHashes(ctx context.Context, db DBTX, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	levels := make([]int32, len(ids))
	idxs := make([]int64, len(ids))
	for i, id := range ids {
		levels[i], idxs[i] = int32(id.Level), int64(id.Index)
	}
	rows, err := db.Query(ctx, `
		SELECT coalesce(t.hash, l.hash) FROM unnest($1::int[], $2::bigint[]) WITH ORDINALITY AS v(level, idx, ord)
		LEFT JOIN ledger_tree t ON v.level > 0 AND t.level = v.level AND t.idx = v.idx
		LEFT JOIN ledger_leaves l ON v.level = 0 AND l.idx = v.idx
		ORDER BY v.ord`, levels, idxs)
	if err != nil {
		return nil, fmt.Errorf("read tree nodes: %w", err)
	}
	defer rows.Close()
	out := make([][]byte, 0, len(ids))
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		if h == nil {
			return nil, fmt.Errorf("tree node level %d index %d is missing", ids[len(out)].Level, ids[len(out)].Index)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// sealBatch seals up to opts.Batch events; more reports that a full batch
// was sealed and there may be more.
func sealBatch(ctx context.Context, conn *pgx.Conn, opts SealOptions, cutoff time.Time) (n int, more bool, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()

	size, lastEvent, rng, err := treeState(ctx, tx)
	if err != nil {
		return 0, false, fmt.Errorf("seal: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT `+eventColumns+` FROM delivery_events WHERE id > $1 ORDER BY id LIMIT $2`, lastEvent, opts.Batch)
	if err != nil {
		return 0, false, fmt.Errorf("seal: read events: %w", err)
	}
	var events []Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
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

	leaves := make([][]any, len(events))
	var nodes [][]any
	visit := func(id compact.NodeID, hash []byte) {
		if id.Level > 0 {
			nodes = append(nodes, []any{int16(id.Level), int64(id.Index), hash})
		}
	}
	for i, e := range events {
		leaf := LeafHash(e)
		leaves[i] = []any{int64(size) + int64(i), e.ID, leaf}
		if err := rng.Append(leaf, visit); err != nil {
			return 0, false, fmt.Errorf("seal: %w", err)
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"ledger_leaves"}, []string{"idx", "event_id", "hash"}, pgx.CopyFromRows(leaves)); err != nil {
		return 0, false, fmt.Errorf("seal: record leaves: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"ledger_tree"}, []string{"level", "idx", "hash"}, pgx.CopyFromRows(nodes)); err != nil {
		return 0, false, fmt.Errorf("seal: record tree: %w", err)
	}

	proj := NewProjection()
	if err := proj.load(ctx, tx, events); err != nil {
		return 0, false, fmt.Errorf("seal: %w", err)
	}
	for _, e := range events {
		proj.Apply(e)
	}
	covered := proj.coverageRecipients()
	if err := proj.save(ctx, tx); err != nil {
		return 0, false, fmt.Errorf("seal: %w", err)
	}
	if err := rebuildCoverageIfMarked(ctx, tx); err != nil {
		return 0, false, fmt.Errorf("seal: %w", err)
	}
	if err := updateCoverage(ctx, tx, covered); err != nil {
		return 0, false, fmt.Errorf("seal: %w", err)
	}

	root, err := rng.GetRootHash(nil)
	if err != nil {
		return 0, false, fmt.Errorf("seal: root: %w", err)
	}
	newSize := rng.End()
	signed, err := SignCheckpoint(opts.Key, newSize, root)
	if err != nil {
		return 0, false, err
	}
	var token []byte
	if opts.TSA != nil {
		if token, err = opts.TSA.Timestamp(ctx, []byte(signed)); err != nil {
			return 0, false, fmt.Errorf("seal: timestamp checkpoint %d: %w", newSize, err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO ledger_checkpoints (tree_size, root_hash, note, tsa_token) VALUES ($1, $2, $3, $4)`,
		int64(newSize), root, signed, token); err != nil {
		return 0, false, fmt.Errorf("seal: record checkpoint: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, false, fmt.Errorf("seal: commit: %w", err)
	}
	return len(events), len(events) == opts.Batch, nil
}

// LatestCheckpoint returns the newest checkpoint, or nil if nothing was
// sealed yet.
func LatestCheckpoint(ctx context.Context, db DBTX) (*Checkpoint, error) {
	var c Checkpoint
	var size int64
	err := db.QueryRow(ctx, `SELECT tree_size, root_hash, note, tsa_token, signed_at FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1`).
		Scan(&size, &c.RootHash, &c.Note, &c.TSAToken, &c.SignedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read latest checkpoint: %w", err)
	}
	c.Size = uint64(size)
	c.Origin, _, _ = strings.Cut(c.Note, "\n")
	return &c, nil
}
