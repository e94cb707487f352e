package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/requests"
)

type requestBody struct {
	RequestID     string `json:"request_id"`
	RecipientRef  string `json:"recipient_ref"`
	Kind          string `json:"kind"`
	MinimumIncome bool   `json:"minimum_income"`
	ReceivedAt    string `json:"received_at"`
	Channel       string `json:"channel"`
	RequestType   string `json:"request_type"`
}

// requestView is a request as the API shows it.
type requestView struct {
	*requests.Request
	RecipientRef string            `json:"recipient_ref"`
	Breaches     []requests.Breach `json:"breaches"`
	Created      *bool             `json:"created,omitempty"`
}

func (a *API) postRequest(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var b requestBody
	if err := decodeJSON(w, r, &b, a.maxBody()); err != nil {
		a.fail(w, r, err)
		return
	}
	key, _ := KeyFromContext(ctx)
	in := requests.New{ExternalID: b.RequestID, Kind: b.Kind, MinimumIncome: b.MinimumIncome, Channel: b.Channel, CreatedBy: Actor(ctx)}
	var err error
	switch {
	case b.RequestID == "":
		err = invalid("request_id", "is required")
	case b.ReceivedAt == "":
		err = invalid("received_at", "is required (RFC 3339, e.g. 2027-03-12T18:00:00+01:00)")
	default:
		if in.ReceivedAt, err = time.Parse(time.RFC3339, b.ReceivedAt); err != nil {
			err = invalid("received_at", "must be an RFC 3339 time with its offset, e.g. 2027-03-12T18:00:00+01:00")
		} else {
			err = dayInRange("received_at", in.ReceivedAt.Year())
		}
	}
	if err == nil && len(b.RequestType) > 200 {
		err = invalid("request_type", "is longer than 200 characters")
	}
	var res *jobs.RequestResult
	if err == nil {
		err = a.inTx(ctx, func(tx pgx.Tx) error {
			var err error
			if in.RecipientID, err = recipientID(ctx, tx, b.RecipientRef); err != nil {
				return err
			}
			res, err = jobs.ReceiveRequest(ctx, tx, a.River, in, b.RequestType, a.Deadlines, key.Test, a.now())
			return err
		})
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, createdStatus(res.Created), requestView{Request: res.Request, RecipientRef: b.RecipientRef, Breaches: []requests.Breach{}, Created: &res.Created})
}

type answerBody struct {
	Answer      string `json:"answer"`
	RequestType string `json:"request_type"`
}

func (a *API) answerRequest(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var b answerBody
	if err := decodeJSON(w, r, &b, a.maxBody()); err != nil {
		a.fail(w, r, err)
		return
	}
	key, _ := KeyFromContext(ctx)
	var res *jobs.RequestResult
	err := a.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		res, err = jobs.AnswerRequest(ctx, tx, a.River, r.PathValue("id"), jobs.Answer{
			Text: b.Answer, RequestType: b.RequestType, Test: key.Test, CreatedBy: Actor(ctx)}, a.now())
		return err
	})
	if err != nil {
		if errors.Is(err, requests.ErrNotFound) {
			err = notFound("id", "no request has this id")
		}
		a.fail(w, r, err)
		return
	}
	v, err := a.requestView(r, res.Request)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v.Created = &res.Created
	writeJSON(w, createdStatus(res.Created), v)
}

func (a *API) getRequest(w http.ResponseWriter, r *http.Request) {
	// Each key reads its own world's request (live and test ids are apart).
	req, err := requests.GetByExternalID(r.Context(), a.DB, r.PathValue("id"), keyIsTest(r.Context()))
	if err != nil {
		if errors.Is(err, requests.ErrNotFound) {
			err = notFound("id", "no request has this id")
		}
		a.fail(w, r, err)
		return
	}
	v, err := a.requestView(r, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) requestView(r *http.Request, req *requests.Request) (*requestView, error) {
	v := &requestView{Request: req}
	if err := a.DB.QueryRow(r.Context(), `SELECT ref FROM recipients WHERE id = $1`, req.RecipientID).Scan(&v.RecipientRef); err != nil {
		return nil, err
	}
	var err error
	v.Breaches, err = requests.Breaches(r.Context(), a.DB, req.ID)
	return v, err
}
