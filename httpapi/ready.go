package httpapi

import (
	"context"
	"net/http"
	"time"
)

// ReadyCheck is one part of /readyz beyond the database ping. A failing
// critical check makes /readyz answer 503 (take the process out of
// rotation); a failing non-critical one only says "degraded".
type ReadyCheck struct {
	Name     string
	Critical bool
	// Check returns what to show (no secret, no personal data) and an error
	// when the part is not ready.
	Check func(ctx context.Context) (detail any, err error)
}

// AddReadyCheck adds c to /readyz.
func (s *Server) AddReadyCheck(c ReadyCheck) { s.ready = append(s.ready, c) }

type readyPart struct {
	OK     bool   `json:"ok"`
	Detail any    `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "database unavailable",
			"checks": map[string]readyPart{"database": {Error: "ping failed"}}})
		return
	}
	status, code := "ready", http.StatusOK
	parts := map[string]readyPart{"database": {OK: true}}
	for _, c := range s.ready {
		detail, err := c.Check(ctx)
		p := readyPart{OK: err == nil, Detail: detail}
		if err != nil {
			p.Error = err.Error()
			if c.Critical {
				status, code = "not ready", http.StatusServiceUnavailable
			} else if code == http.StatusOK {
				status = "degraded"
			}
		}
		parts[c.Name] = p
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": parts})
}
