package staff

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Action is one line of the staff action log.
type Action struct {
	ID         int64     `json:"id"`
	Login      string    `json:"login"`
	Action     string    `json:"action"`
	Target     string    `json:"target,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
}

// Record appends what account a did to the action log. target names what
// it acted on by id ("campaign:12", "recipient:34"): never personal data.
func Record(ctx context.Context, db DBTX, a *Account, action, target, detail string) error {
	if _, err := db.Exec(ctx, `INSERT INTO staff_actions (account_id, login, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		a.ID, a.Login, action, target, detail); err != nil {
		return fmt.Errorf("record staff action %s: %w", action, err)
	}
	return nil
}

func recordUnknown(ctx context.Context, db DBTX, login string) error {
	if len(login) > 64 {
		login = login[:64]
	}
	_, err := db.Exec(ctx, `INSERT INTO staff_actions (login, action, detail) VALUES ($1, 'login_failed', 'unknown login')`, login)
	return err
}

// Actions lists the latest actions, newest first; login "" lists everyone's.
func Actions(ctx context.Context, db DBTX, login string, limit int) ([]Action, error) {
	rows, err := db.Query(ctx, `SELECT id, login, action, target, detail, occurred_at FROM staff_actions
		WHERE $1 = '' OR login = $1 ORDER BY id DESC LIMIT $2`, login, limit)
	if err != nil {
		return nil, fmt.Errorf("list staff actions: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Action, error) {
		var a Action
		err := row.Scan(&a.ID, &a.Login, &a.Action, &a.Target, &a.Detail, &a.OccurredAt)
		return a, err
	})
}
