package ledger

// The coverage projection (proj_coverage, migration 0090): per beneficiary,
// per Caf of the notices and per evidence mode, the facts the yearly-notice
// and general-mailings reports need, so that a report aggregates one row
// per beneficiary instead of walking every notice. It is derived from the
// notice projection alone (delivered personalised and general-information
// notices, test notices excluded): the sealer rebuilds the rows of every
// beneficiary whose notices a sealed batch touched, in the same
// transaction, and Verify rebuilds every row from the sealed events.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// Evidence modes of the coverage projection: which evidence counts as
// delivery. CoverageProven counts the proven levels only (the reports'
// default); CoverageAny counts every level (the first of the proven and
// weak evidence). Reports accepting another set of levels read the notice
// projection instead.
const (
	CoverageProven = "proven"
	CoverageAny    = "any"
)

// CoverageModes lists the modes in their stored order.
var CoverageModes = []string{CoverageAny, CoverageProven}

// PersonalKinds are the personalised notices of the yearly-notice rule;
// GeneralKind is the general mailing's.
var PersonalKinds = map[string]bool{"rights_opened": true, "rights_changed": true, "no_rights": true, "yearly_statement": true}

// GeneralKind is the kind of a general mailing's notice.
const GeneralKind = "general_information"

var paris = mustParis()

func mustParis() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return loc
}

