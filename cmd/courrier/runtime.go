package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/internal/telemetry"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/templates"
)

// runtime holds what serve, demo and bench share: templates, channels and
// the delivery dependencies.
type runtime struct {
	deps    *jobs.Deps
	outbox  *channels.Outbox
	closers []func() error
	// describe says, per channel, where messages go (for logs and summaries).
	describe map[channels.Name]string
	metrics  *telemetry.Metrics
}

func (r *runtime) Close() {
	for _, c := range r.closers {
		_ = c()
	}
}

type runtimeOpts struct {
	// forceOutbox sends every channel to the outbox whatever the environment says.
	forceOutbox bool
	// noQuietHours lifts SMS quiet hours (demo and bench only).
	noQuietHours bool
}

func (e *Env) newRuntime(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, opts runtimeOpts) (*runtime, error) {
	tpl, err := templates.Load(&templates.Options{OverrideDir: e.Getenv("COURRIER_TEMPLATES")})
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	// Store every version now, so that recording the version of a delivery
	// costs nothing on the hot path.
	if err := tpl.SaveAll(ctx, pool); err != nil {
		return nil, fmt.Errorf("templates: store versions: %w", err)
	}
	routes, err := channels.ParseRoutes(e.Getenv("COURRIER_ROUTES"))
	if err != nil {
		return nil, fmt.Errorf("COURRIER_ROUTES: %w", err)
	}
	outbox, err := channels.NewOutbox(e.outboxDir(), e.get("SMTP_FROM", ""))
	if err != nil {
		return nil, err
	}
	rt := &runtime{outbox: outbox, describe: map[channels.Name]string{}}
	chans := map[channels.Name]channels.Channel{}
	for _, n := range []channels.Name{channels.Email, channels.SMS, channels.Letter} {
		chans[n] = outbox
		rt.describe[n] = "outbox " + outbox.Dir
	}
	if !opts.forceOutbox {
		if err := e.providerChannels(chans, rt); err != nil {
			rt.Close()
			return nil, err
		}
	}
	rt.instrument(chans)
	rt.deps = &jobs.Deps{
		Pool:      pool,
		Templates: tpl,
		Channels:  chans,
		Outbox:    outbox,
		Routes:    routes,
		Logger:    logger,
		Rates:     e.channelRates(),
	}
	if !opts.forceOutbox {
		rt.deps.InFlight = e.inFlight()
	}
	if rt.deps.Agencies, err = e.loadAgencies(); err != nil {
		rt.Close()
		return nil, err
	}
	if err := e.setupLetters(pool, rt, chans, logger); err != nil {
		rt.Close()
		return nil, err
	}
	perCafRates(chans, rt.deps.Rates, rt.deps.Agencies)
	base, secret := e.Getenv("COURRIER_PUBLIC_URL"), e.Getenv("COURRIER_UNSUBSCRIBE_SECRET")
	if !unsubscribeLinks(logger, base, secret) {
		secret = ""
	}
	if base != "" && secret != "" {
		base = strings.TrimRight(base, "/")
		rt.deps.Unsubscribe = func(recipientID int64, kind string) string {
			// Links stay valid for a year: mailings are read late.
			return base + "/unsubscribe/" + channels.SignUnsubscribe([]byte(secret), recipientID, kind, time.Now().AddDate(1, 0, 0))
		}
	}
	if !opts.noQuietHours && !e.quietHoursLifted(logger) {
		rt.deps.Quiet = channels.DefaultQuietHours()
	}
	return rt, nil
}
