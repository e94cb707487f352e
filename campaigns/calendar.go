package campaigns

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/templates"
)

//go:embed example-calendar.yaml
var defaultCalendar []byte

// DefaultCalendarYAML is the embedded example calendar, used when no
// calendar file is configured.
func DefaultCalendarYAML() []byte { return append([]byte(nil), defaultCalendar...) }

// DefaultCalendar parses the embedded example calendar.
func DefaultCalendar() (*Calendar, error) { return ParseCalendar(defaultCalendar, nil) }

// Calendar is the year's declared campaigns: general mailings on fixed
// dates, recurring reminders, the yearly statement sweep and the delays of
// life-event outreach. Times are Europe/Paris.
type Calendar struct {
	// AllowFewerGeneralMailings accepts a calendar year with fewer than the
	// three general mailings the national baseline promises.
	AllowFewerGeneralMailings bool `yaml:"allow_fewer_general_mailings" json:"allow_fewer_general_mailings"`
	// CatchUpDays: an occurrence missed while no process ran (or no leader
	// was elected) still starts if it is at most this old. Default 3.
	CatchUpDays int `yaml:"catch_up_days" json:"catch_up_days"`
	// PrepareDays: campaigns are created this many days before their date,
	// so that operators can approve them in advance. Default 45.
	PrepareDays int `yaml:"prepare_days" json:"prepare_days"`

	GeneralMailings []GeneralMailingEntry `yaml:"general_mailings" json:"general_mailings"`
	Reminders       []ReminderEntry       `yaml:"reminders" json:"reminders"`
	Sweep           SweepSettings         `yaml:"yearly_sweep" json:"yearly_sweep"`
	Outreach        OutreachSettings      `yaml:"outreach" json:"outreach"`
}

// GeneralMailingEntry is one general mailing on a fixed date.
type GeneralMailingEntry struct {
	ID         string         `yaml:"id" json:"id"`
	Date       string         `yaml:"date" json:"date"` // YYYY-MM-DD
	Time       string         `yaml:"time" json:"time"` // HH:MM, default 09:00
	Template   string         `yaml:"template" json:"template"`
	Data       map[string]any `yaml:"data" json:"data"`
	Audience   Audience       `yaml:"audience" json:"audience"`
	Pace       Pace           `yaml:"pace" json:"pace"`
	CreatedBy  string         `yaml:"created_by" json:"created_by"`
	ApprovedBy string         `yaml:"approved_by" json:"approved_by"`

	at time.Time
}

// ReminderEntry is a reminder that recurs on Day of each of Months.
type ReminderEntry struct {
	ID       string `yaml:"id" json:"id"`
	Template string `yaml:"template" json:"template"`
	Months   []int  `yaml:"months" json:"months"` // 1–12; empty means every month
	Day      int    `yaml:"day" json:"day"`       // 1–28
	Time     string `yaml:"time" json:"time"`     // HH:MM, default 08:00
	// Data may use placeholders in string values: {date}, {date+Nd},
	// {year}, {quarter} and {previous_quarter} (e.g. "janvier à mars 2027").
	Data       map[string]any `yaml:"data" json:"data"`
	Audience   Audience       `yaml:"audience" json:"audience"`
	Pace       Pace           `yaml:"pace" json:"pace"`
	CreatedBy  string         `yaml:"created_by" json:"created_by"`
	ApprovedBy string         `yaml:"approved_by" json:"approved_by"`
	From       string         `yaml:"from" json:"from"` // first date it applies, optional
	Until      string         `yaml:"until" json:"until"`

	clock      time.Duration
	from, till time.Time
}

// SweepSettings configure the yearly statement sweep.
type SweepSettings struct {
	Disabled     bool   `yaml:"disabled" json:"disabled"`
	LeadTimeDays int    `yaml:"lead_time_days" json:"lead_time_days"` // default 330
	RunAt        string `yaml:"run_at" json:"run_at"`                 // HH:MM daily, default 06:00
	BatchSize    int    `yaml:"batch_size" json:"batch_size"`         // default 5000
}

// OutreachSettings configure life-event outreach.
type OutreachSettings struct {
	Disabled bool `yaml:"disabled" json:"disabled"`
	// DelayDays per life-event kind: the outreach is sent this many days
	// after the event occurred (never before it was recorded).
	DelayDays map[string]int `yaml:"delay_days" json:"delay_days"`
	// ScanEvery is how often new life events are looked for ("5m").
	ScanEvery string `yaml:"scan_every" json:"scan_every"`
}

