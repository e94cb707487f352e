package channels

import (
	"time"

	"github.com/courrier-dev/courrier/territories"
)

// QuietHours says when SMS may be sent: between Start and End (wall-clock
// time since midnight, End excluded) on the allowed weekdays that are not
// holidays. The zero value of each field means its default, so
// QuietHours{} behaves like DefaultQuietHours().
type QuietHours struct {
	Start, End time.Duration // since midnight, default 8h and 20h
	Days       [7]bool       // indexed by time.Weekday; default Monday–Saturday
	Location   *time.Location
	Holidays   func(time.Time) bool // default: metropolitan holidays
}

// DefaultQuietHours returns 08:00–20:00 Europe/Paris, Monday to Saturday,
// never on French public holidays.
func DefaultQuietHours() QuietHours {
	return QuietHours{
		Start:    8 * time.Hour,
		End:      20 * time.Hour,
		Days:     [7]bool{time.Monday: true, time.Tuesday: true, time.Wednesday: true, time.Thursday: true, time.Friday: true, time.Saturday: true},
		Location: territories.Paris(),
		Holidays: territories.MetropolitanCalendar().IsHoliday,
	}
}

func (q QuietHours) withDefaults() QuietHours {
	d := DefaultQuietHours()
	if q.Start == 0 && q.End == 0 {
		q.Start, q.End = d.Start, d.End
	}
	if q.Days == ([7]bool{}) {
		q.Days = d.Days
	}
	if q.Location == nil {
		q.Location = d.Location
	}
	if q.Holidays == nil {
		q.Holidays = d.Holidays
	}
	return q
}

// Next returns t when an SMS may be sent at t, and otherwise the first
// allowed instant after t (in q's location). Windows are wall-clock times, so
// 08:00 stays 08:00 across daylight-saving changes. If no day in the next
// year is allowed (an empty window), Next returns the zero time.
func (q QuietHours) Next(t time.Time) time.Time {
	q = q.withDefaults()
	if q.End <= q.Start {
		return time.Time{}
	}
	lt := t.In(q.Location)
	y, m, d := lt.Date()
	for offset := range 400 {
		// Noon of the day: never in a DST gap, so the day test is exact.
		noon := time.Date(y, m, d+offset, 12, 0, 0, 0, q.Location)
		if !q.Days[noon.Weekday()] || q.Holidays(noon) {
			continue
		}
		start := q.at(noon, q.Start)
		if offset > 0 || lt.Before(start) {
			return start
		}
		if lt.Before(q.at(noon, q.End)) {
			return t
		}
	}
	return time.Time{}
}

// NextIn is Next evaluated in the beneficiary's own calendar: the window is
// wall-clock time in cal's zone (08:00–20:00 in La Réunion is 04:00–16:00
// UTC) and cal's holidays, local ones included, are quiet days. It replaces
// q's Location and Holidays.
func (q QuietHours) NextIn(t time.Time, cal territories.Calendar) time.Time {
	q.Location, q.Holidays = cal.Location(), cal.IsHoliday
	return q.Next(t)
}

// Allowed reports whether an SMS may be sent at t.
func (q QuietHours) Allowed(t time.Time) bool { return q.Next(t).Equal(t) }

// at returns the wall-clock time since midnight on day's date.
func (q QuietHours) at(day time.Time, since time.Duration) time.Time {
	y, m, d := day.Date()
	h := int(since / time.Hour)
	mi := int(since % time.Hour / time.Minute)
	s := int(since % time.Minute / time.Second)
	return time.Date(y, m, d, h, mi, s, 0, q.Location)
}
