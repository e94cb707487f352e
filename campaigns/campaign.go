package campaigns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/templates"
)

// Kind is what a campaign is for.
type Kind string

// The campaign kinds.
const (
	GeneralMailing    Kind = "general_mailing"
	YearlySweep       Kind = "yearly_sweep"
	LifeEventOutreach Kind = "life_event_outreach"
	Reminder          Kind = "reminder"
)

// Campaign states. A campaign goes draft → approved → scheduled → running →
// completed, may be paused (and resumed) while scheduled or running, and
// may be cancelled until it is completed.
const (
	StateDraft     = "draft"
	StateApproved  = "approved"
	StateScheduled = "scheduled"
	StateRunning   = "running"
	StatePaused    = "paused"
	StateCompleted = "completed"
	StateCancelled = "cancelled"
)

// DefaultApprovalThreshold is the audience size above which a reminder
// campaign needs a second operator's approval.
const DefaultApprovalThreshold = 1000

// Error codes, mapped by the HTTP layer to status codes.
const (
	CodeInvalid  = "invalid"   // 400
	CodeNotFound = "not_found" // 404
	CodeConflict = "conflict"  // 409: wrong state
	CodeApproval = "forbidden" // 403: four-eyes
)

// Error is a campaign error a caller can act on.
type Error struct {
	Code  string
	Field string // the offending input field, if any
	Msg   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Msg
	}
	return e.Msg
}

// ErrorCode returns the code of err if it is (or wraps) an *Error or a
// *FilterError, else "".
func ErrorCode(err error) (code, field string) {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Code, ce.Field
	}
	var fe *FilterError
	if errors.As(err, &fe) {
		return CodeInvalid, "audience." + fe.Field
	}
	return "", ""
}

