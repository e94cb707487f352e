package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SamplerConfig tunes Run.
type SamplerConfig struct {
	// Interval between two refreshes of the sampled gauges and two reads of
	// the sealed ledger. Default 15s.
	Interval time.Duration
	// CampaignEvery refreshes the campaign gauges every that many intervals
	// (they count a running campaign's notices through its index). Default 4.
	CampaignEvery int
	Logger        *slog.Logger
}

// Run refreshes the sampled gauges and reads the sealed ledger every
// interval until ctx is done. Scrapes only read what the last pass left.
func (m *Metrics) Run(ctx context.Context, pool *pgxpool.Pool, cfg SamplerConfig) {
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Second
	}
	if cfg.CampaignEvery <= 0 {
		cfg.CampaignEvery = 4
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		pass, cancel := context.WithTimeout(ctx, cfg.Interval)
		if err := m.Sample(pass, pool, i%cfg.CampaignEvery == 0); err != nil && ctx.Err() == nil {
			m.sampleErrors.Inc()
			log.Warn("metrics sample failed", "error", err)
		}
		if _, err := m.TailLedger(pass, pool); err != nil && ctx.Err() == nil {
			m.sampleErrors.Inc()
			log.Warn("metrics ledger tail failed", "error", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sample refreshes the gauges read from the database: River's queues, the
// ledger's seal lag and, when campaigns is true, campaign progress.
func (m *Metrics) Sample(ctx context.Context, pool *pgxpool.Pool, campaigns bool) error {
	if err := m.sampleRiver(ctx, pool); err != nil {
		return err
	}
	if err := m.sampleSeal(ctx, pool); err != nil {
		return err
	}
	if err := m.sampleStuck(ctx, pool); err != nil {
		return err
	}
	if campaigns {
		if err := m.sampleCampaigns(ctx, pool); err != nil {
			return err
		}
	}
	m.lastSample.SetToCurrentTime()
	return nil
}

// River's own table, through its (state, queue, …) index: unfinished jobs
// only, never the completed ones River keeps for a while.
const riverSQL = `
SELECT queue, kind, state::text, count(*),
       greatest(0, extract(epoch FROM now() - min(CASE state
           WHEN 'running' THEN coalesce(attempted_at, scheduled_at)
           WHEN 'available' THEN scheduled_at
           ELSE created_at END)))::float8
FROM river_job
WHERE state IN ('available', 'running', 'retryable', 'scheduled')
GROUP BY 1, 2, 3`

func (m *Metrics) sampleRiver(ctx context.Context, pool *pgxpool.Pool) error {
	rows, err := pool.Query(ctx, riverSQL)
	if err != nil {
		return fmt.Errorf("sample river jobs: %w", err)
	}
	defer rows.Close()
	type row struct {
		queue, kind, state string
		n                  int64
		age                float64
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.queue, &r.kind, &r.state, &r.n, &r.age); err != nil {
			return err
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	m.riverJobs.Reset()
	m.riverOldest.Reset()
	for _, r := range got {
		m.riverJobs.WithLabelValues(r.queue, r.kind, r.state).Set(float64(r.n))
		m.riverOldest.WithLabelValues(r.queue, r.kind, r.state).Set(r.age)
	}
	return nil
}

func (m *Metrics) sampleSeal(ctx context.Context, pool *pgxpool.Pool) error {
	var lastID int64
	var lastAt float64
	err := pool.QueryRow(ctx, `
		SELECT coalesce((SELECT event_id FROM ledger_leaves ORDER BY idx DESC LIMIT 1), 0),
		       coalesce(extract(epoch FROM (SELECT max(signed_at) FROM ledger_checkpoints)), 0)::float8`).Scan(&lastID, &lastAt)
	if err != nil {
		return fmt.Errorf("sample ledger seals: %w", err)
	}
	// A range scan of the primary key from the last sealed event; capped so
	// that a seal that has failed for long stays cheap to measure.
	var unsealed int64
	var lag float64
	err = pool.QueryRow(ctx, `
		SELECT count(*), coalesce(extract(epoch FROM now() - min(recorded_at)), 0)::float8
		FROM (SELECT recorded_at FROM delivery_events WHERE id > $1 ORDER BY id LIMIT 1000000) u`, lastID).Scan(&unsealed, &lag)
	if err != nil {
		return fmt.Errorf("sample unsealed events: %w", err)
	}
	m.unsealed.Set(float64(unsealed))
	m.sealLag.Set(max(0, lag))
	m.lastSeal.Set(lastAt)
	return nil
}

func (m *Metrics) sampleCampaigns(ctx context.Context, pool *pgxpool.Pool) error {
	rows, err := pool.Query(ctx, `
		SELECT c.id, c.targeted, c.audience_estimate, n.state, coalesce(n.count, 0)
		FROM campaigns c
		LEFT JOIN LATERAL (SELECT state, count(*) FROM notices WHERE campaign_id = c.id GROUP BY state) n ON true
		WHERE c.state IN ('running', 'paused')`)
	if err != nil {
		return fmt.Errorf("sample campaigns: %w", err)
	}
	defer rows.Close()
	type row struct {
		id, targeted, estimate, n int64
		state                     *string
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.targeted, &r.estimate, &r.state, &r.n); err != nil {
			return err
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	m.campaignNotices.Reset()
	m.campaignTarget.Reset()
	for _, r := range got {
		id := strconv.FormatInt(r.id, 10)
		m.campaignTarget.WithLabelValues(id, "targeted").Set(float64(r.targeted))
		m.campaignTarget.WithLabelValues(id, "audience_estimate").Set(float64(r.estimate))
		if r.state != nil {
			m.campaignNotices.WithLabelValues(id, *r.state).Set(float64(r.n))
		}
	}
	return nil
}
