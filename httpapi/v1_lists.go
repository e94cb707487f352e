package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/requests"
	"github.com/courrier-dev/courrier/territories"
)

// The list and search endpoints behind the staff console. Each answers a
// page {"items": [...], "next_cursor": "..."}; next_cursor is absent on the
// last page and is passed back as ?cursor=.

// scopeList reads personal data: staff and auditors only.
const scopeList = ScopeStaff + "|" + ScopeAudit

// registerLists mounts the list and search routes (called from Register).
func (a *API) registerLists(route func(pattern, scope string, h http.HandlerFunc)) {
	route("GET /v1/recipients", scopeList, a.searchRecipients)
	route("GET /v1/notices", scopeList, a.listNotices)
	route("GET /v1/campaigns", scopeList, a.listCampaigns)
	route("GET /v1/campaigns/{id}", scopeList, a.getCampaign)
	route("GET /v1/requests", scopeList, a.listRequests)
}

type pageOf[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func nextCursor(id int64) string {
	if id == 0 {
		return ""
	}
	return cursorFor(id)
}

func (a *API) searchRecipients(w http.ResponseWriter, r *http.Request) {
	after, limit, err := page(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query().Get("q")
	if q == "" {
		a.fail(w, r, invalid("q", "is required: a beneficiary number, name, email, phone or postal code"))
		return
	}
	res, err := recipients.Search(r.Context(), a.DB, q, &recipients.SearchOpts{After: after, Limit: limit})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := pageOf[*recipients.Recipient]{Items: res.Recipients, NextCursor: nextCursor(res.Next)}
	if out.Items == nil {
		out.Items = []*recipients.Recipient{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) listNotices(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	before, limit, err := page(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := notices.Filter{Kind: notices.Kind(q.Get("kind")), State: q.Get("state"), Before: before, Limit: limit}
	if f.Kind != "" && !f.Kind.Valid() {
		a.fail(w, r, invalid("kind", "unknown notice kind %q", f.Kind))
		return
	}
	if f.State != "" && !slices.Contains(notices.States, f.State) {
		a.fail(w, r, invalid("state", "must be one of %v", notices.States))
		return
	}
	if v := q.Get("campaign"); v != "" {
		if f.CampaignID, err = strconv.ParseInt(v, 10, 64); err != nil || f.CampaignID <= 0 {
			a.fail(w, r, invalid("campaign", "must be a campaign id"))
			return
		}
	}
	if v := q.Get("since"); v != "" {
		if f.Since, err = parseTimeParam(v); err != nil {
			a.fail(w, r, invalid("since", "must be a date (2027-03-01) or an RFC 3339 time"))
			return
		}
	}
	if ref := q.Get("recipient"); ref != "" {
		rec, err := recipients.GetByRef(ctx, a.DB, ref)
		if errors.Is(err, recipients.ErrNotFound) {
			a.fail(w, r, notFound("recipient", "no beneficiary has this number"))
			return
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		f.RecipientID = rec.ID
	}
	list, next, err := notices.List(ctx, a.DB, f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := pageOf[*notices.Listed]{Items: list, NextCursor: nextCursor(next)}
	if out.Items == nil {
		out.Items = []*notices.Listed{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) listCampaigns(w http.ResponseWriter, r *http.Request) {
	before, limit, err := page(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	state := r.URL.Query().Get("state")
	switch state {
	case "", campaigns.StateDraft, campaigns.StateApproved, campaigns.StateScheduled, campaigns.StateRunning,
		campaigns.StatePaused, campaigns.StateCompleted, campaigns.StateCancelled:
	default:
		a.fail(w, r, invalid("state", "unknown campaign state %q", state))
		return
	}
	list, next, err := campaigns.ListProgress(r.Context(), a.DB, a.now(), &campaigns.ListOpts{State: state, Before: before, Limit: limit})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := pageOf[*campaigns.Progress]{Items: list, NextCursor: nextCursor(next)}
	if out.Items == nil {
		out.Items = []*campaigns.Progress{}
	}
	writeJSON(w, http.StatusOK, out)
}

// campaignView is GET /v1/campaigns/{id}: the campaign, its progress, who
// did what to it, and its progress over time.
type campaignView struct {
	*campaigns.Progress
	Events []campaigns.Event `json:"events"`
	Series []campaigns.Point `json:"series"`
}

func (a *API) getCampaign(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		a.fail(w, r, notFound("id", "no such campaign"))
		return
	}
	p, err := campaigns.GetProgress(ctx, a.DB, id, a.now())
	if code, _ := campaigns.ErrorCode(err); code == campaigns.CodeNotFound {
		a.fail(w, r, notFound("id", "no such campaign"))
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v := campaignView{Progress: p}
	if v.Events, err = campaigns.Events(ctx, a.DB, id); err == nil {
		v.Series, err = campaigns.Series(ctx, a.DB, id, 24)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if v.Events == nil {
		v.Events = []campaigns.Event{}
	}
	if v.Series == nil {
		v.Series = []campaigns.Point{}
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) listRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := requests.ListFilter{State: q.Get("state"), Kind: q.Get("kind"), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			a.fail(w, r, invalid("limit", "must be a whole number from 1 to 200"))
			return
		}
		f.Limit = n
	}
	if v := q.Get("due_before"); v != "" {
		t, err := parseTimeParam(v)
		if err != nil {
			a.fail(w, r, invalid("due_before", "must be a date (2027-03-01) or an RFC 3339 time"))
			return
		}
		f.DueBefore = t
	}
	list, next, err := requests.List(r.Context(), a.DB, a.now(), f)
	if errors.Is(err, requests.ErrBadCursor) {
		err = invalid("cursor", "is not a cursor returned by this API")
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := pageOf[*requests.Listed]{Items: list, NextCursor: next}
	if out.Items == nil {
		out.Items = []*requests.Listed{}
	}
	writeJSON(w, http.StatusOK, out)
}

// parseTimeParam reads an RFC 3339 time or a date, midnight Paris time.
func parseTimeParam(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.ParseInLocation(time.DateOnly, v, territories.Paris())
}
