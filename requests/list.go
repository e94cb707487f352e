package requests

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/courrier-dev/courrier/territories"
)

// Urgencies of a listed request, most urgent first.
const (
	UrgencyBreached = "breached" // its next deadline has passed
	UrgencyAtRisk   = "at_risk"  // its next deadline falls within the margin
	UrgencyOpen     = "open"
	UrgencyClosed   = "closed"
)

var urgencyNames = []string{UrgencyBreached, UrgencyAtRisk, UrgencyOpen, UrgencyClosed}

// Listed is a request as listed: with the beneficiary's number, the next
// deadline it must meet and how urgent that is.
type Listed struct {
	Request
	RecipientRef string    `json:"recipient_ref"`
	Deadline     string    `json:"deadline,omitempty"` // "acknowledgement" or "answer"; "" once closed
	DueBy        time.Time `json:"due_by"`             // the next deadline (the answer deadline once closed)
	Urgency      string    `json:"urgency"`
}

// ListFilter selects requests for List.
type ListFilter struct {
	State     string    // received, acknowledged, answered, closed, or "open" (all but closed)
	Kind      string    // e.g. "complaint"
	DueBefore time.Time // next deadline before this time
	// AtRisk is the margin within which an open deadline is at risk (default 2 days).
	AtRisk time.Duration
	Cursor string // from the previous page's next cursor
	Limit  int    // default 50, at most 200
}

// ErrBadCursor is returned for a cursor List did not produce.
var ErrBadCursor = errors.New("cursor: not a cursor returned by this list")

// List returns requests ordered by urgency (breached, then at risk, then
// open, then closed), then by next deadline, one page at a time, with the
// cursor of the following page ("" on the last). Urgency is computed at now:
// a request may change rank between two pages, as time passes.
func List(ctx context.Context, db DBTX, now time.Time, f ListFilter) (out []*Listed, next string, err error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 200 {
		f.Limit = 200
	}
	if f.AtRisk <= 0 {
		f.AtRisk = 48 * time.Hour
	}
	switch f.State {
	case "", "open", StateReceived, StateAcknowledged, StateAnswered, StateClosed:
	default:
		return nil, "", &InvalidError{Field: "state", Reason: "must be open, received, acknowledged, answered or closed"}
	}
	rank, due, after := -1, time.Time{}, int64(0)
	if f.Cursor != "" {
		if rank, due, after, err = decodeCursor(f.Cursor); err != nil {
			return nil, "", err
		}
	}
	var dueBefore *time.Time
	if !f.DueBefore.IsZero() {
		dueBefore = &f.DueBefore
	}
	rows, err := db.Query(ctx, `
		WITH r AS (
		    SELECT q.*, rc.ref,
		           CASE WHEN q.state = 'received' AND q.ack_due_by < q.answer_due_by THEN 'acknowledgement'
		                WHEN q.state <> 'closed' THEN 'answer' ELSE '' END AS deadline,
		           CASE WHEN q.state = 'received' THEN least(q.ack_due_by, q.answer_due_by)
		                ELSE q.answer_due_by END AS due
		    FROM requests q JOIN recipients rc ON rc.id = q.recipient_id
		    WHERE ($1 = '' OR q.state = $1 OR ($1 = 'open' AND q.state <> 'closed'))
		      AND ($2 = '' OR q.kind = $2)
		), ranked AS (
		    SELECT r.*, CASE WHEN r.state = 'closed' THEN 3 WHEN r.due < $3 THEN 0
		                     WHEN r.due < $3 + $4::interval THEN 1 ELSE 2 END AS rank
		    FROM r WHERE ($5::timestamptz IS NULL OR r.due < $5)
		)
		SELECT `+columns+`, ref, deadline, due, rank FROM ranked
		WHERE $6 < 0 OR (rank, due, id) > ($6, $7, $8)
		ORDER BY rank, due, id LIMIT $9`,
		f.State, f.Kind, now, fmt.Sprintf("%d seconds", int64(f.AtRisk.Seconds())), dueBefore,
		rank, due, after, f.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list requests: %w", err)
	}
	defer rows.Close()
	var ranks []int
	for rows.Next() {
		l := &Listed{}
		var rk int
		r := &l.Request
		if err := rows.Scan(&r.ID, &r.ExternalID, &r.RecipientID, &r.Kind, &r.MinimumIncome, &r.Channel, &r.ReceivedAt,
			&r.AckDueBy, &r.AnswerDueBy, &r.AckNoticeID, &r.AnswerNoticeID, &r.State, &r.AnsweredAt, &r.ClosedAt,
			&r.CreatedBy, &r.AnsweredBy, &r.CreatedAt, &l.RecipientRef, &l.Deadline, &l.DueBy, &rk); err != nil {
			return nil, "", fmt.Errorf("list requests: %w", err)
		}
		l.Urgency = urgencyNames[rk]
		for _, t := range []*time.Time{&r.ReceivedAt, &r.AckDueBy, &r.AnswerDueBy, &r.CreatedAt, r.AnsweredAt, r.ClosedAt, &l.DueBy} {
			if t != nil {
				*t = t.In(territories.Paris())
			}
		}
		out = append(out, l)
		ranks = append(ranks, rk)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list requests: %w", err)
	}
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[f.Limit-1]
		next = encodeCursor(ranks[f.Limit-1], last.DueBy, last.ID)
	}
	return out, next, nil
}

func encodeCursor(rank int, due time.Time, id int64) string {
	s := fmt.Sprintf("%d.%d.%d", rank, due.UnixMicro(), id)
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(c string) (rank int, due time.Time, id int64, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, time.Time{}, 0, ErrBadCursor
	}
	parts := strings.Split(string(b), ".")
	if len(parts) != 3 {
		return 0, time.Time{}, 0, ErrBadCursor
	}
	rank, err1 := strconv.Atoi(parts[0])
	us, err2 := strconv.ParseInt(parts[1], 10, 64)
	id, err3 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || rank < 0 || rank > 3 || id <= 0 {
		return 0, time.Time{}, 0, ErrBadCursor
	}
	return rank, time.UnixMicro(us), id, nil
}
