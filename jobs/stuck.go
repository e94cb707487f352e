package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/courrier-dev/courrier/ledger"
)

// Stuck is work held by a process that is gone: jobs still marked running
// after the rescue delay, and deliveries still marked sending after the
// sending lease. Both resume by themselves (River's rescuer, then the lease),
// so non-zero counts that do not fall within RescueAfter + 30 s point to a
// rescuer that is not running (no serve process with workers).
type Stuck struct {
	// Jobs are deliver and deliver_batch jobs running for longer than RescueAfter.
	Jobs int64 `json:"jobs"`
	// Sending are deliveries marked sending for longer than the lease.
	Sending int64 `json:"sending"`
	// Since is the oldest of those (zero when none).
	Since time.Time `json:"since,omitzero"`
}

// Zero reports whether nothing is stuck.
func (s Stuck) Zero() bool { return s.Jobs == 0 && s.Sending == 0 }

// StuckWork counts the work held by dead processes, for one campaign or, with
// campaignID 0, for every notice. lease is the sending lease (0: RescueAfter).
// The queries use the partial indexes on open deliveries and running jobs, so
// a metrics scrape may call it.
func StuckWork(ctx context.Context, db ledger.DBTX, campaignID int64, lease time.Duration, now time.Time) (Stuck, error) {
	if lease <= 0 {
		lease = RescueAfter()
	}
	var s Stuck
	var oldestJob, oldestSending *time.Time
	err := db.QueryRow(ctx, `
		SELECT count(*), min(j.attempted_at)
		FROM river_job j
		WHERE j.state = 'running' AND j.kind IN ('deliver', 'deliver_batch') AND j.attempted_at < $1
		  AND ($2 = 0 OR j.metadata @> jsonb_build_object('campaign_id', $2::bigint)
		       OR (j.kind = 'deliver' AND EXISTS (SELECT 1 FROM notices n
		           WHERE n.id = (j.args->>'notice_id')::bigint AND n.campaign_id = $2)))`,
		now.Add(-RescueAfter()), campaignID).Scan(&s.Jobs, &oldestJob)
	if err != nil {
		return s, fmt.Errorf("count stuck jobs: %w", err)
	}
	err = db.QueryRow(ctx, `
		SELECT count(*), min(d.sending_at)
		FROM deliveries d
		WHERE d.state = 'sending' AND d.sending_at < $1
		  AND ($2 = 0 OR EXISTS (SELECT 1 FROM notices n WHERE n.id = d.notice_id AND n.campaign_id = $2))`,
		now.Add(-lease), campaignID).Scan(&s.Sending, &oldestSending)
	if err != nil {
		return s, fmt.Errorf("count stuck deliveries: %w", err)
	}
	for _, t := range []*time.Time{oldestJob, oldestSending} {
		if t != nil && (s.Since.IsZero() || t.Before(s.Since)) {
			s.Since = *t
		}
	}
	return s, nil
}
