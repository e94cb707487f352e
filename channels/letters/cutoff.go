package letters

import (
	"fmt"
	"time"

	"github.com/courrier-dev/courrier/territories"
)

var paris = territories.Paris()

// printCalendar is the print house's calendar: metropolitan working days.
var printCalendar = territories.MetropolitanCalendar()

// workingDay is the one place the letters package asks the calendar: print
// houses work on French working days (no Saturday, Sunday or public
// holiday).
func workingDay(t time.Time) bool { return printCalendar.IsWorkingDay(t) }

// Cutoff is the daily time after which the day's letters leave for the print
// house, on working days only, in Europe/Paris. It is a River periodic
// schedule (it has Next).
type Cutoff struct {
	Hour, Minute int
}

// DefaultCutoff is 16:00 Europe/Paris.
var DefaultCutoff = Cutoff{Hour: 16}

// ParseCutoff reads "16:00".
func ParseCutoff(s string) (Cutoff, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return Cutoff{}, fmt.Errorf("cut-off %q: want HH:MM (Europe/Paris)", s)
	}
	return Cutoff{Hour: t.Hour(), Minute: t.Minute()}, nil
}

func (c Cutoff) String() string { return fmt.Sprintf("%02d:%02d Europe/Paris", c.Hour, c.Minute) }

func (c Cutoff) on(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, c.Hour, c.Minute, 0, 0, paris)
}

// Next returns the first cut-off strictly after t.
func (c Cutoff) Next(t time.Time) time.Time {
	lt := t.In(paris)
	y, m, d := lt.Date()
	for i := 0; i < 400; i++ {
		at := c.on(y, m, d+i)
		if at.After(t) && workingDay(at) {
			return at
		}
	}
	panic("letters: no working day within 400 days")
}

// Last returns the latest cut-off at or before t.
func (c Cutoff) Last(t time.Time) time.Time {
	lt := t.In(paris)
	y, m, d := lt.Date()
	for i := 0; i < 400; i++ {
		at := c.on(y, m, d-i)
		if !at.After(t) && workingDay(at) {
			return at
		}
	}
	panic("letters: no working day within 400 days")
}
