// Package httpapi serves courrier over HTTP: the /v1 intake and staff API,
// provider webhooks (Twilio status callbacks and inbound SMS), one-click
// unsubscribe, health and readiness checks, and the River UI.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Server routes HTTP requests to courrier's handlers.
type Server struct {
	mux    *http.ServeMux
	routes []string
	db     *pgxpool.Pool
	logger *slog.Logger
	ready  []ReadyCheck
}

// NewServer returns a server with the health endpoints mounted.
func NewServer(db *pgxpool.Pool, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{mux: http.NewServeMux(), db: db, logger: logger}
	s.HandleFunc("GET /healthz", s.healthz)
	s.HandleFunc("GET /readyz", s.readyz)
	return s
}

// Handle mounts h on pattern (net/http ServeMux patterns, e.g. "POST /v1/x").
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.routes = append(s.routes, pattern)
}

// HandleFunc mounts f on pattern.
func (s *Server) HandleFunc(pattern string, f http.HandlerFunc) { s.Handle(pattern, f) }

// Routes lists the patterns mounted, in mount order.
func (s *Server) Routes() []string { return slices.Clone(s.routes) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	if e := checkPath(r); e != nil {
		writeError(sw, e)
	} else {
		s.mux.ServeHTTP(sw, r)
	}
	// Paths may carry beneficiary numbers: log the route pattern, not the path.
	s.logger.Debug("http request", "method", r.Method, "route", r.Pattern, "status", sw.status, "duration", time.Since(start))
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// healthz answers 503 while the database does not answer: the process
// cannot do any work then, and a supervisor or load balancer must know.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
