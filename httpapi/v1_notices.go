package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
)

type noticeView struct {
	Notice     *notices.Notice   `json:"notice"`
	Deliveries []ledger.Delivery `json:"deliveries"`
	Events     []ledger.Event    `json:"events"`
	// TraceID is the OpenTelemetry trace that created the notice, if any.
	TraceID string `json:"trace_id,omitempty"`
}

func (a *API) getNotice(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		a.fail(w, r, notFound("id", "no notice has this id"))
		return
	}
	n, err := notices.Get(ctx, a.DB, id)
	if err == nil && n.Test != keyIsTest(ctx) {
		err = notices.ErrNotFound // the other world's notice does not exist for this key
	}
	if err != nil {
		if errors.Is(err, notices.ErrNotFound) {
			err = notFound("id", "no notice has this id")
		}
		a.fail(w, r, err)
		return
	}
	v := noticeView{Notice: n, Deliveries: []ledger.Delivery{}, Events: []ledger.Event{}}
	dls, err := ledger.DeliveriesForNotice(ctx, a.DB, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	evs, err := ledger.EventsForNotice(ctx, a.DB, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if v.TraceID, err = notices.TraceID(ctx, a.DB, id); err != nil {
		a.fail(w, r, err)
		return
	}
	v.Deliveries = append(v.Deliveries, dls...)
	v.Events = append(v.Events, evs...)
	writeJSON(w, http.StatusOK, v)
}
