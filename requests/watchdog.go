package requests

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AckAtRisk is a request whose acknowledgement is not delivered and whose
// deadline is less than the watchdog margin away (or past).
type AckAtRisk struct {
	RequestID   int64
	NoticeID    int64
	NoticeState string
	DueBy       time.Time
}

// AcksAtRisk lists, earliest deadline first, at most limit requests still
// waiting for their acknowledgement to be delivered whose acknowledgement
// deadline falls before now+margin.
func AcksAtRisk(ctx context.Context, db DBTX, now time.Time, margin time.Duration, limit int) ([]AckAtRisk, error) {
	rows, err := db.Query(ctx, `
		SELECT r.id, n.id, n.state, r.ack_due_by
		FROM requests r JOIN notices n ON n.id = r.ack_notice_id
		WHERE r.state = 'received' AND r.ack_due_by < $1
		  AND n.state IN ('pending', 'sending', 'sent')
		ORDER BY r.ack_due_by, r.id
		LIMIT $2`, now.Add(margin), limit)
	if err != nil {
		return nil, fmt.Errorf("list acknowledgements at risk: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (AckAtRisk, error) {
		var a AckAtRisk
		err := row.Scan(&a.RequestID, &a.NoticeID, &a.NoticeState, &a.DueBy)
		return a, err
	})
}

// AnswerAtRisk is an open request whose processing deadline is less than the
// watchdog margin away.
type AnswerAtRisk struct {
	RequestID     int64
	Kind          string
	MinimumIncome bool
	State         string
	DueBy         time.Time
}

// AnswersAtRisk lists the requests not closed whose processing deadline falls
// between now and now+margin, earliest first, at most limit.
func AnswersAtRisk(ctx context.Context, db DBTX, now time.Time, margin time.Duration, limit int) ([]AnswerAtRisk, error) {
	rows, err := db.Query(ctx, `
		SELECT id, kind, minimum_income, state, answer_due_by
		FROM requests
		WHERE state <> 'closed' AND answer_due_by >= $1 AND answer_due_by < $2
		ORDER BY answer_due_by, id
		LIMIT $3`, now, now.Add(margin), limit)
	if err != nil {
		return nil, fmt.Errorf("list requests at risk: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (AnswerAtRisk, error) {
		var a AnswerAtRisk
		err := row.Scan(&a.RequestID, &a.Kind, &a.MinimumIncome, &a.State, &a.DueBy)
		return a, err
	})
}

// Breach is a deadline a request missed.
type Breach struct {
	RequestID  int64      `json:"request_id"`
	Deadline   string     `json:"deadline"` // "acknowledgement" or "answer"
	DueBy      time.Time  `json:"due_by"`
	MetAt      *time.Time `json:"met_at,omitempty"`
	DetectedAt time.Time  `json:"detected_at"`
}

// breachWindow bounds how far back RecordBreaches looks at received
// requests: a request missing a deadline is recorded the first run after.
const breachWindow = 120 * 24 * time.Hour

// RecordBreaches records, once each, the deadlines missed as of now by
// requests received in the last 120 days, and completes met_at on breaches
// whose work has since been done late. It returns the breaches newly
// recorded.
//
// An acknowledgement deadline is met by the delivery of the acknowledgement
// or of the answer, whichever comes first; an answer deadline by the
// delivery of the answer (closed_at).
func RecordBreaches(ctx context.Context, db DBTX, now time.Time) ([]Breach, error) {
	rows, err := db.Query(ctx, `
		WITH met AS (
		    SELECT r.id, r.ack_due_by, r.answer_due_by, r.closed_at,
		           least(n.delivered_at, r.closed_at) AS ack_met
		    FROM requests r LEFT JOIN notices n ON n.id = r.ack_notice_id
		    WHERE r.received_at > $2 AND (r.ack_due_by < $1 OR r.answer_due_by < $1)
		)
		INSERT INTO request_breaches (request_id, deadline, due_by, met_at, detected_at)
		SELECT id, 'acknowledgement', ack_due_by, ack_met, $1 FROM met
		WHERE ack_due_by < $1 AND coalesce(ack_met, 'infinity') > ack_due_by
		UNION ALL
		SELECT id, 'answer', answer_due_by, closed_at, $1 FROM met
		WHERE answer_due_by < $1 AND coalesce(closed_at, 'infinity') > answer_due_by
		ON CONFLICT (request_id, deadline) DO NOTHING
		RETURNING request_id, deadline, due_by, met_at, detected_at`, now, now.Add(-breachWindow))
	if err != nil {
		return nil, fmt.Errorf("record breaches: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanBreach)
	if err != nil {
		return nil, fmt.Errorf("record breaches: %w", err)
	}
	_, err = db.Exec(ctx, `
		UPDATE request_breaches b
		SET met_at = CASE WHEN b.deadline = 'answer' THEN r.closed_at ELSE least(n.delivered_at, r.closed_at) END
		FROM requests r LEFT JOIN notices n ON n.id = r.ack_notice_id
		WHERE b.met_at IS NULL AND r.id = b.request_id
		  AND CASE WHEN b.deadline = 'answer' THEN r.closed_at ELSE least(n.delivered_at, r.closed_at) END IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("complete met breaches: %w", err)
	}
	return out, nil
}

func scanBreach(row pgx.CollectableRow) (Breach, error) {
	var b Breach
	err := row.Scan(&b.RequestID, &b.Deadline, &b.DueBy, &b.MetAt, &b.DetectedAt)
	return b, err
}

// Breaches lists the recorded breaches of a request.
func Breaches(ctx context.Context, db DBTX, requestID int64) ([]Breach, error) {
	rows, err := db.Query(ctx, `
		SELECT request_id, deadline, due_by, met_at, detected_at
		FROM request_breaches WHERE request_id = $1 ORDER BY id`, requestID)
	if err != nil {
		return nil, fmt.Errorf("list breaches of request %d: %w", requestID, err)
	}
	out, err := pgx.CollectRows(rows, scanBreach)
	if out == nil {
		out = []Breach{}
	}
	return out, err
}