// Plus12 is t plus 12 calendar months in Paris time, exactly as PostgreSQL
// computes ((t AT TIME ZONE 'Europe/Paris') + interval '12 months') AT TIME
// ZONE 'Europe/Paris': the day is clamped to the month's last (29 February
// gives 28 February), and a wall time that does not exist or exists twice
// in the target year is read as standard time (the smaller offset).
func Plus12(t time.Time) time.Time {
	l := t.In(paris)
	y, m, d := l.Date()
	y++
	if last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day(); d > last {
		d = last
	}
	wall := time.Date(y, m, d, l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
	var best time.Time
	bestOff, found := 0, false
	for _, probe := range []time.Duration{-14 * time.Hour, 14 * time.Hour} {
		_, off := wall.Add(probe).In(paris).Zone()
		u := wall.Add(-time.Duration(off) * time.Second)
		if _, uo := u.In(paris).Zone(); uo == off && (!found || off < bestOff) {
			best, bestOff, found = u, off, true
		}
	}
	if !found { // a gap: standard time, the smaller of the two offsets
		_, o1 := wall.Add(-14 * time.Hour).In(paris).Zone()
		_, o2 := wall.Add(14 * time.Hour).In(paris).Zone()
		best = wall.Add(-time.Duration(min(o1, o2)) * time.Second)
	}
	return best.UTC()
}

// Coverage is one row of the coverage projection.
type Coverage struct {
	RecipientID int64
	Caf         string // the notices' Caf
	Mode        string // CoverageProven or CoverageAny
	Recipient   string // beneficiary number
	// Cafs is how many rows the beneficiary has in this mode (several
	// when its notices were sent under several Cafs).
	Cafs int16
	// Personalised notices delivered, by delivery time (then notice id):
	// when, the running maximum of Plus12 of when (until then covered),
	// which notice, on what evidence.
	PersonalAt       []time.Time
	PersonalUntil    []time.Time
	PersonalNotice   []int64
	PersonalEvidence []string
	// SpanFrom/SpanUntil are the merged coverage intervals [from, until).
	SpanFrom  []time.Time
	SpanUntil []time.Time
	// General mailings delivered per Paris calendar year, and per year and
	// evidence level.
	Years         []int32
	YearCount     []int32
	EvidenceYear  []int32
	EvidenceLevel []string
	EvidenceCount []int32
	// LastAt is the latest delivery counted in the row.
	LastAt *time.Time
}

type delivered struct {
	at     time.Time
	notice int64
	ev     string
}

// deliveredIn returns when and on what evidence n counts as delivered in
// mode (ok false: it does not).
func deliveredIn(n *NoticeFacts, mode string) (time.Time, string, bool) {
	switch {
	case mode == CoverageProven || n.WeakAt == nil:
		if n.ProvenAt == nil {
			return time.Time{}, "", false
		}
		return *n.ProvenAt, n.ProvenLevel, true
	case n.ProvenAt != nil && !n.ProvenAt.After(*n.WeakAt):
		return *n.ProvenAt, n.ProvenLevel, true
	default:
		return *n.WeakAt, n.WeakLevel, true
	}
}

// coverageRelevant reports whether n can count in a coverage row.
func coverageRelevant(n *NoticeFacts) bool {
	return !n.Test && (PersonalKinds[n.Kind] || n.Kind == GeneralKind)
}

// BuildCoverage computes the coverage rows of one beneficiary from all its
// notices, sorted by Caf then mode.
func BuildCoverage(notices []*NoticeFacts) []*Coverage {
	type key struct{ caf, mode string }
	personal := map[key][]delivered{}
	general := map[key][]delivered{}
	var rid int64
	var ref string
	for _, n := range notices {
		if !coverageRelevant(n) {
			continue
		}
		rid, ref = n.RecipientID, n.Recipient
		for _, mode := range CoverageModes {
			at, ev, ok := deliveredIn(n, mode)
			if !ok {
				continue
			}
			k := key{n.Caf, mode}
			if n.Kind == GeneralKind {
				general[k] = append(general[k], delivered{at, n.NoticeID, ev})
			} else {
				personal[k] = append(personal[k], delivered{at, n.NoticeID, ev})
			}
		}
	}
	keys := map[key]bool{}
	for k := range personal {
		keys[k] = true
	}
	for k := range general {
		keys[k] = true
	}
	var out []*Coverage
	perMode := map[string]int16{}
	for k := range keys {
		perMode[k.mode]++
		c := &Coverage{RecipientID: rid, Recipient: ref, Caf: k.caf, Mode: k.mode}
		p := personal[k]
		sort.Slice(p, func(i, j int) bool {
			if !p[i].at.Equal(p[j].at) {
				return p[i].at.Before(p[j].at)
			}
			return p[i].notice < p[j].notice
		})
		var until time.Time
		for i, d := range p {
			u := Plus12(d.at)
			if i == 0 || d.at.After(until) {
				c.SpanFrom = append(c.SpanFrom, d.at)
				c.SpanUntil = append(c.SpanUntil, u)
			} else if u.After(c.SpanUntil[len(c.SpanUntil)-1]) {
				c.SpanUntil[len(c.SpanUntil)-1] = u
			}
			if i == 0 || u.After(until) {
				until = u
			}
			c.PersonalAt = append(c.PersonalAt, d.at)
			c.PersonalUntil = append(c.PersonalUntil, until)
			c.PersonalNotice = append(c.PersonalNotice, d.notice)
			c.PersonalEvidence = append(c.PersonalEvidence, d.ev)
			c.LastAt = later(c.LastAt, d.at)
		}
		years := map[int32]int32{}
		type yl struct {
			y   int32
			lvl string
		}
		levels := map[yl]int32{}
		for _, d := range general[k] {
			y := int32(d.at.In(paris).Year())
			years[y]++
			levels[yl{y, d.ev}]++
			c.LastAt = later(c.LastAt, d.at)
		}
		for y := range years {
			c.Years = append(c.Years, y)
		}
		slices.Sort(c.Years)
		for _, y := range c.Years {
			c.YearCount = append(c.YearCount, years[y])
		}
		var yls []yl
		for x := range levels {
			yls = append(yls, x)
		}
		sort.Slice(yls, func(i, j int) bool {
			if yls[i].y != yls[j].y {
				return yls[i].y < yls[j].y
			}
			return yls[i].lvl < yls[j].lvl
		})
		for _, x := range yls {
			c.EvidenceYear, c.EvidenceLevel, c.EvidenceCount = append(c.EvidenceYear, x.y), append(c.EvidenceLevel, x.lvl), append(c.EvidenceCount, levels[x])
		}
		out = append(out, c)
	}
	for _, c := range out {
		c.Cafs = perMode[c.Mode]
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Caf != out[j].Caf {
			return out[i].Caf < out[j].Caf
		}
		return out[i].Mode < out[j].Mode
	})
	return out
}

