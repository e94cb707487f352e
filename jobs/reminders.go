package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
)

// Reminder is a staff reminder: to one beneficiary (RecipientRef) or to an
// audience.
type Reminder struct {
	Template     string              `json:"template"` // a reminder_* kind
	RecipientRef string              `json:"recipient_ref,omitempty"`
	Audience     *campaigns.Audience `json:"audience,omitempty"`
	Data         map[string]any      `json:"data"`
	Reason       string              `json:"reason"`
	// IdempotencyKey makes a replayed one-beneficiary reminder harmless;
	// default: a hash of template, beneficiary, data, reason and the day.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// SendAt schedules the reminder for later (nil: at once). It must lie
	// in the future, at most MaxReminderDelay ahead.
	SendAt   *time.Time `json:"send_at,omitempty"`
	Operator string     `json:"-"`
	Test     bool       `json:"-"`
}

// ReminderResult says what SendReminder did.
type ReminderResult struct {
	NoticeID int64               `json:"notice_id,omitempty"`
	Created  bool                `json:"created"`
	Campaign *campaigns.Campaign `json:"campaign,omitempty"`
	// NeedsApproval: the audience is above the approval threshold; the
	// campaign waits for `courrier campaign approve` by another operator.
	NeedsApproval bool `json:"needs_approval"`
	// SendAt is when a scheduled one-beneficiary reminder goes.
	SendAt *time.Time `json:"send_at,omitempty"`
}

// MaxReminderDelay is how far ahead a reminder may be scheduled.
const MaxReminderDelay = 366 * 24 * time.Hour

// SendReminder validates r and either enqueues one notice at once (a
// beneficiary) or creates a reminder campaign (an audience), started at
// once unless its audience is above the approval threshold. Errors are
// *campaigns.Error or *campaigns.FilterError naming the bad field.
func SendReminder(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], r Reminder, cfg *campaigns.Config) (*ReminderResult, error) {
	r.Operator = strings.TrimSpace(r.Operator)
	r.Reason = strings.TrimSpace(r.Reason)
	switch {
	case r.Operator == "":
		return nil, &campaigns.Error{Code: campaigns.CodeInvalid, Field: "operator", Msg: "the operator is required"}
	case !strings.HasPrefix(r.Template, "reminder_") || !notices.Kind(r.Template).Valid():
		return nil, &campaigns.Error{Code: campaigns.CodeInvalid, Field: "template", Msg: fmt.Sprintf("%q is not a reminder kind (reminder_income_declaration, reminder_missing_document, reminder_generic)", r.Template)}
	case r.Reason == "":
		return nil, &campaigns.Error{Code: campaigns.CodeInvalid, Field: "reason", Msg: "say why the reminder is sent"}
	case (r.RecipientRef == "") == (r.Audience == nil):
		return nil, &campaigns.Error{Code: campaigns.CodeInvalid, Field: "recipient_ref", Msg: "give either recipient_ref or audience"}
	}
	now := time.Now()
	if r.SendAt != nil {
		switch {
		case r.SendAt.Before(now.Add(-time.Minute)):
			return nil, &campaigns.Error{Code: campaigns.CodeInvalid, Field: "send_at", Msg: "is in the past: give a time to come, or none to send at once"}
		case r.SendAt.After(now.Add(MaxReminderDelay)):
			return nil, &campaigns.Error{Code: campaigns.CodeInvalid, Field: "send_at", Msg: "is more than a year ahead"}
		}
	}
	if r.Data == nil {
		r.Data = map[string]any{}
	}
	if err := unknownDataFields(cfg, r.Template, r.Data); err != nil {
		return nil, err
	}
	if r.Audience != nil {
		var res ReminderResult
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			c, _, err := campaigns.Create(ctx, tx, campaigns.New{
				Name: r.Template + ": " + r.Reason, Kind: campaigns.Reminder, TemplateKey: r.Template, Data: r.Data,
				Audience: *r.Audience, Reason: r.Reason, CreatedBy: r.Operator, Test: r.Test, StartAt: r.SendAt,
			}, cfg)
			if err != nil {
				return err
			}
			res.Campaign, res.Created, res.NeedsApproval = c, true, c.NeedsApproval
			if c.NeedsApproval {
				return nil
			}
			res.Campaign, err = startCampaignTx(ctx, tx, client, c.ID, r.Operator, now, cfg)
			return err
		})
		if err != nil {
			return nil, err
		}
		return &res, nil
	}
	set, err := cfg.TemplateSet()
	if err != nil {
		return nil, err
	}
	if err := campaigns.CheckData(set, r.Template, r.Data); err != nil {
		return nil, err
	}
	rcpt, err := recipients.GetByRefIn(ctx, pool, r.RecipientRef, r.Test)
	if errors.Is(err, recipients.ErrNotFound) {
		return nil, &campaigns.Error{Code: campaigns.CodeNotFound, Field: "recipient_ref", Msg: "no beneficiary with this number"}
	}
	if err != nil {
		return nil, err
	}
	key := r.IdempotencyKey
	if key == "" {
		data, _ := json.Marshal(r.Data)
		day := now
		if r.SendAt != nil {
			day = *r.SendAt
		}
		sum := sha256.Sum256([]byte(strings.Join([]string{r.Template, r.RecipientRef, string(data), r.Reason,
			day.In(campaigns.Paris()).Format("2006-01-02")}, "\x00")))
		key = "reminder:" + hex.EncodeToString(sum[:16])
	}
	var opts *EnqueueOpts
	if r.SendAt != nil {
		opts = &EnqueueOpts{NotBefore: *r.SendAt}
	}
	res := ReminderResult{SendAt: r.SendAt}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		n := notices.New{RecipientID: rcpt.ID, Kind: notices.Kind(r.Template), Data: r.Data, IdempotencyKey: key,
			CreatedBy: r.Operator, Test: r.Test}
		res.NoticeID, res.Created, err = EnqueueNotice(ctx, tx, client, n, opts)
		if err != nil || res.Created {
			return err
		}
		return sameReminder(ctx, tx, res.NoticeID, n)
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// unknownDataFields refuses data fields that the reminder's templates do
// not declare: a misspelt field would otherwise be dropped silently.
func unknownDataFields(cfg *campaigns.Config, template string, data map[string]any) error {
	set, err := cfg.TemplateSet()
	if err != nil {
		return err
	}
	declared := map[string]bool{}
	for _, f := range set.KindFields(template) {
		declared[f.Name] = true
	}
	for name := range data {
		if !declared[name] {
			return &campaigns.Error{Code: campaigns.CodeInvalid, Field: "data." + name,
				Msg: fmt.Sprintf("template %s declares no field %q", template, name)}
		}
	}
	return nil
}

// sameReminder refuses an idempotency key replayed with another reminder
// (another beneficiary, template or data), as events and requests do.
func sameReminder(ctx context.Context, tx pgx.Tx, id int64, n notices.New) error {
	var recipientID int64
	var kind string
	var test bool
	var same bool
	data, err := json.Marshal(n.Data)
	if err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, `SELECT recipient_id, kind, test, data = $2::jsonb FROM notices WHERE id = $1`, id, data).
		Scan(&recipientID, &kind, &test, &same); err != nil {
		return fmt.Errorf("load notice %d: %w", id, err)
	}
	if recipientID != n.RecipientID || kind != string(n.Kind) || test != n.Test || !same {
		return &campaigns.Error{Code: campaigns.CodeConflict, Field: "idempotency_key",
			Msg: "this idempotency key was already used for another reminder"}
	}
	return nil
}