// DefaultOutreachDelays are the outreach delays when the calendar sets none.
var DefaultOutreachDelays = map[string]int{"first_birth": 0, "separation": 7, "child_death": 15, "parent_death": 15}

// LeadTime is the sweep's lead time.
func (s SweepSettings) LeadTime() time.Duration {
	d := s.LeadTimeDays
	if d <= 0 {
		d = 330
	}
	return time.Duration(d) * 24 * time.Hour
}

// Batch is the sweep's batch size.
func (s SweepSettings) Batch() int {
	if s.BatchSize <= 0 {
		return 5000
	}
	return s.BatchSize
}

// Clock is the sweep's daily run time as an offset from midnight.
func (s SweepSettings) Clock() time.Duration {
	if s.RunAt == "" {
		return 6 * time.Hour
	}
	d, _ := parseClock(s.RunAt)
	return d
}

// Delay is the outreach delay of a life-event kind.
func (o OutreachSettings) Delay(kind string) time.Duration {
	d, ok := o.DelayDays[kind]
	if !ok {
		d = DefaultOutreachDelays[kind]
	}
	return time.Duration(d) * 24 * time.Hour
}

// Interval is how often outreach scans for new life events.
func (o OutreachSettings) Interval() time.Duration {
	d, err := time.ParseDuration(o.ScanEvery)
	if err != nil || d <= 0 {
		return 5 * time.Minute
	}
	return d
}

