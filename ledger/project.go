package ledger

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Projections are what compliance reports read: one row per notice and per
// request, computed from sealed events only, in leaf order, by Project.
// The sealer writes them in the transaction that seals the events; Verify
// recomputes them from the whole tree and compares row for row.

// NoticeFacts is a notice as its sealed events establish it.
type NoticeFacts struct {
	NoticeID      int64
	Recipient     string // beneficiary number
	RecipientID   int64
	Caf           string
	Kind          string
	Test          bool
	CampaignID    *int64
	CreatedAt     *time.Time
	DueBy         *time.Time
	ProvenLevel   string
	ProvenAt      *time.Time
	ProvenChannel string
	WeakLevel     string
	WeakAt        *time.Time
	WeakChannel   string
	RevokedAt     *time.Time
}

// RequestFacts is a request as its sealed events establish it.
type RequestFacts struct {
	Request        string // upstream id
	Recipient      string
	RecipientID    int64
	Caf            string
	Kind           string
	MinimumIncome  bool
	Channel        string
	ReceivedAt     *time.Time
	AckDueBy       *time.Time
	AnswerDueBy    *time.Time
	AckNoticeID    *int64
	AnswerNoticeID *int64
}

// Projection holds projection rows being computed.
type Projection struct {
	Notices  map[int64]*NoticeFacts
	Requests map[string]*RequestFacts
	// touched rows must be written back.
	touchedNotices  map[int64]bool
	touchedRequests map[string]bool
}

// NewProjection returns an empty projection.
func NewProjection() *Projection {
	return &Projection{Notices: map[int64]*NoticeFacts{}, Requests: map[string]*RequestFacts{},
		touchedNotices: map[int64]bool{}, touchedRequests: map[string]bool{}}
}

func parseTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil
	}
	return &t
}

