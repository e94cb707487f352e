package campaigns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/courrier-dev/courrier/notices"
)

// Audience is a declarative filter over beneficiaries. Every criterion that
// is set must hold (AND); a list inside a criterion matches any of its
// values. The zero Audience is every active beneficiary. An Audience is
// compiled to parameterised SQL by Compile: no value ever becomes SQL text.
type Audience struct {
	// Benefits: holds any of these benefit codes (e.g. RSA, AF, APL).
	Benefits []string `json:"benefits,omitempty" yaml:"benefits,omitempty"`
	// Departements and Regions: lives in any of these départements ("75",
	// "2A", "971") or regions (keys of Regions), by postal code.
	Departements []string `json:"departements,omitempty" yaml:"departements,omitempty"`
	Regions      []string `json:"regions,omitempty" yaml:"regions,omitempty"`
	// Contact: "email" (has a usable email), "mobile" (has a usable mobile
	// number), "email_and_mobile", or "neither" (letter only).
	Contact string `json:"contact,omitempty" yaml:"contact,omitempty"`
	// Languages: preferred language is any of these ("fr", "en" …).
	Languages []string `json:"languages,omitempty" yaml:"languages,omitempty"`
	// LifeEvent: had a life event of this kind between two dates.
	LifeEvent *LifeEventFilter `json:"life_event,omitempty" yaml:"life_event,omitempty"`
	// RightsOpened: had rights opened (effective) between two dates.
	RightsOpened *RightsFilter `json:"rights_opened,omitempty" yaml:"rights_opened,omitempty"`
	// NotContacted: no delivered notice of this kind since a date.
	NotContacted *NotContactedFilter `json:"not_contacted,omitempty" yaml:"not_contacted,omitempty"`
	// RefPrefix: the beneficiary number starts with this prefix (e.g. a
	// test population, or the demo's "DEMO").
	RefPrefix string `json:"ref_prefix,omitempty" yaml:"ref_prefix,omitempty"`
	// IncludeInactive also targets inactive beneficiaries.
	IncludeInactive bool `json:"include_inactive,omitempty" yaml:"include_inactive,omitempty"`
	// Test targets test beneficiaries instead of live ones: it is the
	// campaign's own test flag (a test key's campaign), never given by the
	// audience's author.
	Test bool `json:"-" yaml:"-"`
}

// LifeEventFilter matches a life event of Kind that occurred between From
// and To (dates YYYY-MM-DD, both inclusive, either may be empty).
type LifeEventFilter struct {
	Kind string `json:"kind" yaml:"kind"`
	From string `json:"from,omitempty" yaml:"from,omitempty"`
	To   string `json:"to,omitempty" yaml:"to,omitempty"`
}

// RightsFilter matches rights opened between From and To (inclusive), for
// any of Benefits if given.
type RightsFilter struct {
	From     string   `json:"from,omitempty" yaml:"from,omitempty"`
	To       string   `json:"to,omitempty" yaml:"to,omitempty"`
	Benefits []string `json:"benefits,omitempty" yaml:"benefits,omitempty"`
}

// NotContactedFilter matches beneficiaries with no delivered notice of Kind
// since Since (a date, midnight Europe/Paris).
type NotContactedFilter struct {
	Kind  string `json:"kind" yaml:"kind"`
	Since string `json:"since" yaml:"since"`
}

// FilterError is a bad audience filter; Field names it ("life_event.from").
type FilterError struct {
	Field string
	Msg   string
}

func (e *FilterError) Error() string { return "audience filter " + e.Field + ": " + e.Msg }

func filterErr(field, format string, args ...any) error {
	return &FilterError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ParseAudience reads an audience from JSON or YAML. Unknown fields are
// errors, so a misspelt criterion never silently widens the audience.
func ParseAudience(src []byte) (*Audience, error) {
	var a Audience
	trimmed := bytes.TrimSpace(src)
	if len(trimmed) == 0 {
		return &a, nil
	}
	// A YAML flow mapping ({ref_prefix: "G"}) also starts with "{": only
	// valid JSON is read as JSON.
	if trimmed[0] == '{' && json.Valid(trimmed) {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			return nil, fmt.Errorf("audience: %w", err)
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(trimmed))
		dec.KnownFields(true)
		if err := dec.Decode(&a); err != nil {
			return nil, fmt.Errorf("audience: %w", err)
		}
	}
	if _, err := a.Compile(0); err != nil {
		return nil, err
	}
	return &a, nil
}

var paris = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return loc
}()

// Paris is the agency's time zone, in which dates and sending windows are read.
func Paris() *time.Location { return paris }

func parseDate(field, s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(s), paris)
	if err != nil {
		return time.Time{}, filterErr(field, "%q is not a date (YYYY-MM-DD)", s)
	}
	return t, nil
}

// Compiled is an audience as SQL over the recipients table aliased r.
type Compiled struct {
	// Where is a boolean SQL expression whose parameters are numbered from
	// the base given to Compile plus one.
	Where string
	Args  []any
	// Criteria describe each criterion in words, in the order of Explain.
	Criteria []string
	// Explain holds one SQL text expression per criterion saying why a
	// matched beneficiary matched it (for dry runs).
	Explain []string
}

