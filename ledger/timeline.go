package ledger

import (
	"context"
	"fmt"

	"github.com/courrier-dev/courrier/notices"
)

// TimelineEntry is one notice of a beneficiary with what happened to it:
// each channel's delivery (provider, message id, state) and the ledger
// events of the notice, receipts included.
type TimelineEntry struct {
	Notice     *notices.Notice `json:"notice"`
	CampaignID *int64          `json:"campaign_id,omitempty"`
	Deliveries []Delivery      `json:"deliveries"`
	Events     []Event         `json:"events"`
}

// TimelineOpts are the optional arguments of Timeline.
type TimelineOpts struct {
	Before int64 // keyset cursor: notices with an id below this one (0: newest)
	Limit  int   // default 500, at most 1000
}

// Timeline returns beneficiary recipientID's notices, newest first, each
// with its deliveries and ledger events, in three queries whatever the
// number of notices. next is the cursor of the following page (0: none).
func Timeline(ctx context.Context, db DBTX, recipientID int64, opts *TimelineOpts) (entries []*TimelineEntry, next int64, err error) {
	var o TimelineOpts
	if opts != nil {
		o = *opts
	}
	if o.Limit <= 0 {
		o.Limit = 500
	}
	if o.Limit > 1000 {
		o.Limit = 1000
	}
	rows, err := db.Query(ctx, `SELECT `+notices.Columns+`, campaign_id FROM notices
		WHERE recipient_id = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, recipientID, o.Before, o.Limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("timeline of beneficiary %d: %w", recipientID, err)
	}
	byID := map[int64]*TimelineEntry{}
	var ids []int64
	for rows.Next() {
		e := &TimelineEntry{Notice: &notices.Notice{}, Deliveries: []Delivery{}, Events: []Event{}}
		dest, finish := notices.ScanDest(e.Notice)
		if err := rows.Scan(append(dest, &e.CampaignID)...); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("timeline of beneficiary %d: %w", recipientID, err)
		}
		if err := finish(); err != nil {
			rows.Close()
			return nil, 0, err
		}
		entries = append(entries, e)
		byID[e.Notice.ID] = e
		ids = append(ids, e.Notice.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("timeline of beneficiary %d: %w", recipientID, err)
	}
	if len(entries) > o.Limit {
		entries, ids = entries[:o.Limit], ids[:o.Limit]
		next = ids[o.Limit-1]
	}
	if len(ids) == 0 {
		return entries, 0, nil
	}

	drows, err := db.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE notice_id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, 0, fmt.Errorf("timeline deliveries: %w", err)
	}
	for drows.Next() {
		d, err := scanDelivery(drows)
		if err != nil {
			drows.Close()
			return nil, 0, err
		}
		if e := byID[d.NoticeID]; e != nil {
			e.Deliveries = append(e.Deliveries, d)
		}
	}
	drows.Close()
	if err := drows.Err(); err != nil {
		return nil, 0, fmt.Errorf("timeline deliveries: %w", err)
	}

	erows, err := db.Query(ctx, `
		SELECT id, coalesce(delivery_id, 0), coalesce(notice_id, 0), event, provider_status, error_code, detail, occurred_at, recorded_at
		FROM delivery_events WHERE notice_id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, 0, fmt.Errorf("timeline events: %w", err)
	}
	defer erows.Close()
	for erows.Next() {
		var ev Event
		if err := erows.Scan(&ev.ID, &ev.DeliveryID, &ev.NoticeID, &ev.Event, &ev.ProviderStatus, &ev.ErrorCode,
			&ev.Detail, &ev.OccurredAt, &ev.RecordedAt); err != nil {
			return nil, 0, err
		}
		if e := byID[ev.NoticeID]; e != nil {
			e.Events = append(e.Events, ev)
		}
	}
	if err := erows.Err(); err != nil {
		return nil, 0, fmt.Errorf("timeline events: %w", err)
	}
	return entries, next, nil
}
