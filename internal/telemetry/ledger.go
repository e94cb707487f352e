package telemetry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// tailBatch is how many sealed events one transaction of the tail reads.
const tailBatch = 5000

// The tail reads sealed events in chain order after the stored cursor. The
// cursor row is locked with SKIP LOCKED: when another serve process is
// reading, this one skips its turn, so every event is counted once overall.
// Every sealed event is counted, those of no delivery (a notice's or a
// request's creation) with empty channel and provider labels.
// A first attempt on a channel (no earlier event on its delivery) of a
// notice that already had a delivery on another channel is a fallback.
const tailSQL = `
SELECT c.idx + 1, e.event, coalesce(e.provider_status, ''), coalesce(d.channel, ''), coalesce(d.provider, ''), coalesce(n.kind, ''),
       coalesce(n.test, false), coalesce(n.created_at, e.occurred_at), e.occurred_at,
       e.event = 'sending'
       AND NOT EXISTS (SELECT 1 FROM delivery_events p WHERE p.delivery_id = e.delivery_id AND p.id < e.id)
       AND EXISTS (SELECT 1 FROM deliveries o WHERE o.notice_id = e.notice_id AND o.id <> e.delivery_id AND o.id < e.delivery_id)
FROM ledger_leaves c
JOIN delivery_events e ON e.id = c.event_id
LEFT JOIN deliveries d ON d.id = e.delivery_id -- notice and request events have no delivery
LEFT JOIN notices n ON n.id = e.notice_id
WHERE c.idx >= $1
ORDER BY c.idx
LIMIT $2`

type tailRow struct {
	event, providerStatus, channel, provider, kind string
	test, fallback                                 bool
	created, occurred                              time.Time
}

// TailLedger counts the sealed ledger events after the cursor into the
// ledger-derived metrics and moves the cursor. It returns the number of
// events counted (0 when another process holds the cursor).
func (m *Metrics) TailLedger(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	total := 0
	for range 20 { // at most 100,000 events per call; the next call goes on
		n, err := m.tailOnce(ctx, pool)
		total += n
		if err != nil || n < tailBatch {
			return total, err
		}
	}
	return total, nil
}

func (m *Metrics) tailOnce(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var got []tailRow
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var cursor int64
		err := tx.QueryRow(ctx, `SELECT position FROM telemetry_cursors WHERE name = 'ledger' FOR UPDATE SKIP LOCKED`).Scan(&cursor)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read ledger cursor: %w", err)
		}
		rows, err := tx.Query(ctx, tailSQL, cursor, tailBatch)
		if err != nil {
			return fmt.Errorf("read sealed events: %w", err)
		}
		last := cursor
		for rows.Next() {
			var r tailRow
			if err := rows.Scan(&last, &r.event, &r.providerStatus, &r.channel, &r.provider, &r.kind, &r.test,
				&r.created, &r.occurred, &r.fallback); err != nil {
				rows.Close()
				return err
			}
			got = append(got, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if last == cursor {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE telemetry_cursors SET position = $1 WHERE name = 'ledger'`, last)
		return err
	})
	if err != nil {
		return 0, err
	}
	// Counted only once the cursor moved for good.
	for _, r := range got {
		m.count(r)
	}
	return len(got), nil
}

func (m *Metrics) count(r tailRow) {
	m.ledgerEvents.WithLabelValues(r.channel, r.provider, r.event).Inc()
	switch r.event {
	case "delivered":
		m.delivered.WithLabelValues(r.channel, r.provider).Inc()
	case "bounced":
		m.bounced.WithLabelValues(r.channel, r.provider).Inc()
	case "complained", "complaint":
		m.complained.WithLabelValues(r.channel, r.provider).Inc()
	}
	if r.fallback {
		m.fallenBack.WithLabelValues(r.channel, r.provider).Inc()
	}
	if r.test {
		return // test notices go to the outbox: they would skew the latencies
	}
	age := r.occurred.Sub(r.created).Seconds()
	acceptance := r.providerStatus == "" && (r.event == "sent" || r.event == "delivered")
	if acceptance {
		m.noticeAccepted.WithLabelValues(r.kind).Observe(age)
	}
	switch r.event {
	case "delivered", "undelivered", "failed", "bounced":
		m.noticeFinal.WithLabelValues(r.kind, r.event).Observe(age)
	}
}
