package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/httpapi"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/requests"
)

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := env.newFlagSet("serve", "Runs the HTTP API, the delivery workers and the periodic jobs (campaign calendar,\n"+
		"yearly sweep, life-event outreach, acknowledgement watchdog, ledger sealing, retention)\n"+
		"until SIGINT/SIGTERM. On shutdown it stops fetching new jobs and lets running ones finish.\n"+
		"Any number of serve processes may share one PostgreSQL.")
	addr := fs.String("addr", env.get("COURRIER_HTTP_ADDR", "127.0.0.1:8080"), "HTTP listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := env.logger()
	stopTracing, err := env.setupTracing(ctx)
	if err != nil {
		return err
	}
	defer stopTracing()
	pool, closeDB, err := env.openDB(ctx, true)
	if err != nil {
		return err
	}
	defer closeDB()
	rt, err := env.newRuntime(ctx, pool, logger, runtimeOpts{})
	if err != nil {
		return err
	}
	defer rt.Close()
	app, err := env.newApp(ctx, pool, rt)
	if err != nil {
		return err
	}
	if err := app.client.Start(ctx); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	if err := app.bounces.start(ctx); err != nil {
		_ = app.client.Stop(context.Background())
		return err
	}
	stopOps, err := env.startOps(ctx, pool, rt, logger)
	if err != nil {
		_ = app.client.Stop(context.Background())
		return err
	}
	defer stopOps()
	for ch, where := range rt.describe {
		logger.Info("channel configured", "channel", ch, "destination", where)
	}
	srv, ln, err := env.listenHTTP(*addr, traced(app.http))
	if err != nil {
		_ = app.client.Stop(context.Background())
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("courrier serving", "addr", *addr, "version", buildVersion().String())

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			_ = app.client.Stop(context.Background())
			return fmt.Errorf("http server: %w", err)
		}
	case <-ctx.Done():
	case <-env.embeddedDone():
		return env.embeddedDied(srv, app.client)
	}
	logger.Info("shutting down: finishing running jobs")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	app.bounces.stop(shutdownCtx)
	if err := app.client.Stop(shutdownCtx); err != nil {
		logger.Warn("workers did not stop cleanly", "error", err)
	}
	logger.Info("stopped")
	return nil
}

// app is a configured courrier: the River client with every worker and
// periodic job, and the HTTP handler with every route.
type app struct {
	client  *river.Client[pgx.Tx]
	http    *httpapi.Server
	bounces *bounceIntakes
}

