package letters

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AckRow is one line of a print house acknowledgement file.
type AckRow struct {
	Line    int
	BatchID string
	Letter  string // "L123"
	Status  string // printed or posted
	Date    time.Time
}

// ReturnRow is one returned letter (pli non distribué).
type ReturnRow struct {
	Line   int       `json:"-"`
	Letter string    `json:"letter_id"`
	Date   time.Time `json:"date"`
	Reason string    `json:"reason"` // NPAI, REFUSE, DECEDE, ADRESSE_INCOMPLETE, NON_RECLAME
}

// ReturnReasons are the reasons La Poste gives for mail it cannot deliver.
var ReturnReasons = map[string]string{
	"NPAI":               "n'habite pas à l'adresse indiquée",
	"ADRESSE_INCOMPLETE": "adresse incomplète ou inexistante",
	"REFUSE":             "refusé par le destinataire",
	"DECEDE":             "destinataire décédé",
	"NON_RECLAME":        "pli avisé et non réclamé",
}

// ParseAck reads an acknowledgement file: CSV with the header
// batch_id,letter_id,status,date (status printed or posted, date
// YYYY-MM-DD). Errors name the line and field.
func ParseAck(b []byte) ([]AckRow, error) {
	recs, err := readCSV(b, []string{"batch_id", "letter_id", "status", "date"})
	if err != nil {
		return nil, err
	}
	out := make([]AckRow, 0, len(recs))
	for i, r := range recs {
		line := i + 2
		row := AckRow{Line: line, BatchID: r[0], Letter: r[1], Status: r[2]}
		if row.Status != EventPrinted && row.Status != EventPosted {
			return nil, fmt.Errorf("line %d: status %q: want printed or posted", line, r[2])
		}
		if _, ok := ParseRef(row.Letter); !ok {
			return nil, fmt.Errorf("line %d: letter_id %q: want L followed by digits", line, r[1])
		}
		if row.Date, err = parseDay(r[3]); err != nil {
			return nil, fmt.Errorf("line %d: date: %w", line, err)
		}
		out = append(out, row)
	}
	return out, nil
}

// ParseReturns reads a returned-mail file: CSV with the header
// letter_id,date,reason.
func ParseReturns(b []byte) ([]ReturnRow, error) {
	recs, err := readCSV(b, []string{"letter_id", "date", "reason"})
	if err != nil {
		return nil, err
	}
	out := make([]ReturnRow, 0, len(recs))
	for i, r := range recs {
		row := ReturnRow{Line: i + 2, Letter: r[0], Reason: strings.ToUpper(r[2])}
		if err := row.Check(); err != nil {
			return nil, fmt.Errorf("line %d: %w", row.Line, err)
		}
		if row.Date, err = parseDay(r[1]); err != nil {
			return nil, fmt.Errorf("line %d: date: %w", row.Line, err)
		}
		out = append(out, row)
	}
	return out, nil
}

// Check validates the letter id and reason of r.
func (r ReturnRow) Check() error {
	if _, ok := ParseRef(r.Letter); !ok {
		return fmt.Errorf("letter_id %q: want L followed by digits", r.Letter)
	}
	if _, ok := ReturnReasons[r.Reason]; !ok {
		return fmt.Errorf("reason %q: want one of NPAI, ADRESSE_INCOMPLETE, REFUSE, DECEDE, NON_RECLAME", r.Reason)
	}
	return nil
}

func parseDay(s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(s), paris)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want YYYY-MM-DD", s)
	}
	return t.Add(12 * time.Hour), nil // midday: the day, whatever the zone
}

func readCSV(b []byte, header []string) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = len(header)
	r.TrimLeadingSpace = true
	h, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("line 1: %w", err)
	}
	if strings.Join(h, ",") != strings.Join(header, ",") {
		return nil, fmt.Errorf("line 1: header %q: want %q", strings.Join(h, ","), strings.Join(header, ","))
	}
	var out [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		out = append(out, rec)
	}
}

// IngestResult says what a receipt file did.
type IngestResult struct {
	File      string   `json:"file"`
	Duplicate bool     `json:"duplicate"` // the same bytes were read before: nothing written
	Rows      int      `json:"rows"`
	Applied   int      `json:"applied"`
	Unknown   []string `json:"unknown,omitempty"` // letter ids that match no handed letter (nothing written for them)
	Stale     int      `json:"stale"`             // rows saying nothing new (already printed/posted)
}