// DBTX is what campaign functions need from a pool or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Campaign is a campaign as stored.
type Campaign struct {
	ID               int64          `json:"id"`
	Name             string         `json:"name"`
	Kind             Kind           `json:"kind"`
	NoticeKind       notices.Kind   `json:"notice_kind"`
	TemplateKey      string         `json:"template_key"`
	Data             map[string]any `json:"data"`
	Audience         Audience       `json:"audience"`
	StartAt          *time.Time     `json:"start_at,omitempty"`
	Pace             Pace           `json:"pace"`
	State            string         `json:"state"`
	NeedsApproval    bool           `json:"needs_approval"`
	CalendarKey      string         `json:"calendar_key,omitempty"`
	Reason           string         `json:"reason,omitempty"`
	Test             bool           `json:"test"`
	CreatedBy        string         `json:"created_by"`
	ApprovedBy       string         `json:"approved_by,omitempty"`
	AudienceEstimate int64          `json:"audience_estimate"`
	// JobSize is the number of notices per deliver_batch job; 0: the
	// server's default.
	JobSize      int        `json:"job_size,omitempty"`
	Targeted     int64      `json:"targeted"`
	Cursor       int64      `json:"cursor"`
	FanoutDoneAt *time.Time `json:"fanout_done_at,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
	CancelledAt  *time.Time `json:"cancelled_at,omitempty"`
}

// Final reports whether the campaign can no longer change state.
func (c *Campaign) Final() bool { return c.State == StateCompleted || c.State == StateCancelled }

const columns = `id, name, kind, notice_kind, template_key, data, audience, start_at, pace_days, window_from, window_to,
	weekdays_only, state, needs_approval, coalesce(calendar_key, ''), reason, test, created_by, coalesce(approved_by, ''),
	audience_estimate, targeted, fanout_cursor, fanout_done_at, created_at, started_at, completed_at, cancelled_at, job_size`

func scan(row pgx.Row) (*Campaign, error) {
	var c Campaign
	var data, aud []byte
	var kind, nkind string
	err := row.Scan(&c.ID, &c.Name, &kind, &nkind, &c.TemplateKey, &data, &aud, &c.StartAt, &c.Pace.Days,
		&c.Pace.WindowFrom, &c.Pace.WindowTo, &c.Pace.WeekdaysOnly, &c.State, &c.NeedsApproval, &c.CalendarKey,
		&c.Reason, &c.Test, &c.CreatedBy, &c.ApprovedBy, &c.AudienceEstimate, &c.Targeted, &c.Cursor,
		&c.FanoutDoneAt, &c.CreatedAt, &c.StartedAt, &c.CompletedAt, &c.CancelledAt, &c.JobSize)
	if err != nil {
		return nil, err
	}
	c.Kind, c.NoticeKind = Kind(kind), notices.Kind(nkind)
	if err := json.Unmarshal(data, &c.Data); err != nil {
		return nil, fmt.Errorf("campaign %d data: %w", c.ID, err)
	}
	if err := json.Unmarshal(aud, &c.Audience); err != nil {
		return nil, fmt.Errorf("campaign %d audience: %w", c.ID, err)
	}
	c.Audience.Test = c.Test // a test campaign targets test beneficiaries only
	return &c, nil
}

// New describes a campaign to create.
type New struct {
	Name        string
	Kind        Kind
	TemplateKey string // defaults per kind (general_information, yearly_statement …)
	NoticeKind  notices.Kind
	Data        map[string]any
	Audience    Audience
	StartAt     *time.Time
	Pace        Pace
	// CalendarKey makes creation idempotent: a second Create with the same
	// key returns the first campaign.
	CalendarKey string
	Reason      string
	Test        bool
	CreatedBy   string
	// JobSize is the number of notices per deliver_batch job (0: the
	// server's default).
	JobSize int
	// ApprovedBy pre-approves the campaign (calendar entries that name their
	// approver); it must differ from CreatedBy.
	ApprovedBy string
}

// Config holds the campaign rules.
type Config struct {
	// ApprovalThreshold: a reminder to more beneficiaries than this needs
	// approval. Default DefaultApprovalThreshold.
	ApprovalThreshold int
	// Templates validates each campaign's data against its template's
	// declared fields. Nil loads the embedded defaults.
	Templates *templates.Set
}

func (c *Config) threshold() int {
	if c == nil || c.ApprovalThreshold <= 0 {
		return DefaultApprovalThreshold
	}
	return c.ApprovalThreshold
}

func (c *Config) templates() (*templates.Set, error) {
	if c != nil && c.Templates != nil {
		return c.Templates, nil
	}
	return defaultTemplates()
}

var defaultTemplates = sync1(func() (*templates.Set, error) { return templates.Load(nil) })

// noticeKindFor returns the notice kind a campaign of kind k creates from
// template key.
func noticeKindFor(k Kind, key string, given notices.Kind) (notices.Kind, error) {
	switch k {
	case GeneralMailing:
		return notices.GeneralInformation, nil
	case YearlySweep:
		return notices.YearlyStatement, nil
	case LifeEventOutreach:
		if given.Outreach() {
			return given, nil
		}
		if notices.Kind(key).Outreach() {
			return notices.Kind(key), nil
		}
		return "", &Error{Code: CodeInvalid, Field: "template", Msg: "an outreach campaign needs an outreach_* kind"}
	case Reminder:
		nk := given
		if nk == "" {
			nk = notices.Kind(key)
		}
		if !strings.HasPrefix(string(nk), "reminder_") || !nk.Valid() {
			return "", &Error{Code: CodeInvalid, Field: "template", Msg: fmt.Sprintf("%q is not a reminder_* kind", nk)}
		}
		return nk, nil
	}
	return "", &Error{Code: CodeInvalid, Field: "kind", Msg: fmt.Sprintf("%q is not one of general_mailing, yearly_sweep, life_event_outreach, reminder", k)}
}

// CheckData verifies that data satisfies the fields declared by the
// template key on every channel it has, by rendering it for a sample
// beneficiary. The error names the first bad field.
func CheckData(set *templates.Set, key string, data map[string]any) error {
	found := false
	for _, ch := range templates.Channels {
		if !set.Has(key, ch) {
			continue
		}
		found = true
		_, err := set.Render(key, ch, templates.Input{Recipient: templates.SampleRecipient(), Data: data})
		if err != nil {
			return &Error{Code: CodeInvalid, Field: "data", Msg: err.Error()}
		}
	}
	if !found {
		return &Error{Code: CodeInvalid, Field: "template", Msg: fmt.Sprintf("no template %q", key)}
	}
	return nil
}

// Create validates n and stores a draft campaign (approved when n names a
// different approver), recording who created it. With a CalendarKey that
// already exists it returns the existing campaign and created false.
func Create(ctx context.Context, db DBTX, n New, cfg *Config) (c *Campaign, created bool, err error) {
	n.Name = strings.TrimSpace(n.Name)
	n.CreatedBy = strings.TrimSpace(n.CreatedBy)
	if n.CreatedBy == "" {
		return nil, false, &Error{Code: CodeInvalid, Field: "created_by", Msg: "the operator is required"}
	}
	if err := checkJobSize(n.JobSize); err != nil {
		return nil, false, err
	}
	if n.TemplateKey == "" {
		switch n.Kind {
		case GeneralMailing:
			n.TemplateKey = string(notices.GeneralInformation)
		case YearlySweep:
			n.TemplateKey = string(notices.YearlyStatement)
		default:
			n.TemplateKey = string(n.NoticeKind)
		}
	}
	if n.TemplateKey == "" {
		return nil, false, &Error{Code: CodeInvalid, Field: "template", Msg: "is required"}
	}
	nk, err := noticeKindFor(n.Kind, n.TemplateKey, n.NoticeKind)
	if err != nil {
		return nil, false, err
	}
	if n.Name == "" {
		n.Name = string(n.Kind) + " " + n.TemplateKey
	}
	if err := n.Pace.Validate(); err != nil {
		return nil, false, err
	}
	n.Audience.Test = n.Test
	if _, err := n.Audience.Compile(0); err != nil {
		return nil, false, err
	}
	if n.Data == nil {
		n.Data = map[string]any{}
	}
	if n.Kind != YearlySweep && n.Kind != LifeEventOutreach {
		set, err := cfg.templates()
		if err != nil {
			return nil, false, err
		}
		if err := CheckData(set, n.TemplateKey, n.Data); err != nil {
			return nil, false, err
		}
	}
	if n.ApprovedBy != "" && SameOperator(n.ApprovedBy, n.CreatedBy) {
		return nil, false, &Error{Code: CodeApproval, Field: "approved_by", Msg: "four-eyes: the approver must differ from the creator"}
	}
	needs := n.Kind == GeneralMailing
	var estimate int64 // known now for reminders, so the approver sees it
	if n.Kind == Reminder {
		count, err := CountAudience(ctx, db, &n.Audience)
		if err != nil {
			return nil, false, err
		}
		needs, estimate = count > int64(cfg.threshold()), count
	}
	data, err := json.Marshal(n.Data)
	if err != nil {
		return nil, false, &Error{Code: CodeInvalid, Field: "data", Msg: err.Error()}
	}
	state := StateDraft
	var approvedBy *string
	if n.ApprovedBy != "" {
		state, approvedBy = StateApproved, &n.ApprovedBy
	}
	var calKey *string
	if n.CalendarKey != "" {
		calKey = &n.CalendarKey
	}
	var id int64
	err = db.QueryRow(ctx, `
		INSERT INTO campaigns (name, kind, notice_kind, template_key, data, audience, start_at, pace_days, window_from,
		    window_to, weekdays_only, state, needs_approval, calendar_key, reason, test, created_by, approved_by, approved_at, job_size,
		    audience_estimate)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
		    CASE WHEN $18::text IS NULL THEN NULL ELSE now() END, $19, $20)
		ON CONFLICT (calendar_key) DO NOTHING
		RETURNING id`,
		n.Name, string(n.Kind), string(nk), n.TemplateKey, data, n.Audience.JSON(), n.StartAt, n.Pace.Days,
		n.Pace.WindowFrom, n.Pace.WindowTo, n.Pace.WeekdaysOnly, state, needs, calKey, n.Reason, n.Test,
		n.CreatedBy, approvedBy, n.JobSize, estimate).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		c, err := scan(db.QueryRow(ctx, `SELECT `+columns+` FROM campaigns WHERE calendar_key = $1`, n.CalendarKey))
		return c, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("insert campaign: %w", err)
	}
	detail := n.Reason
	if n.CalendarKey != "" {
		detail = "calendar " + n.CalendarKey
	}
	if err := RecordEvent(ctx, db, id, "created", n.CreatedBy, detail); err != nil {
		return nil, false, err
	}
	if approvedBy != nil {
		if err := RecordEvent(ctx, db, id, "approved", *approvedBy, detail); err != nil {
			return nil, false, err
		}
	}
	c, err = Get(ctx, db, id)
	return c, true, err
}

// RecordEvent appends to the campaign's ledger of who did what.
func RecordEvent(ctx context.Context, db DBTX, campaignID int64, event, actor, detail string) error {
	_, err := db.Exec(ctx, `INSERT INTO campaign_events (campaign_id, event, actor, detail) VALUES ($1, $2, $3, $4)`,
		campaignID, event, actor, detail)
	if err != nil {
		return fmt.Errorf("record campaign %d %s: %w", campaignID, event, err)
	}
	return nil
}

// Get loads a campaign.
func Get(ctx context.Context, db DBTX, id int64) (*Campaign, error) {
	c, err := scan(db.QueryRow(ctx, `SELECT `+columns+` FROM campaigns WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &Error{Code: CodeNotFound, Msg: fmt.Sprintf("campaign %d not found", id)}
	}
	return c, err
}

