// Package frholidays knows the French public holidays of metropolitan France
// and counts working days, both on the Europe/Paris calendar.
//
// The list is the eleven holidays of the Labour Code (article L3133-1):
// 1 January, Easter Monday, 1 May, 8 May, Ascension Day, Whit Monday,
// 14 July, 15 August, 1 November, 11 November and 25 December. Regional
// holidays (Alsace-Moselle's Good Friday and 26 December, the abolition of
// slavery days overseas) are not included.
package frholidays

import (
	"sync"
	"time"
	_ "time/tzdata" // Europe/Paris must resolve on machines without zoneinfo
)

var paris = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		// Unreachable: time/tzdata embeds the zone.
		panic("frholidays: load Europe/Paris: " + err.Error())
	}
	return loc
})

// Paris returns the Europe/Paris time zone.
func Paris() *time.Location { return paris() }

// Holiday is one public holiday.
type Holiday struct {
	Date time.Time // midnight, Europe/Paris
	Name string
}

// Easter returns Easter Sunday of year (Gregorian calendar), at midnight in
// Europe/Paris.
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
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, Paris())
}

// Holidays returns the public holidays of year in date order.
func Holidays(year int) []Holiday {
	loc := Paris()
	date := func(m time.Month, d int) time.Time { return time.Date(year, m, d, 0, 0, 0, 0, loc) }
	easter := Easter(year)
	plus := func(days int) time.Time { return easter.AddDate(0, 0, days) }
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
	// Ascension can fall on 1 or 8 May; keep date order.
	for i := 1; i < len(hs); i++ {
		for j := i; j > 0 && hs[j].Date.Before(hs[j-1].Date); j-- {
			hs[j], hs[j-1] = hs[j-1], hs[j]
		}
	}
	return hs
}

type ymd struct {
	y int
	m time.Month
	d int
}

var cache sync.Map // year → map[ymd]bool

func holidaySet(year int) map[ymd]bool {
	if s, ok := cache.Load(year); ok {
		return s.(map[ymd]bool)
	}
	s := map[ymd]bool{}
	for _, h := range Holidays(year) {
		y, m, d := h.Date.Date()
		s[ymd{y, m, d}] = true
	}
	cache.Store(year, s)
	return s
}

// IsHoliday reports whether t falls, in Europe/Paris, on a public holiday.
func IsHoliday(t time.Time) bool {
	y, m, d := t.In(Paris()).Date()
	return holidaySet(y)[ymd{y, m, d}]
}

// IsWorkingDay reports whether t falls, in Europe/Paris, on a day that is
// neither a Saturday, a Sunday nor a public holiday.
func IsWorkingDay(t time.Time) bool {
	lt := t.In(Paris())
	if wd := lt.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	return !IsHoliday(lt)
}

// AddWorkingDays returns the instant n working days after t (before t when n
// is negative), at the same wall-clock time in Europe/Paris. Saturdays,
// Sundays and public holidays are skipped; the day of t itself does not
// count, whatever it is. AddWorkingDays(t, 0) is t.
func AddWorkingDays(t time.Time, n int) time.Time {
	if n == 0 {
		return t
	}
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	lt := t.In(Paris())
	y, m, d := lt.Date()
	h, mi, s := lt.Clock()
	for n > 0 {
		d += step
		// Noon is never in a DST gap, so the day test is exact.
		if IsWorkingDay(time.Date(y, m, d, 12, 0, 0, 0, Paris())) {
			n--
		}
	}
	return time.Date(y, m, d, h, mi, s, lt.Nanosecond(), Paris())
}