func later(a *time.Time, b time.Time) *time.Time {
	if a == nil || b.After(*a) {
		return &b
	}
	return a
}

const coverageColumns = `recipient_id, caf, mode, recipient, cafs, personal_at, personal_until, personal_notice, personal_evidence,
	span_from, span_until, years, year_count, evidence_year, evidence_level, evidence_count, last_at`

var coverageColumnList = []string{"recipient_id", "caf", "mode", "recipient", "cafs", "personal_at", "personal_until", "personal_notice",
	"personal_evidence", "span_from", "span_until", "years", "year_count", "evidence_year", "evidence_level", "evidence_count", "last_at"}

func (c *Coverage) values() []any {
	return []any{c.RecipientID, c.Caf, c.Mode, c.Recipient, c.Cafs, nonNil(c.PersonalAt), nonNil(c.PersonalUntil), nonNil(c.PersonalNotice),
		nonNil(c.PersonalEvidence), nonNil(c.SpanFrom), nonNil(c.SpanUntil), nonNil(c.Years), nonNil(c.YearCount),
		nonNil(c.EvidenceYear), nonNil(c.EvidenceLevel), nonNil(c.EvidenceCount), c.LastAt}
}

// nonNil stores an empty array rather than NULL.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func scanCoverage(row pgx.Row) (*Coverage, error) {
	c := &Coverage{}
	err := row.Scan(&c.RecipientID, &c.Caf, &c.Mode, &c.Recipient, &c.Cafs, &c.PersonalAt, &c.PersonalUntil, &c.PersonalNotice,
		&c.PersonalEvidence, &c.SpanFrom, &c.SpanUntil, &c.Years, &c.YearCount, &c.EvidenceYear, &c.EvidenceLevel, &c.EvidenceCount, &c.LastAt)
	return c, err
}

// coverageDB is what coverage maintenance needs: a transaction or a pool.
type coverageDB interface {
	DBTX
	CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error)
}

var _ coverageDB = pgx.Tx(nil)

// coverageNoticesSQL reads the notices that can count in a coverage row
// (the partial index proj_notices_personal_idx serves it).
const coverageNoticesSQL = `SELECT ` + noticeFactColumns + ` FROM proj_notices
	WHERE NOT test AND kind IN ('rights_opened', 'rights_changed', 'no_rights', 'yearly_statement', 'general_information')`

// updateCoverage rebuilds the coverage rows of the given beneficiaries
// from the notice projection.
func updateCoverage(ctx context.Context, db coverageDB, recipients []int64) error {
	if len(recipients) == 0 {
		return nil
	}
	rows, err := db.Query(ctx, coverageNoticesSQL+` AND recipient_id = ANY($1) ORDER BY recipient_id`, recipients)
	if err != nil {
		return fmt.Errorf("coverage: read notices: %w", err)
	}
	out, err := buildFromRows(rows)
	if err != nil {
		return err
	}
	if _, err := db.Exec(ctx, `DELETE FROM proj_coverage WHERE recipient_id = ANY($1)`, recipients); err != nil {
		return fmt.Errorf("coverage: %w", err)
	}
	return copyCoverage(ctx, db, out)
}

