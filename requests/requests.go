package requests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/courrier-dev/courrier/territories"
)

// Request kinds. A complaint has its own deadline; the others share the
// request deadline (or the minimum-income one).
const (
	KindBenefitClaim      = "benefit_claim"
	KindChangeOfSituation = "change_of_situation"
	KindSocialAid         = "social_aid"
	KindDocument          = "document"
	KindComplaint         = "complaint"
	KindOther             = "other"
)

// Kinds lists the request kinds.
var Kinds = []string{KindBenefitClaim, KindChangeOfSituation, KindSocialAid, KindDocument, KindComplaint, KindOther}

// Channels lists the channels a request may arrive by.
var Channels = []string{"online", "post", "counter", "phone"}

// Request states.
const (
	StateReceived     = "received"
	StateAcknowledged = "acknowledged"
	StateAnswered     = "answered"
	StateClosed       = "closed"
)

// Errors callers decide on.
var (
	ErrNotFound = errors.New("request not found")
	// ErrConflict is returned when an upstream id is replayed with
	// different content, or an answered request is answered differently.
	ErrConflict = errors.New("conflict")
)

// InvalidError is an input problem with one field.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// Request is an online request or a complaint.
type Request struct {
	ID             int64      `json:"id"`
	ExternalID     string     `json:"request_id"`
	RecipientID    int64      `json:"recipient_id"`
	Kind           string     `json:"kind"`
	MinimumIncome  bool       `json:"minimum_income"`
	Channel        string     `json:"channel"`
	ReceivedAt     time.Time  `json:"received_at"`
	AckDueBy       time.Time  `json:"ack_due_by"`
	AnswerDueBy    time.Time  `json:"answer_due_by"`
	AckNoticeID    *int64     `json:"ack_notice_id"`
	AnswerNoticeID *int64     `json:"answer_notice_id"`
	State          string     `json:"state"`
	AnsweredAt     *time.Time `json:"answered_at,omitempty"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
	CreatedBy      string     `json:"created_by"`
	AnsweredBy     string     `json:"answered_by,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
}

// New describes a request as received from upstream.
type New struct {
	ExternalID    string
	RecipientID   int64
	Kind          string
	MinimumIncome bool
	Channel       string // default "online"
	ReceivedAt    time.Time
	CreatedBy     string
	// Test: received with a test key. Upstream ids are unique per world
	// (live, test), so that neither world can detect or block the other's.
	Test bool
}

// Validate checks n; now bounds a receipt time in the future.
func (n *New) Validate(now time.Time) error {
	if n.Channel == "" {
		n.Channel = "online"
	}
	switch {
	case n.ExternalID == "":
		return &InvalidError{"request_id", "is required"}
	case len(n.ExternalID) > 200:
		return &InvalidError{"request_id", "is longer than 200 characters"}
	case n.RecipientID <= 0:
		return &InvalidError{"recipient_ref", "is required"}
	case !slices.Contains(Kinds, n.Kind):
		return &InvalidError{"kind", fmt.Sprintf("%q is not one of %v", n.Kind, Kinds)}
	case !slices.Contains(Channels, n.Channel):
		return &InvalidError{"channel", fmt.Sprintf("%q is not one of %v", n.Channel, Channels)}
	case n.ReceivedAt.IsZero():
		return &InvalidError{"received_at", "is required"}
	case n.ReceivedAt.After(now.Add(15 * time.Minute)):
		return &InvalidError{"received_at", "is in the future"}
	}
	return nil
}

