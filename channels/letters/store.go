package letters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// queued is a letter entering the queue.
type queued struct {
	DeliveryID, NoticeID int64
	Postage              string
	Pages, Sheets        int
	SHA256, Path         string
	Date                 time.Time
	Sender               json.RawMessage
}

func queue(ctx context.Context, db *pgxpool.Pool, q queued) error {
	_, err := db.Exec(ctx, `
		INSERT INTO letters (delivery_id, notice_id, postage, pages, sheets, pdf_sha256, pdf_path, letter_date, sender, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8)
		ON CONFLICT (delivery_id) DO UPDATE SET
		    postage = EXCLUDED.postage, pages = EXCLUDED.pages, sheets = EXCLUDED.sheets, pdf_sha256 = EXCLUDED.pdf_sha256,
		    pdf_path = EXCLUDED.pdf_path, letter_date = EXCLUDED.letter_date, sender = EXCLUDED.sender,
		    created_at = EXCLUDED.created_at, updated_at = now()
		WHERE letters.state = 'queued'`,
		q.DeliveryID, q.NoticeID, q.Postage, q.Pages, q.Sheets, q.SHA256, q.Path, q.Date, q.Sender)
	if err != nil {
		return fmt.Errorf("queue letter %s: %w", Ref(q.DeliveryID), err)
	}
	return nil
}

// Batch is a print batch.
type Batch struct {
	ID             string     `json:"id"`
	CutoffAt       time.Time  `json:"cutoff_at"`
	State          string     `json:"state"` // building, built, handed
	PrintHouse     string     `json:"print_house,omitempty"`
	Letters        int        `json:"letters"`
	Pages          int        `json:"pages"`
	Sheets         int        `json:"sheets"`
	ManifestSHA256 string     `json:"manifest_sha256,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	HandedAt       *time.Time `json:"handed_at,omitempty"`
	// Receipts counts the batch's letters by state (handed, printed, posted, returned).
	Receipts map[string]int `json:"receipts,omitempty"`
}

// ErrNoBatch is returned for an unknown batch id.
var ErrNoBatch = errors.New("no such print batch")

// Batches lists the latest batches, newest first, with their letters'
// states.
func Batches(ctx context.Context, db *pgxpool.Pool, limit int) ([]Batch, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := db.Query(ctx, `
		SELECT b.id, b.cutoff_at, b.state, b.print_house, b.letters, b.pages, b.sheets, b.manifest_sha256, b.created_at, b.handed_at,
		       coalesce((SELECT jsonb_object_agg(state, n) FROM (SELECT state, count(*) AS n FROM letters l
		                 WHERE l.batch_id = b.id GROUP BY state) s), '{}')
		FROM print_batches b ORDER BY b.cutoff_at DESC, b.id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		var b Batch
		if err := rows.Scan(&b.ID, &b.CutoffAt, &b.State, &b.PrintHouse, &b.Letters, &b.Pages, &b.Sheets, &b.ManifestSHA256,
			&b.CreatedAt, &b.HandedAt, &b.Receipts); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// manifestRow is one letter of a batch as the manifest lists it.
type manifestRow struct {
	BatchID    string
	Ref        string
	DeliveryID int64
	NoticeID   int64
	Postage    string
	Pages      int
	Sheets     int
	SHA256     string
	File       string
	FirstPage  int
	path       string
}

// batchLetters pages through the letters of batch and postage class after
// the delivery id after (keyset pagination).
func batchLetters(ctx context.Context, db *pgxpool.Pool, batchID, postage string, after int64, n int) ([]manifestRow, error) {
	rows, err := db.Query(ctx, `
		SELECT delivery_id, notice_id, pages, sheets, pdf_sha256, pdf_path FROM letters
		WHERE batch_id = $1 AND postage = $2 AND delivery_id > $3 ORDER BY delivery_id LIMIT $4`, batchID, postage, after, n)
	if err != nil {
		return nil, fmt.Errorf("letters of batch %s: %w", batchID, err)
	}
	defer rows.Close()
	var out []manifestRow
	for rows.Next() {
		r := manifestRow{BatchID: batchID, Postage: postage}
		if err := rows.Scan(&r.DeliveryID, &r.NoticeID, &r.Pages, &r.Sheets, &r.SHA256, &r.path); err != nil {
			return nil, err
		}
		r.Ref = Ref(r.DeliveryID)
		out = append(out, r)
	}
	return out, rows.Err()
}

// LetterFacts is what evidence packs show of a letter.
type LetterFacts struct {
	Letter     string     `json:"letter"` // "L123"
	DeliveryID int64      `json:"delivery_id"`
	PDFSHA256  string     `json:"pdf_sha256"`
	Pages      int        `json:"pages"`
	Postage    string     `json:"postage"`
	LetterDate time.Time  `json:"letter_date"`
	State      string     `json:"state"`
	BatchID    string     `json:"batch_id,omitempty"`
	BatchFile  string     `json:"batch_file,omitempty"`
	FirstPage  int        `json:"first_page,omitempty"`
	HandedAt   *time.Time `json:"handed_at,omitempty"`
	PrintedAt  *time.Time `json:"printed_at,omitempty"`
	PostedAt   *time.Time `json:"posted_at,omitempty"`
	ReturnedAt *time.Time `json:"returned_at,omitempty"`
	Return     string     `json:"return_reason,omitempty"`
}

// Evidence returns the letters of a notice with their PDF hash, batch and
// print-house receipts, for evidence packs. The same facts are in the
// ledger events (print_queued, print_handed carry the hash and batch id).
func Evidence(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, noticeID int64) ([]LetterFacts, error) {
	rows, err := db.Query(ctx, `
		SELECT l.delivery_id, l.pdf_sha256, l.pages, l.postage, l.letter_date, l.state, coalesce(l.batch_id, ''), l.batch_file,
		       l.first_page, b.handed_at, l.printed_at, l.posted_at, l.returned_at, l.return_reason
		FROM letters l LEFT JOIN print_batches b ON b.id = l.batch_id
		WHERE l.notice_id = $1 ORDER BY l.delivery_id`, noticeID)
	if err != nil {
		return nil, fmt.Errorf("letter evidence of notice %d: %w", noticeID, err)
	}
	defer rows.Close()
	var out []LetterFacts
	for rows.Next() {
		var f LetterFacts
		if err := rows.Scan(&f.DeliveryID, &f.PDFSHA256, &f.Pages, &f.Postage, &f.LetterDate, &f.State, &f.BatchID, &f.BatchFile,
			&f.FirstPage, &f.HandedAt, &f.PrintedAt, &f.PostedAt, &f.ReturnedAt, &f.Return); err != nil {
			return nil, err
		}
		f.Letter = Ref(f.DeliveryID)
		out = append(out, f)
	}
	return out, rows.Err()
}
