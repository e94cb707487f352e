package console

import (
	"net/http"

	"github.com/courrier-dev/courrier/requests"
	"github.com/courrier-dev/courrier/staff"
)

type requestsView struct {
	State, Kind string
	Items       []*requests.Listed
	Next        string
}

// requestsPage lists requests and complaints, breached deadlines first,
// then those at risk, then by deadline.
func (c *Console) requestsPage(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	q := r.URL.Query()
	v := requestsView{State: q.Get("state"), Kind: q.Get("kind")}
	if v.State == "" {
		v.State = "open"
	}
	if v.State == "all" {
		v.State = ""
	}
	var err error
	v.Items, v.Next, err = requests.List(r.Context(), c.DB, c.now(), requests.ListFilter{State: v.State, Kind: v.Kind,
		Cursor: q.Get("cursor"), Limit: 100})
	if err != nil {
		c.errorPage(w, r, s, http.StatusBadRequest, "Filtre ou page invalide.")
		return
	}
	if v.State == "" {
		v.State = "all"
	}
	c.render(w, r, s, http.StatusOK, "requests", "Demandes et réclamations", v)
}
