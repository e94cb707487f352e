package notices

import (
	"context"
	"fmt"
	"time"
)

// Filter selects notices for List. Zero fields select everything.
type Filter struct {
	RecipientID int64
	CampaignID  int64
	Kind        Kind
	State       string
	Since       time.Time // created at or after
	Before      int64     // keyset cursor: ids below this one (0: newest)
	Limit       int       // default 50, at most 200
}

// Listed is a notice as listed, with the campaign it belongs to.
type Listed struct {
	Notice
	CampaignID *int64 `json:"campaign_id,omitempty"`
}

// States lists every notice state.
var States = []string{StatePending, StateSending, StateSent, StateDelivered, StateFailed, StateNoRoute, StateCancelled}

// List returns the notices f selects, newest first, one page at a time;
// next is the cursor of the following page (0: last page).
func List(ctx context.Context, db DBTX, f Filter) (out []*Listed, next int64, err error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 200 {
		f.Limit = 200
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return nil, 0, fmt.Errorf("kind: unknown notice kind %q", f.Kind)
	}
	if f.State != "" && !validState(f.State) {
		return nil, 0, fmt.Errorf("state: unknown notice state %q", f.State)
	}
	var since *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	rows, err := db.Query(ctx, `SELECT `+columns+`, campaign_id FROM notices
		WHERE ($1 = 0 OR recipient_id = $1) AND ($2 = 0 OR campaign_id = $2)
		  AND ($3 = '' OR kind = $3) AND ($4 = '' OR state = $4)
		  AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6 = 0 OR id < $6)
		ORDER BY id DESC LIMIT $7`,
		f.RecipientID, f.CampaignID, string(f.Kind), f.State, since, f.Before, f.Limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("list notices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		l := &Listed{}
		dest, finish := ScanDest(&l.Notice)
		if err := rows.Scan(append(dest, &l.CampaignID)...); err != nil {
			return nil, 0, fmt.Errorf("list notices: %w", err)
		}
		if err := finish(); err != nil {
			return nil, 0, err
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list notices: %w", err)
	}
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[f.Limit-1].ID
	}
	return out, next, nil
}

func validState(s string) bool {
	for _, v := range States {
		if v == s {
			return true
		}
	}
	return false
}
