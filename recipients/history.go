package recipients

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Event is one change of a beneficiary's consent or contact status, as
// recorded in recipient_events.
type Event struct {
	ID         int64     `json:"id"`
	Event      string    `json:"event"`
	Channel    string    `json:"channel,omitempty"`
	Source     string    `json:"source,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
}

// History lists the consent and contact-status changes of beneficiary id,
// newest first.
func History(ctx context.Context, db DBTX, id int64) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT id, event, channel, source, detail, occurred_at
		FROM recipient_events WHERE recipient_id = $1 ORDER BY id DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("history of beneficiary %d: %w", id, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		err := row.Scan(&e.ID, &e.Event, &e.Channel, &e.Source, &e.Detail, &e.OccurredAt)
		return e, err
	})
}
