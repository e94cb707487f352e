package compliance

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/courrier-dev/courrier/ledger"
)

// DB is what the rules need: a pool, a connection or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Paris is the time zone of the agency: calendar days, months and years of
// the rules are Paris ones.
var Paris = mustLoad("Europe/Paris")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// Period is the half-open interval [From, To) a report covers, and the
// instant AsOf at which open items are judged (zero means now): a request
// still unanswered at AsOf whose deadline has passed is overdue, and
// deliveries after AsOf are not counted.
type Period struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	AsOf time.Time `json:"as_of"`
	// Accept lists the evidence levels that count as delivery (default
	// DefaultAccepted: the proven levels only).
	Accept []string `json:"accepted_evidence"`
	// Cafs restricts the report to these Cafs (codes, e.g. "751"); empty
	// means national.
	Cafs []string `json:"cafs,omitempty"`
}

// accepted returns the levels the report counts as delivery.
func (p Period) accepted() []string {
	if len(p.Accept) > 0 {
		return p.Accept
	}
	return DefaultAccepted()
}

// EvidenceLevels is the catalogue of evidence levels and their strength
// (ledger.Proven or ledger.Weak); it is the ledger's, which the sealer uses
// to build the projections reports read. A new channel's evidence is one
// line there.
var EvidenceLevels = ledger.EvidenceLevels

// DefaultAccepted returns the proven evidence levels, sorted: what a report
// counts as delivery unless configured otherwise (COURRIER_ACCEPT_EVIDENCE).
func DefaultAccepted() []string {
	var out []string
	for lvl, strength := range EvidenceLevels {
		if strength == ledger.Proven {
			out = append(out, lvl)
		}
	}
	sort.Strings(out)
	return out
}

// ParseAccept reads a comma-separated list of evidence levels; "" gives
// nil (the default), "all" every known level. Unknown levels are an error.
func ParseAccept(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return nil, nil
	case "all":
		var out []string
		for lvl := range EvidenceLevels {
			out = append(out, lvl)
		}
		sort.Strings(out)
		return out, nil
	}
	var out []string
	for _, lvl := range strings.Split(s, ",") {
		lvl = strings.TrimSpace(lvl)
		if _, ok := EvidenceLevels[lvl]; !ok {
			return nil, fmt.Errorf("%w: evidence level %q (known: %s)", ErrInvalid, lvl, strings.Join(knownLevels(), ", "))
		}
		out = append(out, lvl)
	}
	return out, nil
}

func knownLevels() []string {
	var out []string
	for lvl := range EvidenceLevels {
		out = append(out, lvl)
	}
	sort.Strings(out)
	return out
}

// ParseCafs reads a comma-separated list of Caf codes ("751,974").
func ParseCafs(s string) ([]string, error) {
	var out []string
	for _, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if c != NoCaf && (len(c) > 8 || strings.Trim(c, "0123456789ABab") != "") {
			return nil, fmt.Errorf("%w: Caf code %q: want digits such as 751 or 974", ErrInvalid, c)
		}
		out = append(out, c)
	}
	return out, nil
}

// ErrInvalid is wrapped by errors about bad input (unknown rule, bad period).
var ErrInvalid = errors.New("invalid")

// ParsePeriod reads two calendar dates (YYYY-MM-DD, both included) as the
// Paris-time period from the start of from to the end of to.
func ParsePeriod(from, to string) (Period, error) {
	f, err := time.ParseInLocation(time.DateOnly, from, Paris)
	if err != nil {
		return Period{}, fmt.Errorf("%w: --from %q: want YYYY-MM-DD", ErrInvalid, from)
	}
	t, err := time.ParseInLocation(time.DateOnly, to, Paris)
	if err != nil {
		return Period{}, fmt.Errorf("%w: --to %q: want YYYY-MM-DD", ErrInvalid, to)
	}
	p := Period{From: f, To: t.AddDate(0, 0, 1)}
	return p, p.validate()
}

func (p Period) validate() error {
	if p.From.IsZero() || p.To.IsZero() || !p.From.Before(p.To) {
		return fmt.Errorf("%w: period must have from before to", ErrInvalid)
	}
	return nil
}

func (p Period) asOf() time.Time {
	if p.AsOf.IsZero() {
		return time.Now()
	}
	return p.AsOf
}

// Units of a Metric's value.
const (
	UnitCount       = "count"
	UnitSeconds     = "seconds"
	UnitBasisPoints = "basis_points" // hundredths of a percent: 8500 is 85.00 %
)

// Metric is one number a report rests on.
type Metric struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
	Unit  string `json:"unit"`
}