type builder struct {
	base  int
	args  []any
	conds []string
	c     *Compiled
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(b.base+len(b.args))
}

func (b *builder) add(cond, explain, words string) {
	b.conds = append(b.conds, cond)
	b.c.Explain = append(b.c.Explain, explain)
	b.c.Criteria = append(b.c.Criteria, words)
}

func cleanList(field string, in []string, upper bool) ([]string, error) {
	out := make([]string, 0, len(in))
	for i, v := range in {
		v = strings.TrimSpace(v)
		if v == "" {
			return nil, filterErr(fmt.Sprintf("%s[%d]", field, i), "empty value")
		}
		if upper {
			v = strings.ToUpper(v)
		} else {
			v = strings.ToLower(v)
		}
		out = append(out, v)
	}
	return out, nil
}

// departementSQL is the département of r's postal code, for explanations.
const departementSQL = `CASE WHEN r.postal_code LIKE '97%' THEN left(r.postal_code, 3)
	WHEN r.postal_code LIKE '200%' OR r.postal_code LIKE '201%' THEN '2A'
	WHEN r.postal_code LIKE '20%' THEN '2B' ELSE left(r.postal_code, 2) END`

const (
	hasEmailSQL  = `(r.email IS NOT NULL AND r.email_status = 'ok')`
	hasMobileSQL = `(r.phone IS NOT NULL AND r.phone_type = 'mobile' AND r.phone_status = 'ok')`
)

