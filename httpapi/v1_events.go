package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/templates"
)

// recipientID finds the beneficiary a body names by number.
func recipientID(ctx context.Context, tx pgx.Tx, ref string) (int64, error) {
	if ref == "" {
		return 0, invalid("recipient_ref", "is required")
	}
	var id int64
	// A test key reaches test beneficiaries only, a live key live ones.
	err := tx.QueryRow(ctx, `SELECT id FROM recipients WHERE ref = $1 AND test = $2`, ref, keyIsTest(ctx)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, notFound("recipient_ref", "no beneficiary has this number: create it with PUT /v1/recipients/{ref} first")
	}
	return id, err
}

// parseDay reads a "YYYY-MM-DD" date.
func parseDay(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, invalid(field, "is required (YYYY-MM-DD)")
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, invalid(field, "must be a date YYYY-MM-DD")
	}
	return t, dayInRange(field, t.Year())
}

// cents reads an amount of euros with at most two decimals.
func cents(field string, euros *float64) (*int64, error) {
	if euros == nil {
		return nil, nil
	}
	v, err := templates.CentsFromEuros(*euros)
	if err != nil || v > 1e13 {
		return nil, invalid(field, "must be an amount of euros with at most two decimals")
	}
	if v < 0 {
		return nil, invalid(field, "must not be negative")
	}
	return &v, nil
}

type rightsEventBody struct {
	EventID        string   `json:"event_id"`
	RecipientRef   string   `json:"recipient_ref"`
	Event          string   `json:"event"`
	Benefit        string   `json:"benefit"`
	BenefitName    string   `json:"benefit_name"`
	Amount         *float64 `json:"amount"`
	PreviousAmount *float64 `json:"previous_amount"`
	EffectiveOn    string   `json:"effective_on"`
	Reason         string   `json:"reason"`
}

type rightsEventResponse struct {
	ID       int64  `json:"id"`
	EventID  string `json:"event_id"`
	NoticeID int64  `json:"notice_id"`
	Created  bool   `json:"created"`
	Test     bool   `json:"test"`
}

func (a *API) postRightsEvent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var b rightsEventBody
	if err := decodeJSON(w, r, &b, a.maxBody()); err != nil {
		a.fail(w, r, err)
		return
	}
	key, _ := KeyFromContext(ctx)
	ev := jobs.RightsEvent{ExternalID: b.EventID, Event: b.Event, Benefit: b.Benefit, BenefitName: b.BenefitName,
		Reason: b.Reason, Test: key.Test, CreatedBy: Actor(ctx)}
	var err error
	if b.EventID == "" {
		err = invalid("event_id", "is required")
	}
	if err == nil {
		ev.EffectiveOn, err = parseDay("effective_on", b.EffectiveOn)
	}
	if err == nil {
		ev.AmountCents, err = cents("amount", b.Amount)
	}
	if err == nil {
		ev.PreviousAmountCents, err = cents("previous_amount", b.PreviousAmount)
	}
	var res *jobs.RightsResult
	if err == nil {
		err = a.inTx(ctx, func(tx pgx.Tx) error {
			var err error
			if ev.RecipientID, err = recipientID(ctx, tx, b.RecipientRef); err != nil {
				return err
			}
			res, err = jobs.RecordRightsEvent(ctx, tx, a.River, ev)
			return err
		})
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, createdStatus(res.Created), rightsEventResponse{ID: res.EventID, EventID: b.EventID, NoticeID: res.NoticeID, Created: res.Created, Test: key.Test})
}

type lifeEventBody struct {
	EventID      string `json:"event_id"`
	RecipientRef string `json:"recipient_ref"`
	Kind         string `json:"kind"`
	OccurredOn   string `json:"occurred_on"`
}

type lifeEventResponse struct {
	ID      int64  `json:"id"`
	EventID string `json:"event_id"`
	Created bool   `json:"created"`
}

func (a *API) postLifeEvent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var b lifeEventBody
	if err := decodeJSON(w, r, &b, a.maxBody()); err != nil {
		a.fail(w, r, err)
		return
	}
	ev := jobs.LifeEvent{ExternalID: b.EventID, Kind: b.Kind, CreatedBy: Actor(ctx), Test: keyIsTest(ctx)}
	var err error
	if b.EventID == "" {
		err = invalid("event_id", "is required")
	}
	if err == nil {
		ev.OccurredOn, err = parseDay("occurred_on", b.OccurredOn)
	}
	if err == nil && ev.OccurredOn.After(a.now().AddDate(0, 0, 1)) {
		err = invalid("occurred_on", "is in the future")
	}
	var id int64
	var created bool
	if err == nil {
		err = a.inTx(ctx, func(tx pgx.Tx) error {
			var err error
			if ev.RecipientID, err = recipientID(ctx, tx, b.RecipientRef); err != nil {
				return err
			}
			id, created, err = jobs.RecordLifeEvent(ctx, tx, ev)
			return err
		})
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, createdStatus(created), lifeEventResponse{ID: id, EventID: b.EventID, Created: created})
}
