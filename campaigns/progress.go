package campaigns

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Progress is a campaign with its counts, its recent rate and an estimate of
// when it will be done.
type Progress struct {
	Campaign *Campaign `json:"campaign"`
	Counts   Counts    `json:"progress"`
	// Percent is the share of the audience whose notice needs no more work.
	Percent float64 `json:"percent"`
	// PerMinute is the number of notices finished per minute over the last
	// RateWindow.
	PerMinute float64 `json:"per_minute"`
	// ETA is when the remaining notices should be done at that rate; nil when
	// nothing remains or nothing moves.
	ETA *time.Time `json:"eta,omitempty"`
}

// RateWindow is the span over which Progress.PerMinute is measured.
const RateWindow = 10 * time.Minute

// ListOpts are the optional arguments of ListProgress.
type ListOpts struct {
	State  string // only campaigns in this state
	Before int64  // keyset cursor: ids below this one (0: newest)
	Limit  int    // default 50, at most 200
}

// ListProgress returns campaigns newest first with their progress, one page
// at a time; next is the cursor of the following page (0: last page). The
// counts of the whole page come from one grouped query.
func ListProgress(ctx context.Context, db DBTX, now time.Time, opts *ListOpts) (out []*Progress, next int64, err error) {
	var o ListOpts
	if opts != nil {
		o = *opts
	}
	if o.Limit <= 0 {
		o.Limit = 50
	}
	if o.Limit > 200 {
		o.Limit = 200
	}
	rows, err := db.Query(ctx, `SELECT `+columns+` FROM campaigns
		WHERE ($1 = '' OR state = $1) AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, o.State, o.Before, o.Limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("list campaigns: %w", err)
	}
	var list []*Campaign
	for rows.Next() {
		c, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("list campaigns: %w", err)
		}
		list = append(list, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list campaigns: %w", err)
	}
	if len(list) > o.Limit {
		list = list[:o.Limit]
		next = list[o.Limit-1].ID
	}
	out, err = withProgress(ctx, db, now, list)
	return out, next, err
}

// GetProgress returns campaign id with its progress.
func GetProgress(ctx context.Context, db DBTX, id int64, now time.Time) (*Progress, error) {
	c, err := Get(ctx, db, id)
	if err != nil {
		return nil, err
	}
	out, err := withProgress(ctx, db, now, []*Campaign{c})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func withProgress(ctx context.Context, db DBTX, now time.Time, list []*Campaign) ([]*Progress, error) {
	out := make([]*Progress, len(list))
	byID := map[int64]*Progress{}
	ids := make([]int64, len(list))
	for i, c := range list {
		out[i] = &Progress{Campaign: c, Counts: Counts{Estimate: c.AudienceEstimate, Targeted: c.Targeted}}
		byID[c.ID] = out[i]
		ids[i] = c.ID
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `
		SELECT campaign_id, count(*),
		       count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'sending'),
		       count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state = 'delivered'),
		       count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'no_route'),
		       count(*) FILTER (WHERE state = 'cancelled'),
		       count(*) FILTER (WHERE state IN ('delivered', 'failed', 'no_route', 'cancelled')
		                          AND updated_at >= $2)
		FROM notices WHERE campaign_id = ANY($1) GROUP BY campaign_id`, ids, now.Add(-RateWindow))
	if err != nil {
		return nil, fmt.Errorf("campaign progress: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, recent int64
		var c Counts
		if err := rows.Scan(&id, &c.Created, &c.Pending, &c.Sending, &c.Sent, &c.Delivered, &c.Failed, &c.NoRoute,
			&c.Cancelled, &recent); err != nil {
			return nil, fmt.Errorf("campaign progress: %w", err)
		}
		p := byID[id]
		c.Estimate, c.Targeted = p.Counts.Estimate, p.Counts.Targeted
		p.Counts = c
		p.PerMinute = float64(recent) / RateWindow.Minutes()
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("campaign progress: %w", err)
	}
	for _, p := range out {
		p.finish(now)
	}
	return out, nil
}

// finish computes Percent and ETA from the counts.
func (p *Progress) finish(now time.Time) {
	c := p.Counts
	total := max(c.Estimate, c.Targeted, c.Created)
	if p.Campaign.FanoutDoneAt != nil {
		total = c.Created // the audience is known exactly once fanned out
	}
	if total > 0 {
		p.Percent = 100 * float64(c.Done()) / float64(total)
	} else if p.Campaign.State == StateCompleted {
		p.Percent = 100
	}
	remaining := total - c.Done()
	if remaining > 0 && p.PerMinute > 0 && !p.Campaign.Final() {
		eta := now.Add(time.Duration(float64(remaining) / p.PerMinute * float64(time.Minute))).Truncate(time.Second)
		p.ETA = &eta
	}
}

// Point is one step of a campaign's progress over time: how many of its
// notices were done (delivered, failed, no route, cancelled) by At, and how
// many of those were delivered.
type Point struct {
	At        time.Time `json:"at"`
	Done      int64     `json:"done"`
	Delivered int64     `json:"delivered"`
}

// Series returns a campaign's cumulative progress in at most buckets equal
// steps, from its first notice to its last finished one.
func Series(ctx context.Context, db DBTX, id int64, buckets int) ([]Point, error) {
	if buckets < 2 {
		buckets = 2
	}
	rows, err := db.Query(ctx, `
		WITH span AS (
		    SELECT min(created_at) AS t0,
		           max(updated_at) FILTER (WHERE state IN ('delivered', 'failed', 'no_route', 'cancelled')) AS t1
		    FROM notices WHERE campaign_id = $1
		), done AS (
		    SELECT coalesce(least($2, greatest(1, ceil(extract(epoch FROM n.updated_at - s.t0)
		               / nullif(extract(epoch FROM s.t1 - s.t0), 0) * $2)))::int, $2) AS b, n.state
		    FROM notices n, span s
		    WHERE n.campaign_id = $1 AND n.state IN ('delivered', 'failed', 'no_route', 'cancelled')
		), steps AS (
		    SELECT g AS b FROM span, generate_series(1, $2::int) g WHERE t1 IS NOT NULL
		)
		SELECT s.t0 + (s.t1 - s.t0) * g.b / $2,
		       (sum(count(d.b)) OVER (ORDER BY g.b))::bigint,
		       (sum(count(d.b) FILTER (WHERE d.state = 'delivered')) OVER (ORDER BY g.b))::bigint
		FROM steps g CROSS JOIN span s LEFT JOIN done d ON d.b = g.b
		GROUP BY g.b, s.t0, s.t1 ORDER BY g.b`, id, buckets)
	if err != nil {
		return nil, fmt.Errorf("progress series of campaign %d: %w", id, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Point, error) {
		var p Point
		err := row.Scan(&p.At, &p.Done, &p.Delivered)
		return p, err
	})
}