func parseID(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func (p *Projection) notice(id int64) *NoticeFacts {
	n := p.Notices[id]
	if n == nil {
		n = &NoticeFacts{NoticeID: id}
		p.Notices[id] = n
	}
	p.touchedNotices[id] = true
	return n
}

func (p *Projection) request(ref string) *RequestFacts {
	r := p.Requests[ref]
	if r == nil {
		r = &RequestFacts{Request: ref}
		p.Requests[ref] = r
	}
	p.touchedRequests[ref] = true
	return r
}

// Apply folds one sealed event into the projection. Events must come in
// leaf order.
func (p *Projection) Apply(e Event) {
	f := e.Facts
	switch e.Event {
	case "notice_created":
		n := p.notice(e.NoticeID)
		n.Recipient, n.RecipientID, n.Caf, n.Kind = f["recipient"], parseID(f["recipient_id"]), f["caf"], f["kind"]
		n.Test = f["test"] == "true"
		if c := parseID(f["campaign_id"]); c != 0 {
			n.CampaignID = &c
		}
		n.CreatedAt, n.DueBy = parseTime(f["created_at"]), parseTime(f["due_by"])
		return
	case "request_received":
		r := p.request(f["request"])
		r.Recipient, r.RecipientID, r.Caf, r.Kind = f["recipient"], parseID(f["recipient_id"]), f["caf"], f["kind"]
		r.MinimumIncome, r.Channel = f["minimum_income"] == "true", f["channel"]
		r.ReceivedAt, r.AckDueBy, r.AnswerDueBy = parseTime(f["received_at"]), parseTime(f["ack_due_by"]), parseTime(f["answer_due_by"])
		return
	case "request_linked":
		if e.NoticeID == 0 || f["request"] == "" {
			return
		}
		r := p.request(f["request"])
		id := e.NoticeID
		switch f["role"] {
		case "ack":
			r.AckNoticeID = &id
		case "answer":
			r.AnswerNoticeID = &id
		}
		return
	}
	if e.NoticeID == 0 {
		return
	}
	if RevokingEvents[e.Event] {
		n := p.Notices[e.NoticeID]
		if n != nil && (n.ProvenAt != nil || n.WeakAt != nil) {
			n = p.notice(e.NoticeID)
			at := e.OccurredAt
			n.ProvenLevel, n.ProvenAt, n.ProvenChannel = "", nil, ""
			n.WeakLevel, n.WeakAt, n.WeakChannel = "", nil, ""
			n.RevokedAt = &at
		}
		return
	}
	lvl := EvidenceOf(e)
	if lvl == "" {
		return
	}
	at := e.OccurredAt
	switch EvidenceLevels[lvl] {
	case Proven:
		n := p.Notices[e.NoticeID]
		if n == nil || n.ProvenAt == nil {
			n = p.notice(e.NoticeID)
			n.ProvenLevel, n.ProvenAt, n.ProvenChannel = lvl, &at, f["channel"]
		}
	case Weak:
		n := p.Notices[e.NoticeID]
		if n == nil || n.WeakAt == nil {
			n = p.notice(e.NoticeID)
			n.WeakLevel, n.WeakAt, n.WeakChannel = lvl, &at, f["channel"]
		}
	}
}

const noticeFactColumns = `notice_id, recipient, recipient_id, caf, kind, test, campaign_id, created_at, due_by,
	proven_level, proven_at, proven_channel, weak_level, weak_at, weak_channel, revoked_at`

func scanNoticeFacts(row pgx.Row) (*NoticeFacts, error) {
	n := &NoticeFacts{}
	err := row.Scan(&n.NoticeID, &n.Recipient, &n.RecipientID, &n.Caf, &n.Kind, &n.Test, &n.CampaignID, &n.CreatedAt, &n.DueBy,
		&n.ProvenLevel, &n.ProvenAt, &n.ProvenChannel, &n.WeakLevel, &n.WeakAt, &n.WeakChannel, &n.RevokedAt)
	return n, err
}

const requestFactColumns = `request, recipient, recipient_id, caf, kind, minimum_income, channel, received_at,
	ack_due_by, answer_due_by, ack_notice_id, answer_notice_id`

func scanRequestFacts(row pgx.Row) (*RequestFacts, error) {
	r := &RequestFacts{}
	err := row.Scan(&r.Request, &r.Recipient, &r.RecipientID, &r.Caf, &r.Kind, &r.MinimumIncome, &r.Channel, &r.ReceivedAt,
		&r.AckDueBy, &r.AnswerDueBy, &r.AckNoticeID, &r.AnswerNoticeID)
	return r, err
}

// load reads the stored projection rows the events will touch.
func (p *Projection) load(ctx context.Context, tx pgx.Tx, events []Event) error {
	var nids []int64
	var refs []string
	for _, e := range events {
		if e.NoticeID != 0 {
			nids = append(nids, e.NoticeID)
		}
		if r := e.Facts["request"]; r != "" {
			refs = append(refs, r)
		}
	}
	rows, err := tx.Query(ctx, `SELECT `+noticeFactColumns+` FROM proj_notices WHERE notice_id = ANY($1)`, nids)
	if err != nil {
		return fmt.Errorf("load notice projection: %w", err)
	}
	for rows.Next() {
		n, err := scanNoticeFacts(rows)
		if err != nil {
			rows.Close()
			return err
		}
		p.Notices[n.NoticeID] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load notice projection: %w", err)
	}
	if len(refs) == 0 {
		return nil
	}
	rows, err = tx.Query(ctx, `SELECT `+requestFactColumns+` FROM proj_requests WHERE request = ANY($1)`, refs)
	if err != nil {
		return fmt.Errorf("load request projection: %w", err)
	}
	for rows.Next() {
		r, err := scanRequestFacts(rows)
		if err != nil {
			rows.Close()
			return err
		}
		p.Requests[r.Request] = r
	}
	rows.Close()
	return rows.Err()
}

// save writes back the rows Apply changed.
func (p *Projection) save(ctx context.Context, tx pgx.Tx) error {
	if len(p.touchedNotices) > 0 {
		var rows [][]any
		for id := range p.touchedNotices {
			n := p.Notices[id]
			rows = append(rows, []any{n.NoticeID, n.Recipient, n.RecipientID, n.Caf, n.Kind, n.Test, n.CampaignID, n.CreatedAt, n.DueBy,
				n.ProvenLevel, n.ProvenAt, n.ProvenChannel, n.WeakLevel, n.WeakAt, n.WeakChannel, n.RevokedAt})
		}
		if err := upsert(ctx, tx, "proj_notices", "notice_id", noticeColumnList, rows); err != nil {
			return err
		}
	}
	if len(p.touchedRequests) > 0 {
		var rows [][]any
		for ref := range p.touchedRequests {
			r := p.Requests[ref]
			rows = append(rows, []any{r.Request, r.Recipient, r.RecipientID, r.Caf, r.Kind, r.MinimumIncome, r.Channel, r.ReceivedAt,
				r.AckDueBy, r.AnswerDueBy, r.AckNoticeID, r.AnswerNoticeID})
		}
		if err := upsert(ctx, tx, "proj_requests", "request", requestColumnList, rows); err != nil {
			return err
		}
	}
	clear(p.touchedNotices)
	clear(p.touchedRequests)
	return nil
}

var (
	noticeColumnList = []string{"notice_id", "recipient", "recipient_id", "caf", "kind", "test", "campaign_id", "created_at", "due_by",
		"proven_level", "proven_at", "proven_channel", "weak_level", "weak_at", "weak_channel", "revoked_at"}
	requestColumnList = []string{"request", "recipient", "recipient_id", "caf", "kind", "minimum_income", "channel", "received_at",
		"ack_due_by", "answer_due_by", "ack_notice_id", "answer_notice_id"}
)

// upsert copies rows into a temporary table and merges them into table:
// one COPY and one statement whatever the number of rows.
func upsert(ctx context.Context, tx pgx.Tx, table, key string, cols []string, rows [][]any) error {
	tmp := "tmp_" + table
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS `+tmp+` (LIKE `+table+`) ON COMMIT DELETE ROWS`); err != nil {
		return fmt.Errorf("upsert %s: %w", table, err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{tmp}, cols, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("upsert %s: copy: %w", table, err)
	}
	set := ""
	list := ""
	for i, c := range cols {
		if i > 0 {
			list += ", "
		}
		list += c
		if c == key {
			continue
		}
		if set != "" {
			set += ", "
		}
		set += c + " = EXCLUDED." + c
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+table+` (`+list+`) SELECT `+list+` FROM `+tmp+`
		ON CONFLICT (`+key+`) DO UPDATE SET `+set); err != nil {
		return fmt.Errorf("upsert %s: %w", table, err)
	}
	_, err := tx.Exec(ctx, `TRUNCATE `+tmp)
	return err
}