func (e *Env) newApp(ctx context.Context, pool *pgxpool.Pool, rt *runtime) (*app, error) {
	logger := e.logger()
	workers, err := e.int("COURRIER_WORKERS", 100)
	if err != nil {
		return nil, err
	}
	cooldown, err := e.duration("COURRIER_FETCH_COOLDOWN", 20*time.Millisecond)
	if err != nil {
		return nil, err
	}
	stuckAfter, err := e.duration("COURRIER_STUCK_AFTER", ledger.DefaultStuckAfter)
	if err != nil {
		return nil, err
	}
	deadlines, err := requests.SettingsFromEnv(e.Getenv)
	if err != nil {
		return nil, err
	}
	deadlines.Agencies = rt.deps.Agencies
	retention, err := e.duration("COURRIER_RETENTION", 0)
	if err != nil {
		return nil, err
	}
	ledgerKey, tsa, accept, err := e.ledgerConfig()
	if err != nil {
		return nil, err
	}
	threshold, err := e.int("COURRIER_APPROVAL_THRESHOLD", 0)
	if err != nil {
		return nil, err
	}
	fanoutBatch, err := e.int("COURRIER_FANOUT_BATCH", 0)
	if err != nil {
		return nil, err
	}
	jobSize, err := e.int("COURRIER_FANOUT_JOB_SIZE", 0)
	if err != nil {
		return nil, err
	}
	cal, err := campaigns.LoadCalendar(e.Getenv("COURRIER_CALENDAR"), rt.deps.Templates)
	if err != nil {
		return nil, fmt.Errorf("COURRIER_CALENDAR: %w", err)
	}
	campaignCfg := &campaigns.Config{ApprovalThreshold: threshold, Templates: rt.deps.Templates}
	if err := campaigns.SyncCalendar(ctx, pool, cal); err != nil {
		return nil, fmt.Errorf("sync calendar: %w", err)
	}

	periodic := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
			return jobs.StuckArgs{}, nil
		}, &river.PeriodicJobOpts{ID: "mark_stuck_deliveries"}),
	}
	periodic = append(periodic, jobs.IntakePeriodicJobs()...)
	periodic = append(periodic, jobs.CampaignPeriodicJobs(cal)...)
	periodic = append(periodic, jobs.CompliancePeriodicJobs(jobs.ComplianceConfig{Retention: retention})...)
	bounces, err := e.bounceSettings()
	if err != nil {
		return nil, err
	}
	periodic = append(periodic, bounces.periodicJobs()...)
	periodic = append(periodic, jobs.CallbackPeriodicJobs()...)
	periodic = serveLetters(rt.deps, periodic)

	client, err := jobs.NewClient(pool, rt.deps, jobs.ClientConfig{
		MaxWorkers: workers, FetchCooldown: cooldown, Logger: logger, PeriodicJobs: periodic, Middleware: rt.riverMiddleware(),
		Extra: func(w *river.Workers) error {
			if err := river.AddWorkerSafely(w, &jobs.StuckWorker{Pool: pool, After: stuckAfter, Logger: logger}); err != nil {
				return err
			}
			if err := jobs.AddIntakeWorkers(w, pool, deadlines); err != nil {
				return err
			}
			if err := jobs.AddComplianceWorkers(w, pool, ledgerKey, tsa); err != nil {
				return err
			}
			if err := bounces.addWorkers(w, pool, logger); err != nil {
				return err
			}
			if err := addCallbackWorkers(w, pool, logger); err != nil {
				return err
			}
			if err := addLetterWorkers(w, rt.deps); err != nil {
				return err
			}
			return jobs.AddCampaignWorkers(w, pool, &jobs.CampaignDeps{Calendar: cal, Config: campaignCfg, Agencies: rt.deps.Agencies,
				BatchSize: fanoutBatch, JobSize: jobSize, Logger: logger})
		}})
	if err != nil {
		return nil, err
	}

	api := httpapi.NewServer(pool, logger)
	(&httpapi.API{DB: pool, River: client, Logger: logger, Deadlines: deadlines, Agencies: rt.deps.Agencies}).Register(api)
	auth := httpapi.Authenticate(pool)
	api.Handle("GET /v1/compliance/{rule}", auth(httpapi.RequireScope("audit", compliance.Handler(pool, accept))))
	api.Handle("POST /v1/reminders", auth(httpapi.RequireScope("staff", httpapi.RemindersHandler(pool, client, campaignCfg, logger))))
	registerAPIOps(api, pool, client, campaignCfg, logger)
	e.mountOps(api, auth, pool, rt)
	if err := e.mountConsole(api, pool, client, rt.deps.Templates, campaignCfg, logger); err != nil {
		return nil, err
	}
	if token := e.Getenv("TWILIO_AUTH_TOKEN"); token != "" {
		hooks := &httpapi.TwilioWebhooks{DB: pool, AuthToken: token, PublicBaseURL: e.Getenv("COURRIER_PUBLIC_URL"),
			Logger: logger, OnFinalFailure: jobs.FallbackAfterReceipt(client)}
		api.HandleFunc("POST /webhooks/twilio/status", hooks.Status)
		api.HandleFunc("POST /webhooks/twilio/inbound", hooks.Inbound)
	}
	if secret := e.Getenv("COURRIER_UNSUBSCRIBE_SECRET"); secret != "" {
		unsub := &httpapi.Unsubscribe{DB: pool, Secret: []byte(secret)}
		api.Handle("GET /unsubscribe/{token}", unsub)
		api.Handle("POST /unsubscribe/{token}", unsub)
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil), Logger: logger, Prefix: "/riverui", JobListHideArgsByDefault: true,
	})
	if err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	if err := ui.Start(ctx); err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	api.Handle("/riverui/", riverUIGuard(basicAsBearer(auth(httpapi.RequireScope("admin", riverUIDeadlines(ui))))))
	intakes, err := bounces.wire(api, pool, client, logger)
	if err != nil {
		return nil, err
	}
	return &app{client: client, http: api, bounces: intakes}, nil
}

// basicAsBearer lets a browser reach an API-key protected page: the key is
// given as the password of HTTP basic authentication.
func basicAsBearer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pass, ok := r.BasicAuth(); ok && pass != "" {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+pass)
		} else if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			w.Header().Set("WWW-Authenticate", `Basic realm="courrier admin (password: an admin API key)"`)
			http.Error(w, "an admin API key is required (as the password)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
