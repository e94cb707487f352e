package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/internal/telemetry"
	"github.com/courrier-dev/courrier/jobs"
)

// channelRates reads the per-process rate limits that providerChannels
// applies, so that batch timeouts are derived from them.
func (e *Env) channelRates() jobs.Rates {
	rates := jobs.Rates{}
	for ch, key := range map[channels.Name]string{channels.Email: "COURRIER_EMAIL_RATE", channels.SMS: "COURRIER_SMS_RATE"} {
		if r, err := strconv.ParseFloat(e.Getenv(key), 64); err == nil && r > 0 {
			rates[ch] = r
		}
	}
	return rates
}

// embeddedDone is closed when the private PostgreSQL that this process
// started exits; nil (never) with DATABASE_URL or a shared server.
func (e *Env) embeddedDone() <-chan struct{} {
	if e.embedded == nil {
		return nil
	}
	return e.embedded.Done()
}

// embeddedDied ends serve when its private PostgreSQL exited under it: the
// process exits non-zero so that its supervisor (systemd Restart=always)
// starts both again, rather than logging fetch errors forever. Deliveries
// caught mid-send are resumed after the sending lease by the next process.
func (e *Env) embeddedDied(srv *http.Server, client *river.Client[pgx.Tx]) error {
	logger := e.logger()
	logger.Error("the embedded PostgreSQL exited: stopping so that a supervisor restarts courrier and its database")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	_ = client.StopAndCancel(ctx)
	return errors.New("the embedded PostgreSQL exited unexpectedly")
}

// inFlight caps the unrecorded messages per channel at the SMTP connection
// count (SMTP_CONNECTIONS, default 4) and COURRIER_SMS_IN_FLIGHT (default 8):
// the most a crash of this process can send twice. The outbox is not capped.
func (e *Env) inFlight() map[channels.Name]int {
	conns, err := strconv.Atoi(e.get("SMTP_CONNECTIONS", "4"))
	if err != nil || conns < 1 {
		conns = 4
	}
	sms, err := strconv.Atoi(e.get("COURRIER_SMS_IN_FLIGHT", "8"))
	if err != nil || sms < 1 {
		sms = 8
	}
	caps := map[channels.Name]int{}
	if e.Getenv("SMTP_URL") != "" {
		caps[channels.Email] = conns
	}
	if e.Getenv("TWILIO_ACCOUNT_SID") != "" {
		caps[channels.SMS] = sms
	}
	return caps
}

// quietHoursLifted reports whether COURRIER_SMS_QUIET_HOURS=off lifts the
// SMS quiet hours (08:00–20:00, Monday–Saturday): for a test platform or
// the fault suite, which must send SMS at any hour; never in production.
func (e *Env) quietHoursLifted(logger interface{ Warn(string, ...any) }) bool {
	if e.Getenv("COURRIER_SMS_QUIET_HOURS") != "off" {
		return false
	}
	logger.Warn("SMS quiet hours are lifted (COURRIER_SMS_QUIET_HOURS=off): SMS leave at any hour")
	return true
}

// stuckWork reads the work held by dead processes for the metrics sampler
// (partial indexes: cheap at each pass).
func stuckWork(ctx context.Context, pool *pgxpool.Pool) (telemetry.StuckWork, error) {
	s, err := jobs.StuckWork(ctx, pool, 0, 0, time.Now())
	return telemetry.StuckWork{Jobs: s.Jobs, Sending: s.Sending, Since: s.Since}, err
}
