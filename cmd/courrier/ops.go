package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/httpapi"
	"github.com/courrier-dev/courrier/internal/telemetry"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/migrations"
)

// Operations wiring: metrics, traces and readiness. serve, demo and bench
// reach it through one call each; the rest of the code only sees a
// channels.Channel, a River middleware and an http.Handler.

// instrument wraps every channel of the runtime so that provider calls are
// counted, timed and traced.
func (r *runtime) instrument(chans map[channels.Name]channels.Channel) {
	r.metrics = telemetry.New()
	for name, ch := range chans {
		chans[name] = r.metrics.Instrument(ch, name, providerOf(ch))
	}
}

// providerOf names the provider behind ch as the ledger does.
func providerOf(ch channels.Channel) string {
	for {
		switch c := ch.(type) {
		case interface{ Provider() string }:
			return c.Provider()
		case *channels.Outbox:
			return "outbox"
		case *channels.SMTP:
			return "smtp"
		case *channels.Twilio:
			return "twilio"
		case interface{ Unwrap() channels.Channel }:
			ch = c.Unwrap()
			continue
		}
		return fmt.Sprintf("%T", ch)
	}
}

// setupTracing starts OpenTelemetry tracing when the OTEL_* variables ask
// for it. The returned function flushes and stops it.
func (e *Env) setupTracing(ctx context.Context) (func(), error) {
	shutdown, err := telemetry.SetupTracing(ctx, e.Getenv, buildVersion().Version)
	if err != nil {
		return nil, fmt.Errorf("tracing (OTEL_EXPORTER_OTLP_*): %w", err)
	}
	return func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(c); err != nil {
			e.logger().Warn("flush traces", "error", err)
		}
	}, nil
}

// tracePgx adds the pgx query tracer when tracing is on. Statements are
// traced without their arguments.
func (e *Env) tracePgx(cfg *pgx.ConnConfig) {
	if telemetry.TracingEnabled(e.Getenv) {
		cfg.Tracer = otelpgx.NewTracer(otelpgx.WithDisableConnectionDetailsInAttributes())
	}
}

// riverMiddleware counts job outcomes and traces job inserts and work,
// carrying the inserting request's trace into the job.
func (r *runtime) riverMiddleware() []rivertype.Middleware {
	return []rivertype.Middleware{&telemetry.ContinueTrace{}, r.metrics.JobOutcomes(),
		otelriver.NewMiddleware(&otelriver.MiddlewareConfig{EnableTracePropagation: true, EnableWorkSpanJobKindSuffix: true})}
}

// traced wraps the API in OpenTelemetry HTTP server spans (not the health
// and metrics endpoints). Span names and URL attributes carry no ids.
func traced(h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " " + telemetry.ScrubPath(r.URL.Path)
		}),
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}))
}

// mountOps mounts /metrics on the API behind an admin key, and the
// readiness checks: migrations applied (critical) and providers' circuits.
func (e *Env) mountOps(api *httpapi.Server, auth func(http.Handler) http.Handler, pool *pgxpool.Pool, rt *runtime) {
	m := rt.metrics
	m.RegisterWatchdog(func() telemetry.WatchdogCounts {
		var w telemetry.WatchdogCounts
		w.Escalations, w.Breaches, w.AcksAtRisk, w.AnswersAtRisk = jobs.WatchdogCounts()
		return w
	})
	m.RegisterText(writeBounceMetrics) // the bounce intakes keep their own counters
	m.RegisterStuck(stuckWork)
	api.Handle("GET /metrics", basicAsBearer(auth(httpapi.RequireScope("admin", m.Handler()))))
	api.AddReadyCheck(httpapi.ReadyCheck{Name: "migrations", Critical: true, Check: func(ctx context.Context) (any, error) {
		return migrationsApplied(ctx, pool)
	}})
	api.AddReadyCheck(httpapi.ReadyCheck{Name: "providers", Check: func(context.Context) (any, error) {
		states := m.Providers()
		var down []string
		for _, s := range states {
			if !s.Up {
				down = append(down, s.Channel+"/"+s.Provider)
			}
		}
		if len(down) > 0 {
			return states, fmt.Errorf("circuit open (consecutive transient failures): %s", strings.Join(down, ", "))
		}
		return states, nil
	}})
}

// migrationsApplied fails while any of this binary's migrations is pending
// (an upgrade in progress: run `courrier migrate`).
func migrationsApplied(ctx context.Context, pool *pgxpool.Pool) (any, error) {
	list, river, err := migrations.Status(ctx, pool)
	if err != nil {
		return nil, err
	}
	var pending []string
	for _, m := range list {
		if m.AppliedAt == nil {
			pending = append(pending, fmt.Sprintf("%04d_%s", m.Version, m.Name))
		}
	}
	detail := map[string]any{"courrier": len(list) - len(pending), "river": river}
	if len(pending) > 0 {
		return detail, fmt.Errorf("pending migrations: %s", strings.Join(pending, ", "))
	}
	return detail, nil
}

// startOps starts the metrics sampler and, when COURRIER_METRICS_ADDR is
// set, a metrics listener of its own (no authentication: bind it to a
// private interface). The returned function stops both.
func (e *Env) startOps(ctx context.Context, pool *pgxpool.Pool, rt *runtime, logger *slog.Logger) (func(), error) {
	interval, err := e.duration("COURRIER_METRICS_INTERVAL", 15*time.Second)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rt.metrics.Run(ctx, pool, telemetry.SamplerConfig{Interval: interval, Logger: logger})
	}()
	var srv *http.Server
	if addr := e.Getenv("COURRIER_METRICS_ADDR"); addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			cancel()
			<-done
			return nil, fmt.Errorf("COURRIER_METRICS_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", rt.metrics.Handler())
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics listener stopped", "error", err)
			}
		}()
		logger.Info("metrics served", "addr", l.Addr().String())
	}
	return func() {
		if srv != nil {
			c, stop := context.WithTimeout(context.Background(), 5*time.Second)
			_ = srv.Shutdown(c)
			stop()
		}
		cancel()
		<-done
	}, nil
}