// DBTX is what requests functions need from a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const columns = `id, external_id, recipient_id, kind, minimum_income, channel, received_at, ack_due_by,
	answer_due_by, ack_notice_id, answer_notice_id, state, answered_at, closed_at, created_by, answered_by, created_at`

func scan(row pgx.Row) (*Request, error) {
	var r Request
	err := row.Scan(&r.ID, &r.ExternalID, &r.RecipientID, &r.Kind, &r.MinimumIncome, &r.Channel, &r.ReceivedAt,
		&r.AckDueBy, &r.AnswerDueBy, &r.AckNoticeID, &r.AnswerNoticeID, &r.State, &r.AnsweredAt, &r.ClosedAt,
		&r.CreatedBy, &r.AnsweredBy, &r.CreatedAt)
	if err != nil {
		return nil, err
	}
	// Deadlines are Paris wall-clock times: show them so.
	loc := territories.Paris()
	for _, t := range []*time.Time{&r.ReceivedAt, &r.AckDueBy, &r.AnswerDueBy, &r.CreatedAt, r.AnsweredAt, r.ClosedAt} {
		if t != nil {
			*t = t.In(loc)
		}
	}
	return &r, nil
}

// Receive stores a request with its deadlines computed by s. A replay of the
// same upstream id with the same content returns the stored request with
// created false; with different content it returns ErrConflict.
func Receive(ctx context.Context, tx DBTX, n New, s Settings, now time.Time) (req *Request, created bool, err error) {
	if err := n.Validate(now); err != nil {
		return nil, false, err
	}
	ack := s.AckDueBy(n.ReceivedAt)
	answer := s.AnswerDueBy(n.Kind, n.MinimumIncome, n.ReceivedAt)
	req, err = scan(tx.QueryRow(ctx, `
		INSERT INTO requests (external_id, recipient_id, kind, minimum_income, channel, received_at,
		                      ack_due_by, answer_due_by, created_by, test)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (external_id, test) DO NOTHING
		RETURNING `+columns,
		n.ExternalID, n.RecipientID, n.Kind, n.MinimumIncome, n.Channel, n.ReceivedAt, ack, answer, n.CreatedBy, n.Test))
	if err == nil {
		return req, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fmt.Errorf("insert request: %w", err)
	}
	test := n.Test
	if !test { // the row is test data when its beneficiary is (trigger courrier_inherit_test)
		if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT test FROM recipients WHERE id = $1), false)`, n.RecipientID).Scan(&test); err != nil {
			return nil, false, err
		}
	}
	req, err = GetByExternalID(ctx, tx, n.ExternalID, test)
	if err != nil {
		return nil, false, err
	}
	if req.RecipientID != n.RecipientID || req.Kind != n.Kind || req.MinimumIncome != n.MinimumIncome ||
		req.Channel != n.Channel || !req.ReceivedAt.Equal(n.ReceivedAt) {
		return nil, false, fmt.Errorf("%w: request %q was already received with different content", ErrConflict, n.ExternalID)
	}
	return req, false, nil
}

// Get loads a request by id.
func Get(ctx context.Context, db DBTX, id int64) (*Request, error) {
	r, err := scan(db.QueryRow(ctx, `SELECT `+columns+` FROM requests WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	return r, err
}

// GetByExternalID loads a live (test false) or test request by its
// upstream id.
func GetByExternalID(ctx context.Context, db DBTX, externalID string, test bool) (*Request, error) {
	r, err := scan(db.QueryRow(ctx, `SELECT `+columns+` FROM requests WHERE external_id = $1 AND test = $2`, externalID, test))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, externalID)
	}
	return r, err
}

// GetForUpdate loads a live (test false) or test request by its upstream
// id and locks it until the transaction ends.
func GetForUpdate(ctx context.Context, tx DBTX, externalID string, test bool) (*Request, error) {
	r, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM requests WHERE external_id = $1 AND test = $2 FOR UPDATE`, externalID, test))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, externalID)
	}
	return r, err
}

// SetAckNotice links the request to its acknowledgement notice.
func SetAckNotice(ctx context.Context, tx DBTX, id, noticeID int64) error {
	_, err := tx.Exec(ctx, `UPDATE requests SET ack_notice_id = $2 WHERE id = $1`, id, noticeID)
	if err != nil {
		return fmt.Errorf("link request %d to its acknowledgement: %w", id, err)
	}
	return nil
}

// Answer links the request to its answer notice and marks it answered at
// at, by actor. It returns ErrConflict if it already has another answer. The
// request is closed when that notice is delivered.
func Answer(ctx context.Context, tx DBTX, id, noticeID int64, actor string, at time.Time) error {
	tag, err := tx.Exec(ctx, `
		UPDATE requests SET answer_notice_id = $2, answered_at = $3, answered_by = $4,
		       state = CASE WHEN state = 'closed' THEN state ELSE 'answered' END
		WHERE id = $1 AND (answer_notice_id IS NULL OR answer_notice_id = $2)`, id, noticeID, at, actor)
	if err != nil {
		return fmt.Errorf("record answer of request %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: request %d already has another answer", ErrConflict, id)
	}
	return nil
}
