package httpapi

import (
	"net/http"
	"time"
)

// LimitBodies lets at most n requests read a body at once (POST, PUT,
// PATCH); the others wait up to wait, then get 503 with Retry-After. With
// the server's ReadTimeout this bounds what slow unauthenticated bodies (a
// webhook, an unsubscribe form) can hold: they cannot take every worker of
// the process.
func LimitBodies(n int, wait time.Duration, h http.Handler) http.Handler {
	sem := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
			h.ServeHTTP(w, r)
			return
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case sem <- struct{}{}:
		case <-t.C:
			w.Header().Set("Retry-After", "5")
			writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: "busy", Message: "too many requests are sending a body: retry shortly"})
			return
		case <-r.Context().Done():
			return
		}
		defer func() { <-sem }()
		h.ServeHTTP(w, r)
	})
}

// ExtendDeadlines lifts the server's read and write timeouts for h (set
// them to read and write from now, zero for none): a long CSV import, or a
// River UI page that keeps its connection. Mount it behind authentication
// so that only a known caller gets the longer deadlines.
func ExtendDeadlines(read, write time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		at := func(d time.Duration) time.Time {
			if d <= 0 {
				return time.Time{}
			}
			return time.Now().Add(d)
		}
		_ = rc.SetReadDeadline(at(read))
		_ = rc.SetWriteDeadline(at(write))
		h.ServeHTTP(w, r)
	})
}
