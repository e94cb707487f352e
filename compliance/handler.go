package compliance

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Handler serves GET /v1/compliance/{rule}?from=YYYY-MM-DD&to=YYYY-MM-DD
// [&as_of=…][&format=json|csv]. Mount it behind the audit scope; it answers
// 400 for a bad rule, period or format and lists beneficiaries by number
// only.
func Handler(db DB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/compliance/{rule}", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		format := q.Get("format")
		if format == "" {
			format = FormatJSON
		}
		if format != FormatJSON && format != FormatCSV {
			httpError(w, http.StatusBadRequest, "format", "must be json or csv")
			return
		}
		p, err := ParsePeriod(q.Get("from"), q.Get("to"))
		if err == nil {
			p.AsOf, err = parseAsOf(q.Get("as_of"))
		}
		if err != nil {
			httpError(w, http.StatusBadRequest, "period", err.Error())
			return
		}
		rep, err := Run(r.Context(), db, r.PathValue("rule"), p)
		switch {
		case errors.Is(err, ErrInvalid):
			httpError(w, http.StatusBadRequest, "rule", err.Error())
			return
		case err != nil:
			httpError(w, http.StatusInternalServerError, "", "report failed")
			return
		}
		if format == FormatCSV {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="`+rep.Rule+`.csv"`)
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		_ = Write(w, rep, format)
	})
	return mux
}

// httpError writes the API's documented error shape,
// {"error": {"code", "message", "field"}}.
func httpError(w http.ResponseWriter, status int, field, msg string) {
	code := "invalid"
	if status >= 500 {
		code = "internal"
	}
	e := map[string]string{"code": code, "message": msg}
	if field != "" {
		e["field"] = field
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}
