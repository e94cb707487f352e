package campaigns

import (
	"fmt"
	"time"
)

// Pace spreads a campaign's sends: over Days days from its start, and only
// inside a daily sending window (Europe/Paris, or the Caf's time zone: see
// In) if one is set. The zero Pace
// sends everything at once.
type Pace struct {
	// Days spreads the sends evenly over this many days of open window.
	Days int `json:"days,omitempty" yaml:"days,omitempty"`
	// WindowFrom and WindowTo ("09:00", "18:00") bound the hours of a day
	// in which sends are scheduled; both empty means any hour.
	WindowFrom string `json:"window_from,omitempty" yaml:"window_from,omitempty"`
	WindowTo   string `json:"window_to,omitempty" yaml:"window_to,omitempty"`
	// WeekdaysOnly skips Saturdays and Sundays.
	WeekdaysOnly bool `json:"weekdays_only,omitempty" yaml:"weekdays_only,omitempty"`

	loc *time.Location // the window's time zone; nil is Europe/Paris
}

// In returns p with its window read in loc: the local time of a Caf, so
// that 08:00–20:00 is 08:00–20:00 in La Réunion for its beneficiaries.
func (p Pace) In(loc *time.Location) Pace {
	p.loc = loc
	return p
}

func (p Pace) location() *time.Location {
	if p.loc == nil {
		return paris
	}
	return p.loc
}

func parseClock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Validate checks the pace; errors name the field.
func (p Pace) Validate() error {
	if p.Days < 0 || p.Days > 60 {
		return &Error{Code: CodeInvalid, Field: "pace.days", Msg: "must be between 0 and 60"}
	}
	if (p.WindowFrom == "") != (p.WindowTo == "") {
		return &Error{Code: CodeInvalid, Field: "pace.window_to", Msg: "window_from and window_to go together"}
	}
	if p.WindowFrom != "" {
		f, err := parseClock(p.WindowFrom)
		if err != nil {
			return &Error{Code: CodeInvalid, Field: "pace.window_from", Msg: err.Error()}
		}
		t, err := parseClock(p.WindowTo)
		if err != nil {
			return &Error{Code: CodeInvalid, Field: "pace.window_to", Msg: err.Error()}
		}
		if t <= f {
			return &Error{Code: CodeInvalid, Field: "pace.window_to", Msg: "must be after window_from"}
		}
	}
	return nil
}

func (p Pace) windowed() bool { return p.WindowFrom != "" || p.WeekdaysOnly }

// open returns the sending window of the day that starts at midnight day.
func (p Pace) open(day time.Time) (from, to time.Time, ok bool) {
	if p.WeekdaysOnly && (day.Weekday() == time.Saturday || day.Weekday() == time.Sunday) {
		return from, to, false
	}
	from, to = day, day.AddDate(0, 0, 1)
	if p.WindowFrom != "" {
		f, _ := parseClock(p.WindowFrom)
		t, _ := parseClock(p.WindowTo)
		from = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, p.location()).Add(f)
		to = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, p.location()).Add(t)
	}
	return from, to, true
}

// At returns when the part of the campaign that starts at fraction frac
// (0 to 1) of its audience should be sent, for a campaign started at start.
func (p Pace) At(start time.Time, frac float64) time.Time {
	frac = min(max(frac, 0), 1)
	if !p.windowed() {
		return start.Add(time.Duration(frac * float64(p.Days) * float64(24*time.Hour)))
	}
	type interval struct{ from, to time.Time }
	var ivs []interval
	var total time.Duration
	s := start.In(p.location())
	day := time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, p.location())
	end := start.AddDate(0, 0, max(p.Days, 1))
	for i := 0; i < 400 && (day.Before(end) || total == 0); i++ {
		if f, t, ok := p.open(day); ok {
			f = later(f, start)
			if p.Days > 0 && total > 0 && t.After(end) {
				t = end
			}
			if t.After(f) {
				ivs = append(ivs, interval{f, t})
				total += t.Sub(f)
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	if len(ivs) == 0 {
		return start
	}
	if p.Days == 0 {
		return ivs[0].from
	}
	target := time.Duration(frac * float64(total))
	for _, iv := range ivs {
		if d := iv.to.Sub(iv.from); target < d {
			return iv.from.Add(target)
		} else {
			target -= d
		}
	}
	return ivs[len(ivs)-1].to
}

// Remaining returns when the part at fraction frac (0 to 1) of what is left
// of a campaign started at start and resumed at now should be sent: the rest
// of the original plan's open time, in the same proportion, so that a pause
// never pushes sends out of the plan (a one-day pace keeps to its day). Once
// the plan is over, everything goes at now.
func (p Pace) Remaining(start, now time.Time, frac float64) time.Time {
	frac = min(max(frac, 0), 1)
	if !p.At(start, 1).After(now) {
		return now
	}
	// The smallest fraction of the plan not yet due at now.
	lo, hi := 0.0, 1.0
	for range 50 {
		mid := (lo + hi) / 2
		if p.At(start, mid).Before(now) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return later(p.At(start, hi+(1-hi)*frac), now)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
