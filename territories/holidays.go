package territories

import (
	"slices"
	"time"
)

// Holiday is one public holiday.
type Holiday struct {
	Date time.Time // midnight in the calendar's time zone
	Name string
}

// Easter returns Easter Sunday of year (Gregorian calendar) as a date
// (midnight UTC).
func Easter(year int) time.Time {
	// Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}

// Calendar is the time zone and public holidays of a territory, plus any
// extra holidays an agency declares.
type Calendar struct {
	loc   *time.Location
	local []localHoliday
	extra map[ymd]string
}

type ymd struct {
	y int
	m time.Month
	d int
}

// Calendar returns the territory's calendar.
func (t Territory) Calendar() Calendar {
	return Calendar{loc: t.Location(), local: t.local}
}

// MetropolitanCalendar is the calendar of Paris: national holidays only.
func MetropolitanCalendar() Calendar { return Metropolitan().Calendar() }

// In returns c with its days counted in loc instead of the territory's zone
// (an agency's declared time zone).
func (c Calendar) In(loc *time.Location) Calendar {
	if loc != nil {
		c.loc = loc
	}
	return c
}

// WithExtra returns c with the extra dates as holidays too (an agency's own
// closure days). Only the dates of the given times count, in c's zone.
func (c Calendar) WithExtra(days ...Holiday) Calendar {
	if len(days) == 0 {
		return c
	}
	extra := make(map[ymd]string, len(c.extra)+len(days))
	for k, v := range c.extra {
		extra[k] = v
	}
	for _, h := range days {
		y, m, d := h.Date.Date()
		extra[ymd{y, m, d}] = h.Name
	}
	c.extra = extra
	return c
}

// Location returns the calendar's time zone.
func (c Calendar) Location() *time.Location {
	if c.loc == nil {
		return Paris()
	}
	return c.loc
}

// Holidays returns the public holidays of year, in date order.
func (c Calendar) Holidays(year int) []Holiday {
	loc := c.Location()
	date := func(m time.Month, d int) time.Time { return time.Date(year, m, d, 0, 0, 0, 0, loc) }
	ey, em, ed := Easter(year).Date()
	plus := func(days int) time.Time { return time.Date(ey, em, ed+days, 0, 0, 0, 0, loc) }
	hs := []Holiday{
		{date(time.January, 1), "Jour de l'an"},
		{plus(1), "Lundi de Pâques"},
		{date(time.May, 1), "Fête du Travail"},
		{date(time.May, 8), "Victoire 1945"},
		{plus(39), "Ascension"},
		{plus(50), "Lundi de Pentecôte"},
		{date(time.July, 14), "Fête nationale"},
		{date(time.August, 15), "Assomption"},
		{date(time.November, 1), "Toussaint"},
		{date(time.November, 11), "Armistice 1918"},
		{date(time.December, 25), "Noël"},
	}
	for _, l := range c.local {
		if l.easter {
			hs = append(hs, Holiday{plus(l.delta), l.name})
		} else {
			hs = append(hs, Holiday{date(l.month, l.day), l.name})
		}
	}
	for k, name := range c.extra {
		if k.y == year {
			hs = append(hs, Holiday{date(k.m, k.d), name})
		}
	}
	// Ascension can fall on 1 or 8 May, a local day on a national one: keep
	// date order and one entry per day.
	slices.SortStableFunc(hs, func(a, b Holiday) int { return a.Date.Compare(b.Date) })
	return slices.CompactFunc(hs, func(a, b Holiday) bool { return a.Date.Equal(b.Date) })
}

// IsHoliday reports whether t falls, in c's zone, on a public holiday.
func (c Calendar) IsHoliday(t time.Time) bool {
	y, m, d := t.In(c.Location()).Date()
	if _, ok := c.extra[ymd{y, m, d}]; ok {
		return true
	}
	ey, em, ed := Easter(y).Date()
	easter := time.Date(ey, em, ed, 0, 0, 0, 0, time.UTC)
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	delta := int(day.Sub(easter).Hours() / 24)
	switch {
	case m == time.January && d == 1, m == time.May && (d == 1 || d == 8), m == time.July && d == 14,
		m == time.August && d == 15, m == time.November && (d == 1 || d == 11), m == time.December && d == 25:
		return true
	case delta == 1 || delta == 39 || delta == 50:
		return true
	}
	for _, l := range c.local {
		if (l.easter && delta == l.delta) || (!l.easter && l.month == m && l.day == d) {
			return true
		}
	}
	return false
}

// IsWorkingDay reports whether t falls, in c's zone, on a day that is
// neither a Saturday, a Sunday nor a public holiday.
func (c Calendar) IsWorkingDay(t time.Time) bool {
	lt := t.In(c.Location())
	if wd := lt.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	return !c.IsHoliday(lt)
}

// AddWorkingDays returns the instant n working days after t (before t when n
// is negative), at the same wall-clock time in c's zone. Saturdays, Sundays
// and public holidays are skipped; the day of t itself does not count,
// whatever it is. AddWorkingDays(t, 0) is t.
func (c Calendar) AddWorkingDays(t time.Time, n int) time.Time {
	if n == 0 {
		return t
	}
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	loc := c.Location()
	lt := t.In(loc)
	y, m, d := lt.Date()
	h, mi, s := lt.Clock()
	for n > 0 {
		d += step
		// Noon is never in a DST gap, so the day test is exact.
		if c.IsWorkingDay(time.Date(y, m, d, 12, 0, 0, 0, loc)) {
			n--
		}
	}
	return time.Date(y, m, d, h, mi, s, lt.Nanosecond(), loc)
}

// AddDays returns the instant n calendar days after t, at the same
// wall-clock time in c's zone.
func (c Calendar) AddDays(t time.Time, n int) time.Time {
	return t.In(c.Location()).AddDate(0, 0, n)
}
