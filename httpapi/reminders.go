package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/jobs"
)

// reminderRequest is the body of POST /v1/reminders.
type reminderRequest struct {
	Template       string          `json:"template"`
	RecipientRef   string          `json:"recipient_ref"`
	Audience       json.RawMessage `json:"audience"`
	Data           map[string]any  `json:"data"`
	Reason         string          `json:"reason"`
	IdempotencyKey string          `json:"idempotency_key"`
	SendAt         string          `json:"send_at"` // RFC 3339; absent: at once
}

// RemindersHandler serves POST /v1/reminders: a staff reminder from a
// reminder_* template with its fields, to one beneficiary (recipient_ref:
// a notice is enqueued at once; 201, or 200 for a replay) or to an audience
// (a declarative filter: a reminder campaign is created and started, 201;
// above the approval threshold it waits for a second operator's approval,
// 202). send_at (RFC 3339) schedules it for later. The operator is the
// request's key (Actor). Mount it behind
// RequireScope("staff", …). cfg may be nil (defaults).
func RemindersHandler(db *pgxpool.Pool, client *river.Client[pgx.Tx], cfg *campaigns.Config, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return requireJSON(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req reminderRequest
		if err := decodeJSON(w, r, &req, 1<<20); err != nil {
			writeError(w, toError(err))
			return
		}
		actor := Actor(r.Context())
		if actor == "" {
			writeError(w, unauthorized("an API key is required: send Authorization: Bearer <key>"))
			return
		}
		var sendAt *time.Time
		if req.SendAt != "" {
			t, err := time.Parse(time.RFC3339, req.SendAt)
			if err != nil {
				writeError(w, invalid("send_at", "must be a time in RFC 3339, e.g. 2027-03-16T09:00:00+01:00"))
				return
			}
			sendAt = &t
		}
		rem := jobs.Reminder{Template: req.Template, RecipientRef: req.RecipientRef, Data: req.Data, Reason: req.Reason,
			IdempotencyKey: req.IdempotencyKey, Operator: actor, SendAt: sendAt}
		if k, ok := KeyFromContext(r.Context()); ok {
			rem.Test = k.Test
		}
		if len(req.Audience) > 0 && string(req.Audience) != "null" {
			aud, err := campaigns.ParseAudience(req.Audience)
			if err != nil {
				writeError(w, campaignError(err))
				return
			}
			rem.Audience = aud
		}
		res, err := jobs.SendReminder(r.Context(), db, client, rem, cfg)
		if err != nil {
			e := campaignError(err)
			if e.Status == http.StatusInternalServerError {
				logger.Error("staff reminder failed", "error", err)
			}
			writeError(w, e)
			return
		}
		status := http.StatusCreated
		switch {
		case res.NoticeID != 0 && !res.Created:
			status = http.StatusOK
		case res.NeedsApproval:
			status = http.StatusAccepted
		}
		body := map[string]any{"created": res.Created}
		if res.NoticeID != 0 {
			body["notice_id"] = res.NoticeID
		}
		if sendAt != nil {
			body["send_at"] = sendAt.UTC()
		}
		if c := res.Campaign; c != nil {
			body["campaign"] = map[string]any{
				"id": c.ID, "state": c.State, "template": c.TemplateKey, "created_by": c.CreatedBy,
				"audience_estimate": c.AudienceEstimate, "needs_approval": c.NeedsApproval,
			}
			body["needs_approval"] = res.NeedsApproval
			if res.NeedsApproval {
				body["message"] = "the audience is above the approval threshold: another operator must approve the campaign before it starts"
			}
		}
		writeJSON(w, status, body)
	}))
}

// campaignError maps campaign errors to API errors.
func campaignError(err error) *Error {
	code, field := campaigns.ErrorCode(err)
	msg := err.Error()
	var ce *campaigns.Error
	if errors.As(err, &ce) {
		msg = ce.Msg
	}
	var fe *campaigns.FilterError
	if errors.As(err, &fe) {
		msg = fe.Msg
	}
	switch code {
	case campaigns.CodeInvalid:
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: field, Message: msg}
	case campaigns.CodeNotFound:
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Field: field, Message: msg}
	case campaigns.CodeConflict:
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: field, Message: msg}
	case campaigns.CodeApproval:
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Field: field, Message: msg}
	}
	if e := new(Error); errors.As(err, &e) {
		return e
	}
	// An audience that did not parse (unknown field, bad YAML/JSON shape).
	if len(msg) > 9 && msg[:9] == "audience:" {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: "audience", Message: msg}
	}
	return toError(err)
}
