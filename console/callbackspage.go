package console

import (
	"net/http"
	"strconv"

	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/staff"
)

type callbacksView struct {
	Items []jobs.CallbackEvent
	Next  int64
}

// callbacksPage lists the status callbacks to upstream systems whose last
// attempt failed (being retried, or given up), latest first.
func (c *Console) callbacksPage(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	list, err := jobs.ListFailedCallbacks(r.Context(), c.DB, jobs.CallbackFilter{Before: before, Limit: 100})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := callbacksView{Items: list}
	if len(list) == 100 {
		v.Next = list[len(list)-1].ID
	}
	c.render(w, r, s, http.StatusOK, "callbacks", "Notifications aux systèmes amont en échec", v)
}
