// Package notices defines the notice: what must be said to whom and why. A
// notice has a kind (which promise it serves), a template, the data the
// template needs, an idempotency key that makes replays harmless, and an
// optional deadline.
package notices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Kind is what a notice is about. Its value is also the default template key.
type Kind string

// The notice kinds.
const (
	RightsOpened              Kind = "rights_opened"
	RightsChanged             Kind = "rights_changed"
	NoRights                  Kind = "no_rights"
	YearlyStatement           Kind = "yearly_statement"
	GeneralInformation        Kind = "general_information"
	OutreachFirstBirth        Kind = "outreach_first_birth"
	OutreachSeparation        Kind = "outreach_separation"
	OutreachChildDeath        Kind = "outreach_child_death"
	OutreachParentDeath       Kind = "outreach_parent_death"
	ReminderIncomeDeclaration Kind = "reminder_income_declaration"
	ReminderMissingDocument   Kind = "reminder_missing_document"
	ReminderGeneric           Kind = "reminder_generic"
	RequestAcknowledgement    Kind = "request_acknowledgement"
	RequestAnswer             Kind = "request_answer"
	ComplaintAnswer           Kind = "complaint_answer"
)

// Kinds lists every notice kind.
var Kinds = []Kind{
	RightsOpened, RightsChanged, NoRights, YearlyStatement, GeneralInformation,
	OutreachFirstBirth, OutreachSeparation, OutreachChildDeath, OutreachParentDeath,
	ReminderIncomeDeclaration, ReminderMissingDocument, ReminderGeneric,
	RequestAcknowledgement, RequestAnswer, ComplaintAnswer,
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if v == k {
			return true
		}
	}
	return false
}

// Personal reports whether k is a personalised rights notice, the kind the
// at-least-once-a-year promise counts.
func (k Kind) Personal() bool {
	switch k {
	case RightsOpened, RightsChanged, NoRights, YearlyStatement:
		return true
	}
	return false
}

// Bulk reports whether k is a general mailing or outreach: such messages carry
// an unsubscribe link and respect the recipient's outreach opt-out.
func (k Kind) Bulk() bool {
	switch k {
	case GeneralInformation, OutreachFirstBirth, OutreachSeparation, OutreachChildDeath, OutreachParentDeath:
		return true
	}
	return false
}

// Outreach reports whether k is a life-event outreach offer.
func (k Kind) Outreach() bool {
	switch k {
	case OutreachFirstBirth, OutreachSeparation, OutreachChildDeath, OutreachParentDeath:
		return true
	}
	return false
}

// Notice states.
const (
	StatePending   = "pending"
	StateSending   = "sending"
	StateSent      = "sent"
	StateDelivered = "delivered"
	StateFailed    = "failed"
	StateNoRoute   = "no_route"
	StateCancelled = "cancelled"
)

// Done reports whether a notice in state s needs no more work.
func Done(s string) bool {
	switch s {
	case StateDelivered, StateFailed, StateNoRoute, StateCancelled:
		return true
	}
	return false
}

