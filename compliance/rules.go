package compliance

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courrier-dev/courrier/ledger"
)

// RuleFunc computes one rule's report over a period.
type RuleFunc func(ctx context.Context, db DB, p Period) (*Report, error)

// Rule is one promise of the agency's national quality baseline, as code.
type Rule struct {
	Name   string
	Title  string
	Target string
	// Help explains how the rule is computed, for --help and the README.
	Help string
	Run  RuleFunc
}

// Rule names.
const (
	RuleYearlyNotice    = "yearly-notice"
	RuleGeneralMailings = "general-mailings"
	RuleAcknowledgement = "acknowledgement"
	RuleAnswer15d       = "answer-15d"
	RuleMinimumIncome   = "minimum-income-10d"
	RuleComplaints15d   = "complaints-15d"
)

// Rules is the registry of every rule, by name.
var Rules map[string]Rule

func init() { Rules = rules() }

func rules() map[string]Rule {
	return map[string]Rule{
		RuleYearlyNotice: {RuleYearlyNotice, "Personalised notice at least once a year",
			"every active beneficiary covered (100 %)",
			`A beneficiary is covered at instant D if a personalised notice (rights_opened, rights_changed,
no_rights, yearly_statement) delivered at t <= D still covers D, i.e. D < t + 12 months (calendar
months in Paris time: 2027-06-01 10:00 covers until 2028-06-01 10:00, 366 days across 29 February;
a notice of 29 February covers until 28 February). The requirement starts at
max(period start, joined_at + 12 months); "covered" means covered at every instant from then to
the period end. Beneficiaries whose requirement starts after the period are "not_yet_due".
"At risk": due within 30x24h after the period end and not covered by then unless a new notice is
delivered. Active = recipients.active now; test notices never count.`,
			YearlyNotice},
		RuleGeneralMailings: {RuleGeneralMailings, "Three general mailings a calendar year",
			">= 3 delivered general_information notices per beneficiary per calendar year",
			`For each Paris calendar year touching the period, delivered general_information notices are
counted per active beneficiary (deliveries up to as-of). The target applies to beneficiaries who
joined on or before 1 January of that year (whole year); those who joined during the year are not
prorated: they are counted and listed separately and do not decide pass/fail. A year not finished
at as-of is reported but cannot pass.`,
			GeneralMailings},
		RuleAcknowledgement: {RuleAcknowledgement, "Acknowledge online requests within 5 days",
			"100 % of online requests acknowledged within 5x24h",
			`Online requests (channel = online, complaints included) received in the period. Acknowledged in
time: the ack notice's delivered_at - received_at <= 5x24h (exactly 5 days passes, 5 days + 1 s
does not). Late: acknowledged after that. Overdue: not acknowledged at as-of with the deadline
passed. Pending: not acknowledged, deadline not passed (not judged). Share = in time / (in time +
late + overdue). Median and 95th percentile delays are over acknowledged requests.`,
			Acknowledgement},
		RuleAnswer15d: {RuleAnswer15d, "Answer requests within 15 days in at least 85 % of cases",
			">= 85 % answered within 15x24h",
			`Requests that are neither complaints nor minimum-income requests, received in the period.
Answered at the answer notice's delivered_at. In time: delivered_at - received_at <= 15x24h.
Share = in time / (in time + late + overdue); passes when in_time x 100 >= 85 x judged (integer
arithmetic: exactly 85 % passes).`,
			Answer15d},
		RuleMinimumIncome: {RuleMinimumIncome, "Answer minimum-income requests within 10 days in at least 90 % of cases",
			">= 90 % answered within 10x24h",
			`Minimum-income requests (requests.minimum_income, complaints excluded) received in the period,
as answer-15d but with 10x24h and 90 % (exactly 90 % passes).`,
			MinimumIncome10d},
		RuleComplaints15d: {RuleComplaints15d, "Answer complaints within 15 days",
			"100 % of complaints answered within 15x24h",
			`Complaints (requests.kind = complaint) received in the period, as answer-15d with a 100 % target:
a single late or overdue complaint fails the rule.`,
			Complaints15d},
	}
}