// Compile turns the audience into SQL whose parameters start at $base+1.
// Errors are *FilterError naming the bad field.
func (a *Audience) Compile(base int) (*Compiled, error) {
	c := &Compiled{}
	b := &builder{base: base, c: c}
	if !a.IncludeInactive {
		b.conds = append(b.conds, "r.active")
	}
	if a.Test {
		b.conds = append(b.conds, "r.test")
	} else {
		b.conds = append(b.conds, "NOT r.test")
	}
	if a.RefPrefix != "" {
		prefix := strings.TrimSpace(a.RefPrefix)
		if prefix == "" || strings.ContainsAny(prefix, "%_\\") {
			return nil, filterErr("ref_prefix", "must be a plain beneficiary-number prefix (no %%, _ or \\)")
		}
		p := b.arg(prefix + "%")
		b.add("r.ref LIKE "+p, "'ref prefix ' || "+p+"::text", "beneficiary number starts with "+prefix)
	}
	if len(a.Benefits) > 0 {
		list, err := cleanList("benefits", a.Benefits, true)
		if err != nil {
			return nil, err
		}
		p := b.arg(list)
		b.add("r.benefits && "+p+"::text[]",
			"'benefits ' || array_to_string(ARRAY(SELECT unnest(r.benefits) INTERSECT SELECT unnest("+p+"::text[]) ORDER BY 1), ',')",
			"holds any of "+strings.Join(list, ", "))
	}
	if len(a.Departements) > 0 || len(a.Regions) > 0 {
		var deps []string
		for i, d := range a.Departements {
			if _, err := postalPrefixes(d); err != nil {
				return nil, filterErr(fmt.Sprintf("departements[%d]", i), "%v", err)
			}
			deps = append(deps, strings.ToUpper(strings.TrimSpace(d)))
		}
		for i, r := range a.Regions {
			list, ok := Regions[strings.ToLower(strings.TrimSpace(r))]
			if !ok {
				return nil, filterErr(fmt.Sprintf("regions[%d]", i), "unknown region %q (known: %s)", r, regionNames())
			}
			deps = append(deps, list...)
		}
		deps = dedupe(deps)
		var patterns []string
		for _, d := range deps {
			pp, _ := postalPrefixes(d)
			for _, p := range pp {
				patterns = append(patterns, p+"%")
			}
		}
		p := b.arg(patterns)
		b.add("r.postal_code LIKE ANY ("+p+"::text[])", "'département ' || "+departementSQL,
			"lives in département "+strings.Join(deps, ", "))
	}
	switch strings.ToLower(strings.TrimSpace(a.Contact)) {
	case "":
	case "email":
		b.add(hasEmailSQL, "'has email'", "has a usable email address")
	case "mobile":
		b.add(hasMobileSQL, "'has mobile'", "has a usable mobile number")
	case "email_and_mobile":
		b.add(hasEmailSQL+" AND "+hasMobileSQL, "'has email and mobile'", "has a usable email address and mobile number")
	case "neither":
		b.add("NOT "+hasEmailSQL+" AND NOT "+hasMobileSQL, "'no email, no mobile'", "has neither email nor mobile (letter only)")
	default:
		return nil, filterErr("contact", "%q is not one of email, mobile, email_and_mobile, neither", a.Contact)
	}
	if len(a.Languages) > 0 {
		list, err := cleanList("languages", a.Languages, false)
		if err != nil {
			return nil, err
		}
		p := b.arg(list)
		b.add("r.language = ANY ("+p+"::text[])", "'language ' || r.language", "language is any of "+strings.Join(list, ", "))
	}
	if le := a.LifeEvent; le != nil {
		switch le.Kind {
		case "first_birth", "separation", "child_death", "parent_death":
		case "":
			return nil, filterErr("life_event.kind", "is required (first_birth, separation, child_death, parent_death)")
		default:
			return nil, filterErr("life_event.kind", "%q is not one of first_birth, separation, child_death, parent_death", le.Kind)
		}
		cond := "le.recipient_id = r.id AND le.kind = " + b.arg(le.Kind) + "::text"
		words := "had a life event " + le.Kind
		extra, w, err := dateRange(b, "life_event", "le.occurred_on", le.From, le.To)
		if err != nil {
			return nil, err
		}
		cond += extra
		b.add("EXISTS (SELECT 1 FROM life_events le WHERE "+cond+")",
			"(SELECT 'life event ' || min(le.kind) || ' on ' || max(le.occurred_on)::text FROM life_events le WHERE "+cond+")",
			words+w)
	}
	if ro := a.RightsOpened; ro != nil {
		cond := "re.recipient_id = r.id AND re.event = 'opened'"
		words := "had rights opened"
		if len(ro.Benefits) > 0 {
			list, err := cleanList("rights_opened.benefits", ro.Benefits, true)
			if err != nil {
				return nil, err
			}
			cond += " AND re.benefit = ANY (" + b.arg(list) + "::text[])"
			words += " (" + strings.Join(list, ", ") + ")"
		}
		extra, w, err := dateRange(b, "rights_opened", "re.effective_on", ro.From, ro.To)
		if err != nil {
			return nil, err
		}
		if extra == "" {
			return nil, filterErr("rights_opened", "needs from or to")
		}
		cond += extra
		b.add("EXISTS (SELECT 1 FROM rights_events re WHERE "+cond+")",
			"(SELECT 'rights opened ' || string_agg(re.benefit || ' ' || re.effective_on::text, ', ' ORDER BY re.effective_on) FROM rights_events re WHERE "+cond+")",
			words+w)
	}
	if nc := a.NotContacted; nc != nil {
		if nc.Kind == "" {
			return nil, filterErr("not_contacted.kind", "is required (a notice kind)")
		}
		if !notices.Kind(nc.Kind).Valid() {
			return nil, filterErr("not_contacted.kind", "%q is not a notice kind", nc.Kind)
		}
		if nc.Since == "" {
			return nil, filterErr("not_contacted.since", "is required (YYYY-MM-DD)")
		}
		since, err := parseDate("not_contacted.since", nc.Since)
		if err != nil {
			return nil, err
		}
		pk, ps := b.arg(nc.Kind), b.arg(since)
		cond := "n.recipient_id = r.id AND n.kind = " + pk + "::text AND n.state = 'delivered' AND n.delivered_at >= " + ps + "::timestamptz"
		b.add("NOT EXISTS (SELECT 1 FROM notices n WHERE "+cond+")",
			"'no ' || "+pk+"::text || ' delivered since ' || to_char("+ps+"::timestamptz AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD')",
			"no "+nc.Kind+" delivered since "+nc.Since)
	}
	if len(b.conds) == 0 {
		b.conds = append(b.conds, "true")
	}
	c.Where = "(" + strings.Join(b.conds, ")\n  AND (") + ")"
	c.Args = b.args
	return c, nil
}

func dateRange(b *builder, field, col, from, to string) (cond, words string, err error) {
	var f, t time.Time
	if from != "" {
		if f, err = parseDate(field+".from", from); err != nil {
			return "", "", err
		}
		cond += " AND " + col + " >= " + b.arg(f.Format("2006-01-02")) + "::date"
		words += " from " + from
	}
	if to != "" {
		if t, err = parseDate(field+".to", to); err != nil {
			return "", "", err
		}
		cond += " AND " + col + " <= " + b.arg(t.Format("2006-01-02")) + "::date"
		words += " to " + to
	}
	if from != "" && to != "" && t.Before(f) {
		return "", "", filterErr(field+".to", "%s is before from (%s)", to, from)
	}
	return cond, words, nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// PageSQL selects the next page of matching recipient ids after $1, at
// most $2 of them: keyset pagination over recipients.id.
func (a *Audience) PageSQL() (string, []any, error) {
	c, err := a.Compile(2)
	if err != nil {
		return "", nil, err
	}
	return "SELECT r.id FROM recipients r WHERE r.id > $1 AND " + c.Where + " ORDER BY r.id LIMIT $2", c.Args, nil
}

// JSON returns the audience as JSON for storage.
func (a *Audience) JSON() []byte {
	b, _ := json.Marshal(a)
	return b
}

// IsFilterError reports whether err is a bad audience filter.
func IsFilterError(err error) bool {
	var fe *FilterError
	return errors.As(err, &fe)
}