// LoadCalendar reads and validates a calendar file; an empty path is the
// embedded default calendar.
func LoadCalendar(path string, set *templates.Set) (*Calendar, error) {
	if path == "" {
		return ParseCalendar(defaultCalendar, set)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	cal, err := ParseCalendar(src, set)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cal, nil
}

// CalendarError is a validation error of a calendar; Field is the path to
// the bad value ("general_mailings[1].date").
type CalendarError struct {
	Field string
	Msg   string
}

func (e *CalendarError) Error() string { return "calendar " + e.Field + ": " + e.Msg }

func calErr(field, format string, args ...any) error {
	return &CalendarError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ParseCalendar parses YAML and validates it (templates and their data
// against set, the embedded templates if nil).
func ParseCalendar(src []byte, set *templates.Set) (*Calendar, error) {
	var cal Calendar
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&cal); err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	if set == nil {
		var err error
		if set, err = defaultTemplates(); err != nil {
			return nil, err
		}
	}
	if err := cal.validate(set); err != nil {
		return nil, err
	}
	return &cal, nil
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (c *Calendar) validate(set *templates.Set) error {
	if c.CatchUpDays < 0 || c.PrepareDays < 0 {
		return calErr("catch_up_days", "must not be negative")
	}
	ids := map[string]string{}
	checkID := func(field, id string) error {
		if !idPattern.MatchString(id) {
			return calErr(field+".id", "%q must be lower-case letters, digits, - or _", id)
		}
		if other, dup := ids[id]; dup {
			return calErr(field+".id", "%q is also the id of %s", id, other)
		}
		ids[id] = field
		return nil
	}
	perYear := map[int]int{}
	for i := range c.GeneralMailings {
		e := &c.GeneralMailings[i]
		f := fmt.Sprintf("general_mailings[%d]", i)
		if err := checkID(f, e.ID); err != nil {
			return err
		}
		day, err := time.ParseInLocation("2006-01-02", e.Date, paris)
		if err != nil {
			return calErr(f+".date", "%q is not a date (YYYY-MM-DD)", e.Date)
		}
		clock := 9 * time.Hour
		if e.Time != "" {
			if clock, err = parseClock(e.Time); err != nil {
				return calErr(f+".time", "%v", err)
			}
		}
		e.at = day.Add(clock)
		if e.Template == "" {
			e.Template = string(notices.GeneralInformation)
		}
		if err := checkEntry(set, f, e.Template, e.Data, &e.Audience, e.Pace, e.CreatedBy, e.ApprovedBy); err != nil {
			return err
		}
		perYear[day.Year()]++
	}
	if !c.AllowFewerGeneralMailings {
		if len(perYear) == 0 {
			return calErr("general_mailings", "none declared: at least three per calendar year are required (set allow_fewer_general_mailings: true to override)")
		}
		years := make([]int, 0, len(perYear))
		for y := range perYear {
			years = append(years, y)
		}
		sort.Ints(years)
		for _, y := range years {
			if perYear[y] < 3 {
				return calErr("general_mailings", "%d has %d general mailing(s): at least three per calendar year are required (set allow_fewer_general_mailings: true to override)", y, perYear[y])
			}
		}
	}
	for i := range c.Reminders {
		e := &c.Reminders[i]
		f := fmt.Sprintf("reminders[%d]", i)
		if err := checkID(f, e.ID); err != nil {
			return err
		}
		if !strings.HasPrefix(e.Template, "reminder_") {
			return calErr(f+".template", "%q is not a reminder_* template", e.Template)
		}
		for j, m := range e.Months {
			if m < 1 || m > 12 {
				return calErr(fmt.Sprintf("%s.months[%d]", f, j), "%d is not a month (1–12)", m)
			}
		}
		if e.Day < 1 || e.Day > 28 {
			return calErr(f+".day", "%d must be between 1 and 28", e.Day)
		}
		e.clock = 8 * time.Hour
		if e.Time != "" {
			var err error
			if e.clock, err = parseClock(e.Time); err != nil {
				return calErr(f+".time", "%v", err)
			}
		}
		if e.From != "" {
			t, err := time.ParseInLocation("2006-01-02", e.From, paris)
			if err != nil {
				return calErr(f+".from", "%q is not a date (YYYY-MM-DD)", e.From)
			}
			e.from = t
		}
		if e.Until != "" {
			t, err := time.ParseInLocation("2006-01-02", e.Until, paris)
			if err != nil {
				return calErr(f+".until", "%q is not a date (YYYY-MM-DD)", e.Until)
			}
			e.till = t.AddDate(0, 0, 1)
		}
		sample, err := ExpandData(e.Data, time.Date(2027, 4, 1, 8, 0, 0, 0, paris))
		if err != nil {
			return calErr(f+".data", "%v", err)
		}
		if err := checkEntry(set, f, e.Template, sample, &e.Audience, e.Pace, e.CreatedBy, e.ApprovedBy); err != nil {
			return err
		}
	}
	if d := c.Sweep.LeadTimeDays; d < 0 || d > 365 {
		return calErr("yearly_sweep.lead_time_days", "%d must be between 1 and 365", d)
	}
	if c.Sweep.RunAt != "" {
		if _, err := parseClock(c.Sweep.RunAt); err != nil {
			return calErr("yearly_sweep.run_at", "%v", err)
		}
	}
	for k, d := range c.Outreach.DelayDays {
		if _, ok := DefaultOutreachDelays[k]; !ok {
			return calErr("outreach.delay_days."+k, "%q is not a life event (first_birth, separation, child_death, parent_death)", k)
		}
		if d < 0 || d > 365 {
			return calErr("outreach.delay_days."+k, "%d must be between 0 and 365", d)
		}
	}
	if c.Outreach.ScanEvery != "" {
		if d, err := time.ParseDuration(c.Outreach.ScanEvery); err != nil || d < time.Second {
			return calErr("outreach.scan_every", "%q is not a duration of at least 1s (e.g. 5m)", c.Outreach.ScanEvery)
		}
	}
	return nil
}

func checkEntry(set *templates.Set, f, tmpl string, data map[string]any, aud *Audience, pace Pace, createdBy, approvedBy string) error {
	if data == nil {
		data = map[string]any{}
	}
	if err := CheckData(set, tmpl, data); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return calErr(f+"."+ce.Field, "%s", ce.Msg)
		}
		return err
	}
	if _, err := aud.Compile(0); err != nil {
		var fe *FilterError
		if errors.As(err, &fe) {
			return calErr(f+".audience."+fe.Field, "%s", fe.Msg)
		}
		return err
	}
	if err := pace.Validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return calErr(f+"."+ce.Field, "%s", ce.Msg)
		}
		return err
	}
	if approvedBy != "" && strings.EqualFold(approvedBy, createdBy) {
		return calErr(f+".approved_by", "four-eyes: must differ from created_by")
	}
	return nil
}

// Occurrence is one dated run of a calendar entry.
type Occurrence struct {
	EntryID string
	Kind    Kind
	At      time.Time
	New     New // the campaign to create
}

// Key is the occurrence's unique campaign key "<entry id>@<date>".
func (o Occurrence) Key() string { return o.EntryID + "@" + o.At.In(paris).Format("2006-01-02") }