// RuleNames lists the rule names in a stable order.
func RuleNames() []string {
	names := []string{RuleYearlyNotice, RuleGeneralMailings, RuleAcknowledgement, RuleAnswer15d, RuleMinimumIncome, RuleComplaints15d}
	if len(names) != len(Rules) {
		names = names[:0]
		for n := range Rules {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	return names
}

// Run computes the named rule's report.
func Run(ctx context.Context, db DB, rule string, p Period) (*Report, error) {
	r, ok := Rules[rule]
	if !ok {
		return nil, fmt.Errorf("%w: unknown rule %q (rules: %v)", ErrInvalid, rule, RuleNames())
	}
	// Given a pool, a report runs in one read-only snapshot with memory
	// enough for its sorts and hashes: at a million beneficiaries the
	// default 4 MB spills them to disk.
	if b, ok := db.(interface {
		Begin(context.Context) (pgx.Tx, error)
	}); ok {
		tx, err := b.Begin(ctx)
		if err != nil {
			return nil, err
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '256MB'`); err != nil {
			return nil, err
		}
		// JIT compiles a report's expressions for seconds (3 s of a 9 s
		// yearly report at a million beneficiaries) to save less.
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return nil, err
		}
		if err := setScope(ctx, tx, p); err != nil {
			return nil, err
		}
		return r.Run(ctx, tx, p)
	}
	if err := setScope(ctx, db, p); err != nil {
		return nil, err
	}
	return r.Run(ctx, db, p)
}

// NoCaf names, in a Caf filter, the beneficiaries with no Caf recorded.
const NoCaf = "none"

// RunByCaf computes the named rule's national report and its per-Caf
// breakdown: the rule run again for each Caf of the registry.
func RunByCaf(ctx context.Context, db DB, rule string, p Period) (*Report, error) {
	p.Cafs = nil
	rep, err := Run(ctx, db, rule, p)
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `
		SELECT DISTINCT coalesce(nullif(caf, ''), '`+NoCaf+`') FROM recipients
		UNION SELECT DISTINCT coalesce(nullif(caf, ''), '`+NoCaf+`') FROM proj_requests ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list Cafs: %w", err)
	}
	cafs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list Cafs: %w", err)
	}
	for _, caf := range cafs {
		q := p
		q.Cafs = []string{caf}
		r, err := Run(ctx, db, rule, q)
		if err != nil {
			return nil, fmt.Errorf("report for Caf %s: %w", caf, err)
		}
		rep.ByCaf = append(rep.ByCaf, CafReport{Caf: caf, Pass: r.Pass, Metrics: r.Metrics})
	}
	return rep, nil
}

// setScope gives the report's SQL its accepted evidence levels and Cafs.
func setScope(ctx context.Context, db DB, p Period) error {
	_, err := db.Exec(ctx, `SELECT set_config('courrier.accept', $1, true), set_config('courrier.cafs', $2, true)`,
		strings.Join(p.accepted(), ","), strings.Join(p.Cafs, ","))
	return err
}

func newReport(name string, p Period) *Report {
	r := Rules[name]
	p.AsOf = p.asOf()
	p.Accept = p.accepted()
	return &Report{Rule: name, Title: r.Title, Target: r.Target, Period: p, GeneratedAt: time.Now().UTC(), Source: SourceNotices}
}

// acceptSQL is the array of evidence levels the report accepts, and
// cafsSQL the Cafs it is restricted to (empty: all); Run sets both for the
// report's transaction.
const (
	acceptSQL = `string_to_array(current_setting('courrier.accept', true), ',')`
	cafsSQL   = `coalesce(current_setting('courrier.cafs', true), '')`
)

// inCafs is the SQL condition that col is one of the report's Cafs.
func inCafs(col string) string {
	return `(` + cafsSQL + ` = '' OR coalesce(nullif(` + col + `, ''), '` + NoCaf + `') = ANY(string_to_array(` + cafsSQL + `, ',')))`
}

// noticesSQL is every notice as its sealed events establish it (the
// projection proj_notices, which the sealer writes and verify recomputes):
// delivered_at is its first evidence of a level the report accepts, and
// evidence names that level.
var noticesSQL = `SELECT p.notice_id AS id, p.recipient_id, p.kind, p.test, p.caf,
	least(CASE WHEN p.proven_level = ANY(` + acceptSQL + `) THEN p.proven_at END,
	      CASE WHEN p.weak_level = ANY(` + acceptSQL + `) THEN p.weak_at END) AS delivered_at,
	CASE WHEN p.proven_level = ANY(` + acceptSQL + `)
	          AND (p.weak_at IS NULL OR NOT p.weak_level = ANY(` + acceptSQL + `) OR p.proven_at <= p.weak_at) THEN p.proven_level
	     WHEN p.weak_level = ANY(` + acceptSQL + `) THEN p.weak_level
	     WHEN p.weak_level <> '' THEN p.weak_level || ' (not accepted)'
	     ELSE 'none' END AS evidence
FROM proj_notices p WHERE ` + inCafs("p.caf")

// plus12 is the SQL for x + 12 calendar months in Paris time.
func plus12(x string) string {
	return "((" + x + ") AT TIME ZONE 'Europe/Paris' + interval '12 months') AT TIME ZONE 'Europe/Paris'"
}

const personalKinds = `('rights_opened', 'rights_changed', 'no_rights', 'yearly_statement')`

// yearlyBenSQL is the beneficiaries the yearly-notice rule judges.
var yearlyBenSQL = `
WITH ben AS (
	SELECT r.id, r.ref, ` + plus12("r.joined_at") + ` AS due_from,
	       greatest($1::timestamptz, ` + plus12("r.joined_at") + `) AS req_from
	FROM recipients r WHERE r.active AND NOT r.test AND r.joined_at < $2 AND ` + inCafs("r.caf") + `
)`

// yearlyTail turns st (ref, due_from, last_until, status, lapsed_at)
// into the report's rows: the counts in one pass, then the two lists.
const yearlyTail = `, fin AS (
	SELECT ref, status, lapsed_at, due_from, last_until,
	       status <> 'not_covered' AND due_from < $3 AND coalesce(last_until, '-infinity') < $3 AS at_risk FROM st
), totals AS (
	SELECT count(*) FILTER (WHERE status = 'covered') AS covered, count(*) FILTER (WHERE status = 'not_covered') AS not_covered,
	       count(*) FILTER (WHERE status = 'not_yet_due') AS not_yet_due, count(*) FILTER (WHERE at_risk) AS at_risk
	FROM fin
)
SELECT 'count', x.k, NULL, NULL, NULL::timestamptz, x.v FROM totals,
	LATERAL (VALUES ('covered', covered), ('not_covered', not_covered), ('not_yet_due', not_yet_due),
	                ('due', covered + not_covered), ('at_risk', at_risk),
	                ('covered_bp', CASE WHEN covered + not_covered = 0 THEN 10000 ELSE covered * 10000 / (covered + not_covered) END)) AS x(k, v)
UNION ALL (SELECT 'list', 'not_covered', ref, NULL, lapsed_at, NULL FROM fin WHERE status = 'not_covered' ORDER BY ref)
UNION ALL (SELECT 'list', 'at_risk', ref, NULL, greatest(due_from, coalesce(last_until, due_from)), NULL FROM fin WHERE at_risk ORDER BY ref)`

// yearlyFromNotices computes the yearly-notice rule from the notice
// projection: every personalised notice of the period, with a window
// function per beneficiary. Any accepted evidence, any as-of.
var yearlyFromNotices = yearlyBenSQL + `, dn AS (
	SELECT n.id, n.recipient_id, n.delivered_at AS at, ` + plus12("n.delivered_at") + ` AS until, n.evidence AS ev
	FROM (` + noticesSQL + `) n
	WHERE n.delivered_at IS NOT NULL AND NOT n.test AND n.kind IN ` + personalKinds + `
	  AND n.delivered_at > $1::timestamptz - interval '13 months' AND n.delivered_at < $2 AND n.delivered_at <= $4
), seq AS (
	SELECT dn.*, lag(dn.until) OVER (PARTITION BY dn.recipient_id ORDER BY dn.at, dn.id) AS prev_until
	FROM dn JOIN ben b ON b.id = dn.recipient_id
	WHERE dn.until > b.req_from
), agg AS (
	SELECT recipient_id, min(at) AS first_at, max(until) AS last_until,
	       min(prev_until) FILTER (WHERE at > prev_until) AS gap_from
	FROM seq GROUP BY recipient_id
), st AS (
	SELECT b.ref, b.due_from, b.req_from, a.last_until,
	       CASE WHEN b.req_from >= $2 THEN 'not_yet_due'
	            WHEN a.first_at IS NULL OR a.first_at > b.req_from THEN 'not_covered'
	            WHEN a.gap_from IS NOT NULL THEN 'not_covered'
	            WHEN a.last_until < $2 THEN 'not_covered'
	            ELSE 'covered' END AS status,
	       CASE WHEN b.req_from >= $2 THEN NULL
	            WHEN a.first_at IS NULL OR a.first_at > b.req_from THEN b.req_from
	            WHEN a.gap_from IS NOT NULL THEN a.gap_from
	            WHEN a.last_until < $2 THEN a.last_until END AS lapsed_at
	FROM ben b LEFT JOIN agg a ON a.recipient_id = b.id
)` + yearlyTail + `
UNION ALL ` + evidenceCounts(`SELECT DISTINCT id AS nid, ev FROM seq`)

// yearlyFromCoverage computes the same rule from the coverage projection
// ($4 is its mode), one row per beneficiary and binary searches in its
// sorted arrays: k is the last coverage span starting at or before
// req_from, i0 the last personalised notice whose coverage ends at or
// before req_from, i1 the last one delivered before the period's end (so
// notices i0+1..i1 are those the notice-based query walks). A span that
// holds req_from and ends at or after the period's end covers it, whatever
// was delivered after the end, since later notices only extend coverage
// from their delivery on.
var yearlyFromCoverage = yearlyBenSQL + `, bc AS (
	SELECT b.ref, b.due_from, b.req_from, c.personal_until, c.span_until,
	       width_bucket(b.req_from, c.span_from) AS k,
	       width_bucket(b.req_from, c.personal_until) AS i0,
	       width_bucket($2::timestamptz - interval '1 microsecond', c.personal_at) AS i1,
	       c.personal_evidence
	FROM ben b LEFT JOIN proj_coverage c ON c.recipient_id = b.id AND c.mode = $4 AND ` + inCafs("c.caf") + `
), st AS (
	SELECT ref, due_from, CASE WHEN i1 > i0 THEN personal_until[i1] END AS last_until,
	       CASE WHEN req_from >= $2 THEN 'not_yet_due'
	            WHEN coalesce(k, 0) = 0 OR span_until[k] <= req_from THEN 'not_covered'
	            WHEN span_until[k] < $2 THEN 'not_covered'
	            ELSE 'covered' END AS status,
	       CASE WHEN req_from >= $2 THEN NULL
	            WHEN coalesce(k, 0) = 0 OR span_until[k] <= req_from THEN req_from
	            WHEN span_until[k] < $2 THEN span_until[k] END AS lapsed_at,
	       CASE WHEN i1 > i0 THEN personal_evidence[i0 + 1:i1] END AS ev
	FROM bc
)` + yearlyTail + `
UNION ALL ` + evidenceByLevel("st", "ev")

// evidenceByLevel counts, in one pass over from, the evidence levels in
// its text[] column col, one row per level present (an unnest per row
// costs seconds at a million beneficiaries).
func evidenceByLevel(from, col string) string {
	sums, values := "", ""
	for i, lvl := range knownLevels() {
		if i > 0 {
			sums += ", "
			values += ", "
		}
		sums += fmt.Sprintf("sum(cardinality(array_positions(%s, '%s'))) AS e%d", col, lvl, i)
		values += fmt.Sprintf("('%s', e%d)", lvl, i)
	}
	return `SELECT 'evidence', x.l, NULL, NULL, NULL, x.n FROM (SELECT ` + sums + ` FROM ` + from + `) s,
	LATERAL (VALUES ` + values + `) AS x(l, n) WHERE x.n > 0`
}

// national drops the Caf conditions from a report's SQL when it covers
// every Caf: the planner cannot estimate them (they read a setting) and
// then walks a million beneficiaries by index instead of hashing them.
func national(sql string, p Period, cols ...string) string {
	if len(p.Cafs) > 0 {
		return sql
	}
	for _, c := range cols {
		sql = strings.ReplaceAll(sql, inCafs(c), "true")
	}
	return sql
}

// YearlyNotice computes the yearly-notice rule (see Rules for the definition).
func YearlyNotice(ctx context.Context, db DB, p Period) (*Report, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	r := newReport(RuleYearlyNotice, p)
	horizon := p.To.Add(30 * 24 * time.Hour)
	mode, err := coverageMode(ctx, db, r.Period)
	if err != nil {
		return nil, err
	}
	sql, args := yearlyFromNotices, []any{p.From, p.To, horizon, r.Period.AsOf}
	if mode != "" {
		sql, args = national(yearlyFromCoverage, p, "r.caf", "c.caf"), []any{p.From, p.To, horizon, mode}
		r.Source = SourceCoverage
	}
	specs := []Metric{{Name: "beneficiaries_due", Unit: UnitCount}, {Name: "covered", Unit: UnitCount},
		{Name: "not_covered", Unit: UnitCount}, {Name: "covered_share", Unit: UnitBasisPoints},
		{Name: "at_risk", Unit: UnitCount}, {Name: "not_yet_due", Unit: UnitCount}}
	lists := []List{
		{Name: "not_covered", Help: "beneficiaries without a covering notice at some instant of the period; at = first uncovered instant"},
		{Name: "at_risk", Help: "beneficiaries whose coverage lapses within 30 days after the period; at = when it lapses"},
	}
	if err := collect(ctx, db, r, nil, lists, sql, args...); err != nil {
		return nil, err
	}
	// The SQL names (due, covered_bp) become the documented metric names.
	counts := map[string]int64{}
	for _, m := range r.Metrics {
		counts[m.Name] = m.Value
	}
	counts["beneficiaries_due"], counts["covered_share"] = counts["due"], counts["covered_bp"]
	r.Metrics = nil
	for _, m := range specs {
		m.Value = counts[m.Name]
		r.Metrics = append(r.Metrics, m)
	}
	r.Pass = counts["not_covered"] == 0
	return r, nil
}

// generalHead is the Paris years of the period and the beneficiaries the
// general-mailings rule judges in each.
var generalHead = `
WITH years AS (
	SELECT y, make_timestamptz(y, 1, 1, 0, 0, 0, 'Europe/Paris') AS ys, make_timestamptz(y + 1, 1, 1, 0, 0, 0, 'Europe/Paris') AS ye
	FROM generate_series(extract(year FROM $1::timestamptz AT TIME ZONE 'Europe/Paris')::int,
	                     extract(year FROM ($2::timestamptz - interval '1 microsecond') AT TIME ZONE 'Europe/Paris')::int) AS y
), ben AS (
	SELECT y.y, r.id, r.ref, r.joined_at <= y.ys AS full_year
	FROM years y JOIN recipients r ON r.active AND r.joined_at < y.ye AND ` + inCafs("r.caf") + `
)`

// generalTail turns f (y, ref, full_year, c = mailings received) into the
// report's rows; delivered counts every delivered general mailing of the
// years and evidence counts them by evidence level.
func generalTail(delivered, evidence string) string {
	return `), g AS (
	SELECT y, count(*) FILTER (WHERE full_year) AS full_year,
	       count(*) FILTER (WHERE full_year AND c >= 3) AS met,
	       count(*) FILTER (WHERE full_year AND c < 3) AS below,
	       count(*) FILTER (WHERE full_year AND c = 0) AS got0,
	       count(*) FILTER (WHERE full_year AND c = 1) AS got1,
	       count(*) FILTER (WHERE full_year AND c = 2) AS got2,
	       count(*) FILTER (WHERE NOT full_year) AS mid,
	       count(*) FILTER (WHERE NOT full_year AND c < 3) AS mid_below
	FROM f GROUP BY y
)
SELECT 'count', g.y || '.' || k, NULL, NULL, NULL::timestamptz, v FROM g,
	LATERAL (VALUES ('whole_year_beneficiaries', full_year), ('met_target', met), ('below_target', below),
	                ('received_0', got0), ('received_1', got1), ('received_2', got2),
	                ('joined_mid_year', mid), ('joined_mid_year_below_3', mid_below)) AS x(k, v)
UNION ALL SELECT 'count', 'below_target', NULL, NULL, NULL, count(*) FROM f WHERE full_year AND c < 3
UNION ALL SELECT 'count', 'whole_year_beneficiaries', NULL, NULL, NULL, count(*) FROM f WHERE full_year
UNION ALL SELECT 'count', 'delivered_general_mailings', NULL, NULL, NULL, ` + delivered + `
UNION ALL (SELECT 'list', 'below_target', ref, y::text, NULL, c FROM f WHERE full_year AND c < 3 ORDER BY y, ref)
UNION ALL (SELECT 'list', 'joined_mid_year', ref, y::text, NULL, c FROM f WHERE NOT full_year ORDER BY y, ref)
UNION ALL ` + evidence
}

// generalFromNotices computes the general-mailings rule from the notice
// projection: any accepted evidence, any as-of ($3).
var generalFromNotices = generalHead + `, counted AS (
	SELECT y.y, n.id, n.recipient_id, n.evidence AS ev
	FROM years y JOIN (` + noticesSQL + `) n ON n.delivered_at >= y.ys AND n.delivered_at < y.ye
	WHERE n.delivered_at IS NOT NULL AND NOT n.test AND n.kind = 'general_information' AND n.delivered_at <= $3
), cnt AS (
	SELECT y, recipient_id, count(*) AS c FROM counted GROUP BY y, recipient_id
), f AS (
	SELECT b.*, coalesce(c.c, 0) AS c FROM ben b LEFT JOIN cnt c ON c.y = b.y AND c.recipient_id = b.id
` + generalTail(`count(*) FROM counted`, evidenceCounts(`SELECT id AS nid, ev FROM counted`))

// generalFromCoverage computes it from the coverage projection ($3 is its
// mode): each beneficiary's mailings of the year are one array look-up.
var generalFromCoverage = generalHead + `, cov AS (
	SELECT c.recipient_id, c.years, c.year_count, c.evidence_year, c.evidence_level, c.evidence_count
	FROM proj_coverage c WHERE c.mode = $3 AND ` + inCafs("c.caf") + ` AND c.years && ARRAY(SELECT y FROM years)
), f AS (
	SELECT b.*, coalesce(c.year_count[array_position(c.years, b.y)], 0) AS c FROM ben b LEFT JOIN cov c ON c.recipient_id = b.id
` + generalTail(`coalesce(sum(c.year_count[array_position(c.years, y.y)]), 0) FROM cov c CROSS JOIN years y`,
	evidenceByYearLevel())

// evidenceByYearLevel counts the general mailings of the period's years by
// evidence level from the coverage rows, with array look-ups only: a row's
// (year, level) entries are sorted, so a year's levels are the slice
// f..f+n-1 of evidence_level.
func evidenceByYearLevel() string {
	sums, values := "", ""
	for i, lvl := range knownLevels() {
		if i > 0 {
			sums += ", "
			values += ", "
		}
		sums += fmt.Sprintf("sum(evidence_count[f - 1 + array_position(evidence_level[f:f + n - 1], '%s')]) AS e%d", lvl, i)
		values += fmt.Sprintf("('%s', e%d)", lvl, i)
	}
	return `SELECT 'evidence', x.l, NULL, NULL, NULL, x.n FROM (SELECT ` + sums + ` FROM (
		SELECT c.evidence_count, c.evidence_level, array_position(c.evidence_year, y.y) AS f, cardinality(array_positions(c.evidence_year, y.y)) AS n
		FROM cov c CROSS JOIN years y) ey WHERE f IS NOT NULL) s,
	LATERAL (VALUES ` + values + `) AS x(l, n) WHERE x.n > 0`
}

// GeneralMailings computes the general-mailings rule.
func GeneralMailings(ctx context.Context, db DB, p Period) (*Report, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	r := newReport(RuleGeneralMailings, p)
	mode, err := coverageMode(ctx, db, r.Period)
	if err != nil {
		return nil, err
	}
	sql, args := generalFromNotices, []any{p.From, p.To, r.Period.AsOf}
	if mode != "" {
		sql, args = national(generalFromCoverage, p, "r.caf", "c.caf"), []any{p.From, p.To, mode}
		r.Source = SourceCoverage
	}
	specs := []Metric{{Name: "whole_year_beneficiaries", Unit: UnitCount}, {Name: "below_target", Unit: UnitCount},
		{Name: "delivered_general_mailings", Unit: UnitCount}}
	lists := []List{
		{Name: "below_target", Help: "whole-year beneficiaries with fewer than 3 delivered general mailings; item = year, value = mailings"},
		{Name: "joined_mid_year", Help: "beneficiaries who joined during the year (not prorated, not judged); item = year, value = mailings"},
	}
	if err := collect(ctx, db, r, specs, lists, sql, args...); err != nil {
		return nil, err
	}
	below, _ := r.Metric("below_target")
	r.Pass = below == 0
	// A year still running at as-of cannot pass yet.
	for y := p.From.In(Paris).Year(); y <= p.To.Add(-time.Microsecond).In(Paris).Year(); y++ {
		end := time.Date(y+1, 1, 1, 0, 0, 0, 0, Paris)
		if end.After(r.Period.AsOf) {
			r.Pass = false
			r.Notes = append(r.Notes, fmt.Sprintf("year %d is not over at as-of %s: counts so far, final from %s", y, r.Period.AsOf.Format(time.RFC3339), end.Format(time.DateOnly)))
		}
	}
	return r, nil
}

// requestRule is the shape shared by the four request rules.
type requestRule struct {
	name      string
	filter    string // SQL condition on requests q
	noticeCol string // ack_notice_id or answer_notice_id
	limit     time.Duration
	targetPct int64
}

func (rr requestRule) run(ctx context.Context, db DB, p Period) (*Report, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	r := newReport(rr.name, p)
	sql := `
WITH q AS (
	SELECT q.request AS external_id, q.recipient AS ref, q.received_at, q.received_at + make_interval(secs => $3) AS deadline,
	       n.id AS notice_id, n.delivered_at, n.evidence AS ev
	FROM proj_requests q
	LEFT JOIN LATERAL (` + noticesSQL + ` AND p.notice_id = q.` + rr.noticeCol + `) n ON n.delivered_at IS NOT NULL AND n.delivered_at <= $4
	WHERE q.received_at >= $1 AND q.received_at < $2 AND ` + rr.filter + ` AND ` + inCafs("q.caf") + `
), s AS (
	SELECT *, CASE WHEN delivered_at IS NOT NULL AND delivered_at <= deadline THEN 'in_time'
	               WHEN delivered_at IS NOT NULL THEN 'late'
	               WHEN deadline < $4 THEN 'overdue'
	               ELSE 'pending' END AS status,
	       extract(epoch FROM delivered_at - received_at) AS delay
	FROM q
)
SELECT 'count', status, NULL, NULL, NULL::timestamptz, count(*) FROM s GROUP BY status
UNION ALL SELECT 'count', 'received', NULL, NULL, NULL, count(*) FROM s
UNION ALL SELECT 'count', 'median_delay', NULL, NULL, NULL, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY delay))::bigint FROM s WHERE delay IS NOT NULL
UNION ALL SELECT 'count', 'p95_delay', NULL, NULL, NULL, round(percentile_cont(0.95) WITHIN GROUP (ORDER BY delay))::bigint FROM s WHERE delay IS NOT NULL
UNION ALL SELECT 'count', 'max_delay', NULL, NULL, NULL, ceil(max(delay))::bigint FROM s WHERE delay IS NOT NULL
UNION ALL (SELECT 'list', 'late', ref, external_id, delivered_at, ceil(delay)::bigint FROM s WHERE status = 'late' ORDER BY ref, external_id)
UNION ALL (SELECT 'list', 'overdue', ref, external_id, deadline, NULL FROM s WHERE status = 'overdue' ORDER BY ref, external_id)
UNION ALL SELECT 'evidence', ev, NULL, NULL, NULL, count(*) FROM s WHERE delivered_at IS NOT NULL GROUP BY ev`
	specs := []Metric{{Name: "received", Unit: UnitCount}, {Name: "judged", Unit: UnitCount},
		{Name: "in_time", Unit: UnitCount}, {Name: "late", Unit: UnitCount}, {Name: "overdue", Unit: UnitCount},
		{Name: "pending", Unit: UnitCount}, {Name: "in_time_share", Unit: UnitBasisPoints},
		{Name: "median_delay", Unit: UnitSeconds}, {Name: "p95_delay", Unit: UnitSeconds}, {Name: "max_delay", Unit: UnitSeconds}}
	lists := []List{
		{Name: "late", Help: "answered after the deadline; item = request id, at = delivered, value = delay in seconds"},
		{Name: "overdue", Help: "not answered at as-of, deadline passed; item = request id, at = deadline"},
	}
	if err := collect(ctx, db, r, specs, lists, sql, p.From, p.To, rr.limit.Seconds(), r.Period.AsOf); err != nil {
		return nil, err
	}
	in, _ := r.Metric("in_time")
	late, _ := r.Metric("late")
	over, _ := r.Metric("overdue")
	judged := in + late + over
	share := int64(10000)
	if judged > 0 {
		share = in * 10000 / judged
	} else {
		r.Notes = append(r.Notes, "no request of the period can be judged yet: passes vacuously")
	}
	for i := range r.Metrics {
		switch r.Metrics[i].Name {
		case "judged":
			r.Metrics[i].Value = judged
		case "in_time_share":
			r.Metrics[i].Value = share
		}
	}
	// Integer comparison: exactly the target passes, no float rounding.
	r.Pass = in*100 >= rr.targetPct*judged
	return r, nil
}

// Sources a report can be computed from (Report.Source).
const (
	SourceNotices  = "proj_notices"
	SourceCoverage = "proj_coverage"
)

type fromNoticesKey struct{}

// FromNotices returns a context in which the rules read the notice
// projection even where the coverage projection could serve: the
// reference the coverage is compared with (tests, the bench).
func FromNotices(ctx context.Context) context.Context {
	return context.WithValue(ctx, fromNoticesKey{}, true)
}

// coverageMode returns the coverage projection's mode that gives the
// report exactly what the notice projection gives, or "" when there is
// none: the accepted evidence must be the default (proven levels) or every
// level; no delivery in the projection may be after the as-of instant
// (the projection holds every sealed delivery); and a report over several
// Cafs needs every beneficiary's notices under one Caf (a row per Caf
// would count a beneficiary twice).
func coverageMode(ctx context.Context, db DB, p Period) (string, error) {
	if ctx.Value(fromNoticesKey{}) != nil {
		return "", nil
	}
	acc := slices.Clone(p.accepted())
	slices.Sort(acc)
	acc = slices.Compact(acc)
	var mode string
	switch {
	case slices.Equal(acc, DefaultAccepted()):
		mode = ledger.CoverageProven
	case slices.Equal(acc, knownLevels()):
		mode = ledger.CoverageAny
	default:
		return "", nil
	}
	var ok bool
	if err := db.QueryRow(ctx, `SELECT coalesce((SELECT max(last_at) FROM proj_coverage WHERE mode = $1) <= $2, true)
		AND ($3 OR NOT EXISTS (SELECT 1 FROM proj_coverage WHERE mode = $1 AND cafs > 1))`,
		mode, p.asOf(), len(p.Cafs) == 1).Scan(&ok); err != nil {
		return "", fmt.Errorf("coverage projection: %w", err)
	}
	if !ok {
		return "", nil
	}
	return mode, nil
}

// evidenceCounts counts the evidence levels of the distinct notices that
// src selects as (nid, ev).
func evidenceCounts(src string) string {
	return `SELECT 'evidence', ev, NULL, NULL, NULL, count(*) FROM (SELECT DISTINCT nid, ev FROM (` + src + `) x) e GROUP BY ev`
}

var (
	ackRule           = requestRule{RuleAcknowledgement, "q.channel = 'online'", "ack_notice_id", 5 * 24 * time.Hour, 100}
	answerRule        = requestRule{RuleAnswer15d, "q.kind <> 'complaint' AND NOT q.minimum_income", "answer_notice_id", 15 * 24 * time.Hour, 85}
	minimumIncomeRule = requestRule{RuleMinimumIncome, "q.kind <> 'complaint' AND q.minimum_income", "answer_notice_id", 10 * 24 * time.Hour, 90}
	complaintsRule    = requestRule{RuleComplaints15d, "q.kind = 'complaint'", "answer_notice_id", 15 * 24 * time.Hour, 100}
)

// Acknowledgement computes the acknowledgement rule.
func Acknowledgement(ctx context.Context, db DB, p Period) (*Report, error) {
	return ackRule.run(ctx, db, p)
}

// Answer15d computes the answer-15d rule.
func Answer15d(ctx context.Context, db DB, p Period) (*Report, error) {
	return answerRule.run(ctx, db, p)
}

// MinimumIncome10d computes the minimum-income-10d rule.
func MinimumIncome10d(ctx context.Context, db DB, p Period) (*Report, error) {
	return minimumIncomeRule.run(ctx, db, p)
}

// Complaints15d computes the complaints-15d rule.
func Complaints15d(ctx context.Context, db DB, p Period) (*Report, error) {
	return complaintsRule.run(ctx, db, p)
}
