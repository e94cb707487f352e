package compliance

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Handler serves GET /v1/compliance/{rule}?from=YYYY-MM-DD&to=YYYY-MM-DD
// [&as_of=…][&caf=751,974][&by_caf=true][&accept=level,…][&format=json|csv].
// Mount it behind the audit scope; it answers 400 for a bad rule, period,
// Caf, evidence level or format and lists beneficiaries by number only.
// accept defaults to the levels configured for the server (nil: the proven
// levels).
func Handler(db DB, accept []string) http.Handler {
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
			p.AsOf, err = ParseAsOf(q.Get("as_of"))
		}
		if err == nil {
			p.Cafs, err = ParseCafs(q.Get("caf"))
		}
		p.Accept = accept
		if err == nil && q.Get("accept") != "" {
			p.Accept, err = ParseAccept(q.Get("accept"))
		}
		if err != nil {
			httpError(w, http.StatusBadRequest, "period", err.Error())
			return
		}
		run := Run
		if q.Get("by_caf") == "true" || q.Get("by_caf") == "1" {
			if len(p.Cafs) > 0 {
				httpError(w, http.StatusBadRequest, "by_caf", "by_caf and caf cannot be combined")
				return
			}
			run = RunByCaf
		}
		rep, err := run(r.Context(), db, r.PathValue("rule"), p)
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

// ParseAsOf reads an as-of instant: YYYY-MM-DD (start of that Paris day)
// or RFC 3339; "" is the zero time (now).
func ParseAsOf(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, Paris)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: as-of %q: want YYYY-MM-DD or RFC 3339", ErrInvalid, s)
	}
	return t, nil
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