// Occurrences returns the general mailing and reminder occurrences whose
// time is in [from, to), sorted by time.
func (c *Calendar) Occurrences(from, to time.Time) ([]Occurrence, error) {
	var out []Occurrence
	for _, e := range c.GeneralMailings {
		if e.at.Before(from) || !e.at.Before(to) {
			continue
		}
		createdBy := e.CreatedBy
		if createdBy == "" {
			createdBy = "calendar"
		}
		at := e.at
		out = append(out, Occurrence{EntryID: e.ID, Kind: GeneralMailing, At: at, New: New{
			Name: e.ID, Kind: GeneralMailing, TemplateKey: e.Template, Data: e.Data, Audience: e.Audience,
			StartAt: &at, Pace: e.Pace, CreatedBy: createdBy, ApprovedBy: e.ApprovedBy,
		}})
	}
	for _, e := range c.Reminders {
		f := from.In(paris)
		for m := time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, paris); m.Before(to); m = m.AddDate(0, 1, 0) {
			if len(e.Months) > 0 && !containsInt(e.Months, int(m.Month())) {
				continue
			}
			at := time.Date(m.Year(), m.Month(), e.Day, 0, 0, 0, 0, paris).Add(e.clock)
			if at.Before(from) || !at.Before(to) || (!e.from.IsZero() && at.Before(e.from)) || (!e.till.IsZero() && !at.Before(e.till)) {
				continue
			}
			data, err := ExpandData(e.Data, at)
			if err != nil {
				return nil, calErr("reminders."+e.ID+".data", "%v", err)
			}
			createdBy := e.CreatedBy
			if createdBy == "" {
				createdBy = "calendar"
			}
			out = append(out, Occurrence{EntryID: e.ID, Kind: Reminder, At: at, New: New{
				Name: e.ID + " " + at.Format("2006-01-02"), Kind: Reminder, TemplateKey: e.Template, Data: data,
				Audience: e.Audience, StartAt: &at, Pace: e.Pace, CreatedBy: createdBy, ApprovedBy: e.ApprovedBy,
			}})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	for i := range out {
		out[i].New.CalendarKey = out[i].Key()
	}
	return out, nil
}

// Next returns the first occurrence time strictly after t, or the zero
// time if there is none within two years.
func (c *Calendar) Next(t time.Time) time.Time {
	occ, err := c.Occurrences(t.Add(time.Second), t.AddDate(2, 0, 0))
	if err != nil || len(occ) == 0 {
		return time.Time{}
	}
	return occ[0].At
}

func (c *Calendar) catchUp() time.Duration {
	d := c.CatchUpDays
	if d == 0 {
		d = 3
	}
	return time.Duration(d) * 24 * time.Hour
}

func (c *Calendar) prepare() time.Duration {
	d := c.PrepareDays
	if d == 0 {
		d = 45
	}
	return time.Duration(d) * 24 * time.Hour
}

// Window is the span of occurrences that should exist as campaigns at now:
// from now minus the catch-up period to now plus the preparation period.
func (c *Calendar) Window(now time.Time) (from, to time.Time) {
	return now.Add(-c.catchUp()), now.Add(c.prepare())
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

var monthsFR = []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}

var placeholder = regexp.MustCompile(`\{([a-z_]+)(?:\+(\d+)d)?\}`)

// ExpandData returns data with the placeholders of its string values
// replaced for an occurrence at: {date} and {date+Nd} (YYYY-MM-DD), {year},
// {quarter} ("avril à juin 2027") and {previous_quarter}.
func ExpandData(data map[string]any, at time.Time) (map[string]any, error) {
	at = at.In(paris)
	quarter := func(t time.Time) string {
		q := (int(t.Month()) - 1) / 3
		return monthsFR[q*3] + " à " + monthsFR[q*3+2] + " " + strconv.Itoa(t.Year())
	}
	out := make(map[string]any, len(data))
	for k, v := range data {
		s, ok := v.(string)
		if !ok {
			out[k] = v
			continue
		}
		var bad error
		out[k] = placeholder.ReplaceAllStringFunc(s, func(m string) string {
			sub := placeholder.FindStringSubmatch(m)
			days, _ := strconv.Atoi(sub[2])
			switch {
			case sub[1] == "date":
				return at.AddDate(0, 0, days).Format("2006-01-02")
			case sub[1] == "year" && sub[2] == "":
				return strconv.Itoa(at.Year())
			case sub[1] == "quarter" && sub[2] == "":
				return quarter(at)
			case sub[1] == "previous_quarter" && sub[2] == "":
				return quarter(at.AddDate(0, -3, 0))
			}
			bad = fmt.Errorf("%s: unknown placeholder %s (known: {date}, {date+Nd}, {year}, {quarter}, {previous_quarter})", k, m)
			return m
		})
		if bad != nil {
			return nil, bad
		}
	}
	return out, nil
}

// SyncCalendar mirrors the calendar into the database: its entries into
// campaign_calendar (entries no longer in the file are marked inactive),
// and a campaign for every occurrence due within the preparation window, so
// that operators can approve general mailings before their date. It is
// idempotent; the calendar job starts the campaigns when they are due.
func SyncCalendar(ctx context.Context, db DBTX, cal *Calendar) error {
	return SyncCalendarAt(ctx, db, cal, time.Now(), nil)
}

// SyncCalendarAt is SyncCalendar at a given time and with campaign rules.
func SyncCalendarAt(ctx context.Context, db DBTX, cal *Calendar, now time.Time, cfg *Config) error {
	type row struct {
		id, kind string
		spec     any
	}
	var rows []row
	for _, e := range cal.GeneralMailings {
		rows = append(rows, row{e.ID, string(GeneralMailing), e})
	}
	for _, e := range cal.Reminders {
		rows = append(rows, row{e.ID, string(Reminder), e})
	}
	rows = append(rows, row{"yearly-sweep", string(YearlySweep), cal.Sweep}, row{"outreach", string(LifeEventOutreach), cal.Outreach})
	var ids []string
	for _, r := range rows {
		spec, err := json.Marshal(r.spec)
		if err != nil {
			return err
		}
		if _, err := db.Exec(ctx, `
			INSERT INTO campaign_calendar (entry_id, kind, spec) VALUES ($1, $2, $3)
			ON CONFLICT (entry_id) DO UPDATE SET kind = EXCLUDED.kind, spec = EXCLUDED.spec, active = true, synced_at = now()
			WHERE campaign_calendar.spec IS DISTINCT FROM EXCLUDED.spec OR NOT campaign_calendar.active`,
			r.id, r.kind, spec); err != nil {
			return fmt.Errorf("sync calendar entry %s: %w", r.id, err)
		}
		ids = append(ids, r.id)
	}
	if _, err := db.Exec(ctx, `UPDATE campaign_calendar SET active = false, synced_at = now() WHERE active AND NOT entry_id = ANY ($1)`, ids); err != nil {
		return fmt.Errorf("sync calendar: %w", err)
	}
	if err := cancelRemoved(ctx, db, ids); err != nil {
		return err
	}
	from, to := cal.Window(now)
	occ, err := cal.Occurrences(from, to)
	if err != nil {
		return err
	}
	for _, o := range occ {
		err := inTx(ctx, db, func(tx DBTX) error {
			_, _, err := Create(ctx, tx, o.New, cfg)
			return err
		})
		if err != nil {
			return fmt.Errorf("calendar %s: %w", o.Key(), err)
		}
	}
	return nil
}

// cancelRemoved cancels the campaigns created from a calendar entry that is
// no longer in the calendar and that have not started, with the reason
// recorded in their events: removing an entry must not leave an approved
// mailing waiting to go.
func cancelRemoved(ctx context.Context, db DBTX, active []string) error {
	rows, err := db.Query(ctx, `
		SELECT id, split_part(calendar_key, '@', 1) FROM campaigns
		WHERE calendar_key IS NOT NULL AND state IN ('draft', 'approved', 'scheduled')
		  AND NOT split_part(calendar_key, '@', 1) = ANY ($1)
		ORDER BY id`, active)
	if err != nil {
		return fmt.Errorf("sync calendar: find removed entries: %w", err)
	}
	type orphan struct {
		id    int64
		entry string
	}
	var orphans []orphan
	for rows.Next() {
		var o orphan
		if err := rows.Scan(&o.id, &o.entry); err != nil {
			rows.Close()
			return err
		}
		orphans = append(orphans, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, o := range orphans {
		err := inTx(ctx, db, func(tx DBTX) error {
			_, err := MarkCancelled(ctx, tx, o.id, "calendar", fmt.Sprintf("calendar entry %q was removed from the calendar", o.entry))
			return err
		})
		if err != nil {
			return fmt.Errorf("sync calendar: cancel campaign %d: %w", o.id, err)
		}
	}
	return nil
}

// inTx runs f in a transaction when db can begin one (a pool or a
// connection), else (already a transaction) directly on db.
func inTx(ctx context.Context, db DBTX, f func(tx DBTX) error) error {
	b, ok := db.(interface {
		Begin(ctx context.Context) (pgx.Tx, error)
	})
	if !ok {
		return f(db)
	}
	tx, err := b.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