// claimFile records a receipt file by its SHA-256; false means it was read
// before.
func claimFile(ctx context.Context, tx pgx.Tx, name, kind string, b []byte) (bool, error) {
	sum := sha256.Sum256(b)
	tag, err := tx.Exec(ctx, `INSERT INTO print_receipt_files (sha256, name, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		hex.EncodeToString(sum[:]), name, kind)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

func finishFile(ctx context.Context, tx pgx.Tx, b []byte, res *IngestResult) error {
	sum := sha256.Sum256(b)
	_, err := tx.Exec(ctx, `UPDATE print_receipt_files SET rows = $2, applied = $3, unknown = $4 WHERE sha256 = $1`,
		hex.EncodeToString(sum[:]), res.Rows, res.Applied, len(res.Unknown))
	return err
}

// IngestAck records an acknowledgement file in one transaction: printed and
// posted events for the letters it names, each state moving only forward. A
// file read before (same bytes) changes nothing; a letter id that matches
// no handed letter of the batch is listed in Unknown and written nowhere.
func IngestAck(ctx context.Context, db *pgxpool.Pool, name string, b []byte) (IngestResult, error) {
	res := IngestResult{File: name}
	rows, err := ParseAck(b)
	if err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	res.Rows = len(rows)
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		fresh, err := claimFile(ctx, tx, name, "ack", b)
		if err != nil {
			return err
		}
		if !fresh {
			res.Duplicate = true
			return nil
		}
		for _, r := range rows {
			id, _ := ParseRef(r.Letter)
			var l letterRef
			var state string
			err := tx.QueryRow(ctx, `SELECT delivery_id, notice_id, pdf_sha256, state FROM letters
				WHERE delivery_id = $1 AND batch_id = $2 FOR UPDATE`, id, r.BatchID).Scan(&l.DeliveryID, &l.NoticeID, &l.SHA256, &state)
			if errors.Is(err, pgx.ErrNoRows) {
				res.Unknown = append(res.Unknown, r.Letter)
				continue
			}
			if err != nil {
				return err
			}
			if !advances(state, r.Status) {
				res.Stale++
				continue
			}
			col := "printed_at"
			if r.Status == EventPosted {
				col = "posted_at"
			}
			if _, err := tx.Exec(ctx, `UPDATE letters SET state = $2, `+col+` = $3, updated_at = now() WHERE delivery_id = $1`,
				id, r.Status, r.Date); err != nil {
				return err
			}
			if err := ledgerReceipt(ctx, tx, l, r.Status, name, r.Date); err != nil {
				return err
			}
			res.Applied++
		}
		return finishFile(ctx, tx, b, &res)
	})
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", name, err)
	}
	return res, nil
}

var letterRank = map[string]int{"queued": 0, "batched": 1, "handed": 2, "printed": 3, "posted": 4, "returned": 5}

// advances reports whether a letter in state from may move to to: printed
// and posted only after the handover, and never backwards.
func advances(from, to string) bool {
	return letterRank[from] >= letterRank["handed"] && letterRank[to] > letterRank[from]
}

// Returned is a returned letter that was recorded.
type Returned struct {
	Letter      string
	DeliveryID  int64
	NoticeID    int64
	RecipientID int64
}

// RecordReturned records r in tx: the letter becomes returned, the ledger
// gets a returned event and the delivery becomes undelivered. known is
// false (and nothing written) for a letter id that matches no letter handed
// to print; again is true for a letter already returned (nothing written).
// The caller marks the address and moves the notice on (package jobs).
func RecordReturned(ctx context.Context, tx pgx.Tx, r ReturnRow, source string) (ret Returned, known, again bool, err error) {
	id, ok := ParseRef(r.Letter)
	if !ok {
		return ret, false, false, fmt.Errorf("letter_id %q: want L followed by digits", r.Letter)
	}
	var l letterRef
	var state string
	err = tx.QueryRow(ctx, `
		SELECT l.delivery_id, l.notice_id, l.pdf_sha256, l.state, n.recipient_id
		FROM letters l JOIN notices n ON n.id = l.notice_id WHERE l.delivery_id = $1 FOR UPDATE OF l`, id).
		Scan(&l.DeliveryID, &l.NoticeID, &l.SHA256, &state, &ret.RecipientID)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && letterRank[state] < letterRank["handed"]) {
		return ret, false, false, nil
	}
	if err != nil {
		return ret, false, false, err
	}
	ret.Letter, ret.DeliveryID, ret.NoticeID = r.Letter, l.DeliveryID, l.NoticeID
	if state == "returned" {
		return ret, true, true, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE letters SET state = 'returned', returned_at = $2, return_reason = $3, updated_at = now()
		WHERE delivery_id = $1`, id, r.Date, r.Reason); err != nil {
		return ret, false, false, err
	}
	if err := ledgerReturned(ctx, tx, l, r.Reason, source, r.Date); err != nil {
		return ret, false, false, err
	}
	return ret, true, false, nil
}

// ClaimReturnedFile records a returned-mail file by its bytes inside tx;
// false means the same file was read before.
func ClaimReturnedFile(ctx context.Context, tx pgx.Tx, name string, b []byte) (bool, error) {
	return claimFile(ctx, tx, name, "returned", b)
}

// FinishReturnedFile stores the counts of a returned-mail file.
func FinishReturnedFile(ctx context.Context, tx pgx.Tx, b []byte, res *IngestResult) error {
	return finishFile(ctx, tx, b, res)
}