// GetForUpdate loads a campaign and locks it until the transaction ends.
// The fan-out holds this lock for each batch, so a pause or cancel waits
// for the batch in progress and the next batch sees it.
func GetForUpdate(ctx context.Context, tx DBTX, id int64) (*Campaign, error) {
	c, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM campaigns WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &Error{Code: CodeNotFound, Msg: fmt.Sprintf("campaign %d not found", id)}
	}
	return c, err
}

// List returns the most recent campaigns, newest first.
func List(ctx context.Context, db DBTX, limit int) ([]*Campaign, error) {
	rows, err := db.Query(ctx, `SELECT `+columns+` FROM campaigns ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Campaign
	for rows.Next() {
		c, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func conflict(c *Campaign, action string) error {
	return &Error{Code: CodeConflict, Field: "state", Msg: fmt.Sprintf("campaign %d is %s: cannot %s", c.ID, c.State, action)}
}

// Approve records actor's approval of a draft campaign. Four-eyes: the
// creator cannot approve their own campaign.
func Approve(ctx context.Context, tx DBTX, id int64, actor string) (*Campaign, error) {
	actor = strings.TrimSpace(actor)
	if actor == "" {
		return nil, &Error{Code: CodeInvalid, Field: "operator", Msg: "the approving operator is required"}
	}
	c, err := GetForUpdate(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if c.State != StateDraft {
		return nil, conflict(c, "approve")
	}
	if SameOperator(actor, c.CreatedBy) {
		return nil, &Error{Code: CodeApproval, Field: "operator",
			Msg: fmt.Sprintf("four-eyes: %s created campaign %d and cannot approve it; another operator must", actor, id)}
	}
	if _, err := tx.Exec(ctx, `UPDATE campaigns SET state = 'approved', approved_by = $2, approved_at = now(), updated_at = now()
		WHERE id = $1`, id, actor); err != nil {
		return nil, err
	}
	if err := RecordEvent(ctx, tx, id, "approved", actor, ""); err != nil {
		return nil, err
	}
	return Get(ctx, tx, id)
}

// MarkStarted moves an approved campaign (or a draft that needs no
// approval) to scheduled (its start is in the future) or running, counts
// its audience for pace planning, and records who started it. The caller
// enqueues the fan-out in the same transaction.
func MarkStarted(ctx context.Context, tx DBTX, id int64, actor string, now time.Time, cfg *Config) (*Campaign, error) {
	c, err := GetForUpdate(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	switch c.State {
	case StateApproved:
	case StateDraft:
		needs := c.NeedsApproval
		if c.Kind == Reminder {
			// The audience may have grown since the campaign was created.
			n, err := CountAudience(ctx, tx, &c.Audience)
			if err != nil {
				return nil, err
			}
			needs = needs || n > int64(cfg.threshold())
		}
		if needs {
			return nil, &Error{Code: CodeApproval, Field: "state",
				Msg: fmt.Sprintf("campaign %d needs approval by an operator other than %s before it starts", id, c.CreatedBy)}
		}
	default:
		return nil, conflict(c, "start")
	}
	estimate, err := CountAudience(ctx, tx, &c.Audience)
	if err != nil {
		return nil, err
	}
	state := StateRunning
	if c.StartAt != nil && c.StartAt.After(now) {
		state = StateScheduled
	}
	if _, err := tx.Exec(ctx, `UPDATE campaigns SET state = $2, audience_estimate = $3, started_at = $4, updated_at = now()
		WHERE id = $1`, id, state, estimate, now); err != nil {
		return nil, err
	}
	if err := RecordEvent(ctx, tx, id, "started", actor, fmt.Sprintf("audience %d", estimate)); err != nil {
		return nil, err
	}
	return Get(ctx, tx, id)
}

// MarkPaused pauses a scheduled or running campaign.
func MarkPaused(ctx context.Context, tx DBTX, id int64, actor string) (*Campaign, error) {
	c, err := GetForUpdate(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if c.State != StateRunning && c.State != StateScheduled {
		return nil, conflict(c, "pause")
	}
	if _, err := tx.Exec(ctx, `UPDATE campaigns SET state = 'paused', updated_at = now() WHERE id = $1`, id); err != nil {
		return nil, err
	}
	if err := RecordEvent(ctx, tx, id, "paused", actor, ""); err != nil {
		return nil, err
	}
	return Get(ctx, tx, id)
}

// MarkResumed resumes a paused campaign.
func MarkResumed(ctx context.Context, tx DBTX, id int64, actor string, now time.Time) (*Campaign, error) {
	c, err := GetForUpdate(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if c.State != StatePaused {
		return nil, conflict(c, "resume")
	}
	state := StateRunning
	if c.StartAt != nil && c.StartAt.After(now) {
		state = StateScheduled
	}
	if _, err := tx.Exec(ctx, `UPDATE campaigns SET state = $2, updated_at = now() WHERE id = $1`, id, state); err != nil {
		return nil, err
	}
	if err := RecordEvent(ctx, tx, id, "resumed", actor, ""); err != nil {
		return nil, err
	}
	return Get(ctx, tx, id)
}

// MarkCancelled cancels a campaign that is not completed: its pending
// notices become cancelled; notices already being sent or sent are left
// as they are. It returns how many notices it cancelled.
func MarkCancelled(ctx context.Context, tx DBTX, id int64, actor, reason string) (int64, error) {
	c, err := GetForUpdate(ctx, tx, id)
	if err != nil {
		return 0, err
	}
	if c.Final() {
		return 0, conflict(c, "cancel")
	}
	if _, err := tx.Exec(ctx, `UPDATE campaigns SET state = 'cancelled', cancelled_at = now(), updated_at = now()
		WHERE id = $1`, id); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, `UPDATE notices SET state = 'cancelled', state_reason = $2, updated_at = now()
		WHERE campaign_id = $1 AND state = 'pending'`, id, "campaign cancelled by "+actor)
	if err != nil {
		return 0, fmt.Errorf("cancel notices of campaign %d: %w", id, err)
	}
	detail := fmt.Sprintf("%d pending notices cancelled", tag.RowsAffected())
	if reason != "" {
		detail += ": " + reason
	}
	return tag.RowsAffected(), RecordEvent(ctx, tx, id, "cancelled", actor, detail)
}

// Active reports whether the deliveries of a campaign may go ahead: false
// while it is paused or once it is cancelled. A deliver worker that finds a
// notice's campaign inactive should snooze (paused) or skip (cancelled).
func Active(ctx context.Context, db DBTX, campaignID int64) (bool, error) {
	var state string
	err := db.QueryRow(ctx, `SELECT state FROM campaigns WHERE id = $1`, campaignID).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, &Error{Code: CodeNotFound, Msg: fmt.Sprintf("campaign %d not found", campaignID)}
	}
	if err != nil {
		return false, err
	}
	return state != StatePaused && state != StateCancelled, nil
}

// CompleteIfDone moves a running campaign whose fan-out has finished and
// none of whose notices still waits to be sent to completed. It reports
// whether it did.
func CompleteIfDone(ctx context.Context, db DBTX, id int64) (bool, error) {
	tag, err := db.Exec(ctx, `
		UPDATE campaigns c SET state = 'completed', completed_at = now(), updated_at = now()
		WHERE c.id = $1 AND c.state = 'running' AND c.fanout_done_at IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.campaign_id = c.id AND n.state IN ('pending', 'sending'))`, id)
	if err != nil {
		return false, err
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	return true, RecordEvent(ctx, db, id, "completed", "system", "")
}

// Counts are a campaign's progress, computed from its notices.
type Counts struct {
	Estimate  int64 `json:"audience_estimate"`
	Targeted  int64 `json:"targeted"`
	Created   int64 `json:"notices_created"`
	Pending   int64 `json:"pending"`
	Sending   int64 `json:"sending"`
	Sent      int64 `json:"sent"` // accepted by the provider, receipt awaited
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"`
	NoRoute   int64 `json:"no_route"`
	Cancelled int64 `json:"cancelled"`
}