// buildFromRows builds the coverage rows of notice rows ordered by
// beneficiary.
func buildFromRows(rows pgx.Rows) ([][]any, error) {
	defer rows.Close()
	var out [][]any
	var group []*NoticeFacts
	flush := func() {
		for _, c := range BuildCoverage(group) {
			out = append(out, c.values())
		}
		group = group[:0]
	}
	for rows.Next() {
		n, err := scanNoticeFacts(rows)
		if err != nil {
			return nil, err
		}
		if len(group) > 0 && group[0].RecipientID != n.RecipientID {
			flush()
		}
		group = append(group, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("coverage: read notices: %w", err)
	}
	flush()
	return out, nil
}

func copyCoverage(ctx context.Context, db coverageDB, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := db.CopyFrom(ctx, pgx.Identifier{"proj_coverage"}, coverageColumnList, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("coverage: write: %w", err)
	}
	return nil
}

// RebuildCoverage recomputes the whole coverage projection from the notice
// projection, beneficiary range by beneficiary range: the back-fill of a
// database sealed before the projection existed (Seal runs it while the
// proj_coverage_rebuild marker is present), and the bench's seeding.
func RebuildCoverage(ctx context.Context, db coverageDB) (int64, error) {
	if _, err := db.Exec(ctx, `DELETE FROM proj_coverage`); err != nil {
		return 0, fmt.Errorf("coverage: %w", err)
	}
	var lo, hi *int64
	if err := db.QueryRow(ctx, `SELECT min(recipient_id), max(recipient_id) FROM proj_notices`).Scan(&lo, &hi); err != nil {
		return 0, fmt.Errorf("coverage: %w", err)
	}
	var n int64
	const step = 20_000
	for from := int64(0); lo != nil && from <= *hi; from += step {
		if from+step <= *lo {
			from = *lo / step * step
		}
		rows, err := db.Query(ctx, coverageNoticesSQL+` AND recipient_id >= $1 AND recipient_id < $2 ORDER BY recipient_id`, from, from+step)
		if err != nil {
			return n, fmt.Errorf("coverage: read notices: %w", err)
		}
		out, err := buildFromRows(rows)
		if err != nil {
			return n, err
		}
		if err := copyCoverage(ctx, db, out); err != nil {
			return n, err
		}
		n += int64(len(out))
	}
	return n, nil
}

// rebuildCoverageIfMarked runs RebuildCoverage once after migration 0090
// (or after an operator asks for it by inserting the marker row).
func rebuildCoverageIfMarked(ctx context.Context, tx pgx.Tx) error {
	var marked bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM proj_coverage_rebuild)`).Scan(&marked); err != nil {
		return fmt.Errorf("coverage: %w", err)
	}
	if !marked {
		return nil
	}
	if _, err := RebuildCoverage(ctx, tx); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM proj_coverage_rebuild`)
	return err
}

// coverageRecipients lists the beneficiaries whose coverage the touched
// notices may change.
func (p *Projection) coverageRecipients() []int64 {
	seen := map[int64]bool{}
	var out []int64
	for id := range p.touchedNotices {
		n := p.Notices[id]
		if n == nil || n.RecipientID == 0 || seen[n.RecipientID] || !(PersonalKinds[n.Kind] || n.Kind == GeneralKind) {
			continue
		}
		seen[n.RecipientID] = true
		out = append(out, n.RecipientID)
	}
	slices.Sort(out)
	return out
}

// diffCoverage names the first field in which stored differs from want.
func diffCoverage(stored, want *Coverage) string {
	tsEq := func(a, b []time.Time) bool {
		return slices.EqualFunc(a, b, func(x, y time.Time) bool { return x.Equal(y) })
	}
	switch {
	case stored.Recipient != want.Recipient || stored.Cafs != want.Cafs:
		return fmt.Sprintf("beneficiary number or Caf count is %s/%d, sealed events say %s/%d", stored.Recipient, stored.Cafs, want.Recipient, want.Cafs)
	case !tsEq(stored.PersonalAt, want.PersonalAt) || !slices.Equal(stored.PersonalNotice, want.PersonalNotice):
		return fmt.Sprintf("personalised notices delivered are %v at %s, sealed events say %v at %s",
			stored.PersonalNotice, fmtTimes(stored.PersonalAt), want.PersonalNotice, fmtTimes(want.PersonalAt))
	case !tsEq(stored.PersonalUntil, want.PersonalUntil):
		return fmt.Sprintf("covered until %s, sealed events say %s", fmtTimes(stored.PersonalUntil), fmtTimes(want.PersonalUntil))
	case !slices.Equal(stored.PersonalEvidence, want.PersonalEvidence):
		return fmt.Sprintf("personalised notices' evidence is %v, sealed events say %v", stored.PersonalEvidence, want.PersonalEvidence)
	case !tsEq(stored.SpanFrom, want.SpanFrom) || !tsEq(stored.SpanUntil, want.SpanUntil):
		return fmt.Sprintf("coverage spans start %s and end %s, sealed events say %s and %s",
			fmtTimes(stored.SpanFrom), fmtTimes(stored.SpanUntil), fmtTimes(want.SpanFrom), fmtTimes(want.SpanUntil))
	case !slices.Equal(stored.Years, want.Years) || !slices.Equal(stored.YearCount, want.YearCount):
		return fmt.Sprintf("general mailings per year are %v: %v, sealed events say %v: %v", stored.Years, stored.YearCount, want.Years, want.YearCount)
	case !slices.Equal(stored.EvidenceYear, want.EvidenceYear) || !slices.Equal(stored.EvidenceLevel, want.EvidenceLevel) ||
		!slices.Equal(stored.EvidenceCount, want.EvidenceCount):
		return fmt.Sprintf("general mailings' evidence is %v %v %v, sealed events say %v %v %v", stored.EvidenceYear, stored.EvidenceLevel,
			stored.EvidenceCount, want.EvidenceYear, want.EvidenceLevel, want.EvidenceCount)
	case !timeEq(stored.LastAt, want.LastAt):
		return fmt.Sprintf("last delivery is %s, sealed events say %s", fmtTime(stored.LastAt), fmtTime(want.LastAt))
	}
	return ""
}