// Evidence levels: what "delivered" rests on (see EvidenceLevels).
const (
	EvidenceSMTPAccepted      = ledger.EvidenceSMTPAccepted
	EvidencePresumedDelivered = ledger.EvidencePresumedDelivered
	EvidenceTwilioDelivered   = ledger.EvidenceTwilioDelivered
	EvidencePrintHanded       = ledger.EvidencePrintHanded
	EvidenceOutbox            = ledger.EvidenceOutboxFile
)

// EvidenceCount is how many counted notices rest on one evidence level.
type EvidenceCount struct {
	Level string `json:"level"`
	Count int64  `json:"count"`
}

// Entry is one line of a report's list: a beneficiary by number (never by
// name), the item concerned (request id, year), a time and a value.
type Entry struct {
	Ref    string     `json:"ref"`
	Item   string     `json:"item,omitempty"`
	At     *time.Time `json:"at,omitempty"`
	Value  int64      `json:"value,omitempty"`
	Detail string     `json:"detail,omitempty"`
}

// List is a named list of entries (breaches, not covered, at risk …).
type List struct {
	Name    string  `json:"name"`
	Help    string  `json:"help"`
	Entries []Entry `json:"entries"`
}

// Report is the result of one rule over one period.
type Report struct {
	Rule     string          `json:"rule"`
	Title    string          `json:"title"`
	Period   Period          `json:"period"`
	Target   string          `json:"target"`
	Pass     bool            `json:"pass"`
	Metrics  []Metric        `json:"metrics"`
	Evidence []EvidenceCount `json:"evidence"`
	Lists    []List          `json:"lists"`
	Notes    []string        `json:"notes,omitempty"`
	// ByCaf is the per-Caf breakdown of a national report (RunByCaf).
	ByCaf       []CafReport `json:"by_caf,omitempty"`
	GeneratedAt time.Time   `json:"generated_at"`
	// Source is the projection the report was computed from (SourceNotices
	// or SourceCoverage); both give the same report.
	Source string `json:"-"`
}

// CafReport is one Caf's line in a national report's breakdown.
type CafReport struct {
	Caf     string   `json:"caf"` // "" for beneficiaries with no Caf yet
	Pass    bool     `json:"pass"`
	Metrics []Metric `json:"metrics"`
}

// Metric returns the value of the named metric, and whether it exists.
func (r *Report) Metric(name string) (int64, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// List returns the named list (empty if absent).
func (r *Report) List(name string) List {
	for _, l := range r.Lists {
		if l.Name == name {
			return l
		}
	}
	return List{Name: name}
}

// Refs returns the beneficiary numbers of the named list, in order.
func (r *Report) Refs(list string) []string {
	var out []string
	for _, e := range r.List(list).Entries {
		out = append(out, e.Ref)
	}
	return out
}

// collect reads the uniform result rows of a rule query:
// (section, key, ref, item, at, value) where section is "count",
// "evidence" or "list".
func collect(ctx context.Context, db DB, r *Report, specs []Metric, lists []List, sql string, args ...any) error {
	r.Lists = lists
	for i := range r.Lists {
		r.Lists[i].Entries = []Entry{}
	}
	r.Evidence = []EvidenceCount{}
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s report: %w", r.Rule, err)
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var section, key string
		var ref, item *string
		var at *time.Time
		var value *int64
		if err := rows.Scan(&section, &key, &ref, &item, &at, &value); err != nil {
			return fmt.Errorf("%s report: %w", r.Rule, err)
		}
		v := int64(0)
		if value != nil {
			v = *value
		}
		switch section {
		case "count":
			counts[key] = v
		case "evidence":
			r.Evidence = append(r.Evidence, EvidenceCount{Level: key, Count: v})
		case "list":
			e := Entry{Value: v, At: at}
			if ref != nil {
				e.Ref = *ref
			}
			if item != nil {
				e.Item = *item
			}
			for i := range r.Lists {
				if r.Lists[i].Name == key {
					r.Lists[i].Entries = append(r.Lists[i].Entries, e)
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s report: %w", r.Rule, err)
	}
	sort.Slice(r.Evidence, func(i, j int) bool { return r.Evidence[i].Level < r.Evidence[j].Level })
	// The rule's metrics in its order (zero when absent), then any others
	// (per-year metrics) by name.
	r.Metrics = nil
	seen := map[string]bool{}
	for _, m := range specs {
		m.Value = counts[m.Name]
		r.Metrics = append(r.Metrics, m)
		seen[m.Name] = true
	}
	var rest []string
	for k := range counts {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		r.Metrics = append(r.Metrics, Metric{Name: k, Value: counts[k], Unit: UnitCount})
	}
	return nil
}