// Done is the number of notices that need no more work.
func (c Counts) Done() int64 { return c.Delivered + c.Failed + c.NoRoute + c.Cancelled }

// GetCounts computes a campaign's counts exactly from its notices.
func GetCounts(ctx context.Context, db DBTX, id int64) (Counts, error) {
	var c Counts
	err := db.QueryRow(ctx, `
		SELECT c.audience_estimate, c.targeted, count(n.id),
		       count(*) FILTER (WHERE n.state = 'pending'), count(*) FILTER (WHERE n.state = 'sending'),
		       count(*) FILTER (WHERE n.state = 'sent'), count(*) FILTER (WHERE n.state = 'delivered'),
		       count(*) FILTER (WHERE n.state = 'failed'), count(*) FILTER (WHERE n.state = 'no_route'),
		       count(*) FILTER (WHERE n.state = 'cancelled')
		FROM campaigns c LEFT JOIN notices n ON n.campaign_id = c.id
		WHERE c.id = $1 GROUP BY c.id`, id).Scan(&c.Estimate, &c.Targeted, &c.Created, &c.Pending, &c.Sending,
		&c.Sent, &c.Delivered, &c.Failed, &c.NoRoute, &c.Cancelled)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, &Error{Code: CodeNotFound, Msg: fmt.Sprintf("campaign %d not found", id)}
	}
	return c, err
}