func fmtTimes(ts []time.Time) string {
	s := "["
	for i, t := range ts {
		if i > 0 {
			s += " "
		}
		s += t.UTC().Format(time.RFC3339Nano)
	}
	return s + "]"
}

// compareCoverage compares the stored coverage projection with the one
// rebuilt from proj (the notices recomputed from the sealed events), in
// beneficiary order, and names the first differing beneficiary.
func compareCoverage(ctx context.Context, db interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, proj *Projection, res *VerifyResult, add func(Break) bool) error {
	byRecipient := map[int64][]*NoticeFacts{}
	for _, n := range proj.Notices {
		if coverageRelevant(n) {
			byRecipient[n.RecipientID] = append(byRecipient[n.RecipientID], n)
		}
	}
	ids := make([]int64, 0, len(byRecipient))
	for id := range byRecipient {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var want []*Coverage
	for _, id := range ids {
		want = append(want, BuildCoverage(byRecipient[id])...)
	}
	rows, err := db.Query(ctx, `SELECT `+coverageColumns+` FROM proj_coverage ORDER BY recipient_id, caf, mode`)
	if err != nil {
		return fmt.Errorf("verify: read coverage projection: %w", err)
	}
	defer rows.Close()
	name := func(c *Coverage) string {
		return fmt.Sprintf("beneficiary %s (recipient %d), Caf %q, %s evidence", orNone(c.Recipient), c.RecipientID, c.Caf, c.Mode)
	}
	less := func(a, b *Coverage) bool {
		if a.RecipientID != b.RecipientID {
			return a.RecipientID < b.RecipientID
		}
		if a.Caf != b.Caf {
			return a.Caf < b.Caf
		}
		return a.Mode < b.Mode
	}
	i := 0
	for rows.Next() {
		stored, err := scanCoverage(rows)
		if err != nil {
			return err
		}
		res.Coverage++
		for i < len(want) && less(want[i], stored) {
			if !add(Break{Kind: BreakProjection, Detail: "coverage projection: " + name(want[i]) + ": row missing for delivered notices"}) {
				return nil
			}
			i++
		}
		if i < len(want) && !less(stored, want[i]) {
			if d := diffCoverage(stored, want[i]); d != "" {
				if !add(Break{Kind: BreakProjection, Detail: "coverage projection: " + name(stored) + ": " + d}) {
					return nil
				}
			}
			i++
			continue
		}
		if !add(Break{Kind: BreakProjection, Detail: "coverage projection: " + name(stored) + ": no sealed delivered notice supports this row"}) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify: read coverage projection: %w", err)
	}
	for ; i < len(want); i++ {
		if !add(Break{Kind: BreakProjection, Detail: "coverage projection: " + name(want[i]) + ": row missing for delivered notices"}) {
			return nil
		}
	}
	return nil
}
