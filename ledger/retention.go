package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultRetention is how long rendered messages and the addresses they
// were sent to are kept: 24 months.
const DefaultRetention = 24 * 30 * 24 * time.Hour

// purgeBatch bounds each purge statement so it never holds many row locks.
const purgeBatch = 5000

// Purge erases the personal data of deliveries that ended (final_at, or
// created_at for those that never ended) before olderThan: the rendered
// content becomes NULL, the address empty, and any address or phone number
// in the error text is masked. It returns the number of deliveries purged.
//
// What proves the delivery stays: content_hash (so a copy of the message
// can still be checked against it), template_version, provider and
// provider_message_id, states and timestamps. The hash chain covers
// delivery_events only, which hold no personal data and are never touched,
// so the chain still verifies after a purge.
func Purge(ctx context.Context, pool *pgxpool.Pool, olderThan time.Time) (int, error) {
	total := 0
	for {
		tag, err := pool.Exec(ctx, `
			UPDATE deliveries SET content = NULL, address = '', error = courrier_redact(error)
			WHERE id IN (
				SELECT id FROM deliveries
				WHERE coalesce(final_at, created_at) < $1 AND (content IS NOT NULL OR address <> '')
				LIMIT $2 FOR UPDATE SKIP LOCKED)`, olderThan, purgeBatch)
		if err != nil {
			return total, fmt.Errorf("purge deliveries before %s: %w", olderThan.Format(time.DateOnly), err)
		}
		total += int(tag.RowsAffected())
		if tag.RowsAffected() < purgeBatch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