// Event is one line of a campaign's ledger.
type Event struct {
	Event      string    `json:"event"`
	Actor      string    `json:"actor"`
	Detail     string    `json:"detail,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
}

// Events lists who did what to a campaign, oldest first.
func Events(ctx context.Context, db DBTX, id int64) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT event, actor, detail, occurred_at FROM campaign_events WHERE campaign_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		err := row.Scan(&e.Event, &e.Actor, &e.Detail, &e.OccurredAt)
		return e, err
	})
}

// CountAudience counts the beneficiaries an audience matches now.
func CountAudience(ctx context.Context, db DBTX, a *Audience) (int64, error) {
	c, err := a.Compile(0)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM recipients r WHERE `+c.Where, c.Args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count audience: %w", err)
	}
	return n, nil
}

// sync1 returns f memoised: called once, on first use.
func sync1[T any](f func() (T, error)) func() (T, error) {
	var once sync.Once
	var v T
	var err error
	return func() (T, error) {
		once.Do(func() { v, err = f() })
		return v, err
	}
}

// TemplateSet returns the templates campaign data is checked against.
func (c *Config) TemplateSet() (*templates.Set, error) { return c.templates() }

// SameOperator reports whether two actors are the same person for
// four-eyes: names compare case-insensitively, and an API actor
// "key:12/Marie Curie" is the operator "Marie Curie" whatever the key.
func SameOperator(a, b string) bool {
	return strings.EqualFold(operatorName(a), operatorName(b))
}

func operatorName(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "key:") {
		if _, name, ok := strings.Cut(s, "/"); ok {
			return strings.TrimSpace(name)
		}
	}
	return s
}

// MaxJobSize bounds a campaign's notices per deliver_batch job.
const MaxJobSize = 10000

func checkJobSize(n int) error {
	if n < 0 || n > MaxJobSize {
		return &Error{Code: CodeInvalid, Field: "job_size", Msg: fmt.Sprintf("%d is not a job size: give 1 to %d notices per job (0: the default)", n, MaxJobSize)}
	}
	return nil
}

// SetJobSize records the campaign's notices per deliver_batch job, for the
// batches not enqueued yet; 0 leaves it unchanged.
func SetJobSize(ctx context.Context, db DBTX, id int64, n int) error {
	if err := checkJobSize(n); err != nil || n == 0 {
		return err
	}
	if _, err := db.Exec(ctx, `UPDATE campaigns SET job_size = $2, updated_at = now() WHERE id = $1`, id, n); err != nil {
		return fmt.Errorf("set job size of campaign %d: %w", id, err)
	}
	return nil
}