// Notice is a message owed to a beneficiary.
type Notice struct {
	ID             int64          `json:"id"`
	RecipientID    int64          `json:"recipient_id"`
	Kind           Kind           `json:"kind"`
	TemplateKey    string         `json:"template_key"`
	Data           map[string]any `json:"data"`
	IdempotencyKey string         `json:"idempotency_key"`
	DueBy          *time.Time     `json:"due_by,omitempty"`
	State          string         `json:"state"`
	StateReason    string         `json:"state_reason,omitempty"`
	Channel        string         `json:"channel,omitempty"`
	Test           bool           `json:"test"`
	CreatedBy      string         `json:"created_by,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
	SentAt         *time.Time     `json:"sent_at,omitempty"`
	DeliveredAt    *time.Time     `json:"delivered_at,omitempty"`
}

// New describes a notice to create.
type New struct {
	RecipientID    int64
	Kind           Kind
	TemplateKey    string // defaults to the kind
	Data           map[string]any
	IdempotencyKey string
	DueBy          *time.Time
	Test           bool
	CreatedBy      string
}

// ErrInvalid is wrapped by validation errors of New.
var ErrInvalid = errors.New("invalid notice")

// ErrNotFound is returned when a notice does not exist.
var ErrNotFound = errors.New("notice not found")

// Validate checks n before insertion.
func (n *New) Validate() error {
	switch {
	case n.RecipientID <= 0:
		return fmt.Errorf("%w: recipient is required", ErrInvalid)
	case !n.Kind.Valid():
		return fmt.Errorf("%w: kind %q is not a known notice kind", ErrInvalid, n.Kind)
	case n.IdempotencyKey == "":
		return fmt.Errorf("%w: idempotency key is required", ErrInvalid)
	case len(n.IdempotencyKey) > 200:
		return fmt.Errorf("%w: idempotency key is longer than 200 characters", ErrInvalid)
	}
	return nil
}

// DBTX is what notices functions need from a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Insert creates the notice, or finds the one that already has its
// idempotency key. created is false when it already existed.
func Insert(ctx context.Context, tx DBTX, n New) (id int64, created bool, err error) {
	if err := n.Validate(); err != nil {
		return 0, false, err
	}
	if n.TemplateKey == "" {
		n.TemplateKey = string(n.Kind)
	}
	if n.Data == nil {
		n.Data = map[string]any{}
	}
	data, err := json.Marshal(n.Data)
	if err != nil {
		return 0, false, fmt.Errorf("%w: data: %v", ErrInvalid, err)
	}
	err = tx.QueryRow(ctx, `
		INSERT INTO notices (recipient_id, kind, template_key, data, idempotency_key, due_by, test, created_by, caf, trace_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, (SELECT caf FROM recipients WHERE id = $1), nullif($9, ''))
		ON CONFLICT (idempotency_key, test) DO NOTHING
		RETURNING id`,
		n.RecipientID, string(n.Kind), n.TemplateKey, data, n.IdempotencyKey, n.DueBy, n.Test, n.CreatedBy, traceID(ctx),
	).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("insert notice %s: %w", n.Kind, err)
	}
	// Keys are unique per world (live, test): the row's test flag is the
	// notice's own or its beneficiary's (trigger courrier_inherit_test).
	if err := tx.QueryRow(ctx, `SELECT id FROM notices WHERE idempotency_key = $1
		AND test = ($2 OR coalesce((SELECT test FROM recipients WHERE id = $3), false))`,
		n.IdempotencyKey, n.Test, n.RecipientID).Scan(&id); err != nil {
		return 0, false, fmt.Errorf("find notice by idempotency key: %w", err)
	}
	return id, false, nil
}

const columns = `id, recipient_id, kind, template_key, data, idempotency_key, due_by, state, state_reason,
	channel, test, created_by, created_at, sent_at, delivered_at`

// Scan reads a notice from a row selected with Columns.
func Scan(row pgx.Row) (*Notice, error) {
	n := &Notice{}
	dest, finish := ScanDest(n)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return n, finish()
}

// ScanDest returns the scan destinations of Columns for n, and a function to
// call once the row is scanned. It lets a query select a notice together
// with other columns.
func ScanDest(n *Notice) (dest []any, finish func() error) {
	var kind string
	var data []byte
	dest = []any{&n.ID, &n.RecipientID, &kind, &n.TemplateKey, &data, &n.IdempotencyKey, &n.DueBy, &n.State,
		&n.StateReason, &n.Channel, &n.Test, &n.CreatedBy, &n.CreatedAt, &n.SentAt, &n.DeliveredAt}
	return dest, func() error {
		n.Kind = Kind(kind)
		if err := json.Unmarshal(data, &n.Data); err != nil {
			return fmt.Errorf("decode data of notice %d: %w", n.ID, err)
		}
		return nil
	}
}

// Columns is the column list that Scan reads.
const Columns = columns

// Get loads a notice.
func Get(ctx context.Context, db DBTX, id int64) (*Notice, error) {
	n, err := Scan(db.QueryRow(ctx, `SELECT `+columns+` FROM notices WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	return n, err
}

// GetForUpdate loads a notice and locks its row until the transaction ends.
func GetForUpdate(ctx context.Context, tx DBTX, id int64) (*Notice, error) {
	n, err := Scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM notices WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	return n, err
}

// SetState moves a notice to state. channel is the channel that satisfied it
// (for sent and delivered) and reason says why (for failed and no_route).
func SetState(ctx context.Context, tx DBTX, id int64, state, channel, reason string, at time.Time) error {
	_, err := tx.Exec(ctx, `
		UPDATE notices SET state = $2,
		       channel = CASE WHEN $3 <> '' THEN $3 ELSE channel END,
		       state_reason = $4, updated_at = $5,
		       sent_at = CASE WHEN $2 IN ('sent', 'delivered') THEN coalesce(sent_at, $5) ELSE sent_at END,
		       delivered_at = CASE WHEN $2 = 'delivered' THEN coalesce(delivered_at, $5) ELSE delivered_at END
		WHERE id = $1 AND state NOT IN ('delivered', 'cancelled')`, id, state, channel, reason, at)
	if err != nil {
		return fmt.Errorf("set notice %d %s: %w", id, state, err)
	}
	return nil
}
