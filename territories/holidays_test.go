package territories

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gaussEaster is Gauss's Easter algorithm (with the 1816 corrections as
// restated by Lichtenberg), written independently of Easter's
// Meeus/Jones/Butcher method so that each checks the other.
func gaussEaster(year int) (time.Month, int) {
	k := year / 100
	m := 15 + (3*k+3)/4 - (8*k+13)/25
	s := 2 - (3*k+3)/4
	a := year % 19
	d := (19*a + m) % 30
	r := (d + a/11) / 29
	og := 21 + d - r
	sz := 7 - (year+year/4+s)%7
	oe := 7 - (og-sz)%7
	os := og + oe // day of March, may exceed 31
	if os > 31 {
		return time.April, os - 31
	}
	return time.March, os
}

// knownEaster is Easter Sunday 2020–2040 as published in almanacs.
var knownEaster = map[int]string{
	2020: "04-12", 2021: "04-04", 2022: "04-17", 2023: "04-09", 2024: "03-31", 2025: "04-20",
	2026: "04-05", 2027: "03-28", 2028: "04-16", 2029: "04-01", 2030: "04-21", 2031: "04-13",
	2032: "03-28", 2033: "04-17", 2034: "04-09", 2035: "03-25", 2036: "04-13", 2037: "04-05",
	2038: "04-25", 2039: "04-10", 2040: "04-01",
}

func TestEasterAgainstGaussAndAlmanac(t *testing.T) {
	t.Parallel()
	for y := 1900; y <= 2200; y++ {
		m, d := gaussEaster(y)
		got := Easter(y)
		require.Equal(t, fmt.Sprintf("%d-%02d-%02d", y, m, d), got.Format(time.DateOnly), "Gauss, year %d", y)
	}
	for y := 2020; y <= 2040; y++ {
		require.Equal(t, fmt.Sprintf("%d-%s", y, knownEaster[y]), Easter(y).Format(time.DateOnly))
	}
}

func day(loc *time.Location, y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 12, 0, 0, 0, loc)
}

func mustDept(t *testing.T, code string) Territory {
	t.Helper()
	tr, ok := ForDepartement(code)
	require.True(t, ok, code)
	return tr
}

// TestHolidays2020To2040 rebuilds each territory's holidays from the
// Labour Code's list, the almanac's Easter dates and the local decrees, and
// compares every day of 2020–2040 with IsHoliday and Holidays.
func TestHolidays2020To2040(t *testing.T) {
	t.Parallel()
	local := map[string][]string{ // MM-DD, or E±n for Easter-relative
		"75": nil, "2A": nil, "57": {"E-2", "12-26"}, "67": {"E-2", "12-26"}, "68": {"E-2", "12-26"},
		"971": {"05-27"}, "972": {"05-22"}, "973": {"06-10"}, "974": {"12-20"}, "975": nil,
		"976": {"04-27"}, "977": {"10-09"}, "978": {"05-28"},
	}
	for code, extra := range local {
		cal := mustDept(t, code).Calendar()
		loc := cal.Location()
		for y := 2020; y <= 2040; y++ {
			easter, err := time.ParseInLocation(time.DateOnly, fmt.Sprintf("%d-%s", y, knownEaster[y]), loc)
			require.NoError(t, err)
			want := map[string]bool{}
			for _, md := range append([]string{"01-01", "05-01", "05-08", "07-14", "08-15", "11-01", "11-11", "12-25", "E+1", "E+39", "E+50"}, extra...) {
				var n int
				if _, err := fmt.Sscanf(md, "E%d", &n); err == nil {
					want[easter.AddDate(0, 0, n).Format(time.DateOnly)] = true
					continue
				}
				want[fmt.Sprintf("%d-%s", y, md)] = true
			}
			var listed []string
			for _, h := range cal.Holidays(y) {
				listed = append(listed, h.Date.Format(time.DateOnly))
				require.Equal(t, 0, h.Date.Hour(), "midnight local")
			}
			require.Len(t, listed, len(want), "%s %d: %v", code, y, listed)
			for _, l := range listed {
				require.True(t, want[l], "%s: %s listed but not a holiday", code, l)
			}
			for d := day(loc, y, time.January, 1); d.Year() == y; d = d.AddDate(0, 0, 1) {
				require.Equal(t, want[d.Format(time.DateOnly)], cal.IsHoliday(d), "%s %s", code, d.Format(time.DateOnly))
			}
		}
	}
}

func TestHolidays2025Named(t *testing.T) {
	t.Parallel()
	var got []string
	for _, h := range mustDept(t, "67").Calendar().Holidays(2025) {
		got = append(got, h.Date.Format(time.DateOnly)+" "+h.Name)
	}
	require.Equal(t, []string{
		"2025-01-01 Jour de l'an",
		"2025-04-18 Vendredi saint",
		"2025-04-21 Lundi de Pâques",
		"2025-05-01 Fête du Travail",
		"2025-05-08 Victoire 1945",
		"2025-05-29 Ascension",
		"2025-06-09 Lundi de Pentecôte",
		"2025-07-14 Fête nationale",
		"2025-08-15 Assomption",
		"2025-11-01 Toussaint",
		"2025-11-11 Armistice 1918",
		"2025-12-25 Noël",
		"2025-12-26 Saint-Étienne",
	}, got)
}

func TestHolidayIsLocalDate(t *testing.T) {
	t.Parallel()
	paris := MetropolitanCalendar()
	// 30 April 23:30 UTC is already 1 May in Paris, still 30 April in Guadeloupe.
	at := time.Date(2025, time.April, 30, 23, 30, 0, 0, time.UTC)
	require.True(t, paris.IsHoliday(at))
	require.False(t, mustDept(t, "971").Calendar().IsHoliday(at))
	// 20 December 2027 in La Réunion starts at 19 December 20:00 UTC.
	reunion := mustDept(t, "974").Calendar()
	require.True(t, reunion.IsHoliday(time.Date(2027, time.December, 19, 20, 30, 0, 0, time.UTC)))
	require.False(t, paris.IsHoliday(time.Date(2027, time.December, 20, 12, 0, 0, 0, time.UTC)))
}

func TestExtraHolidays(t *testing.T) {
	t.Parallel()
	cal := MetropolitanCalendar()
	d := day(cal.Location(), 2027, time.June, 4)
	require.False(t, cal.IsHoliday(d))
	cal = cal.WithExtra(Holiday{Date: time.Date(2027, time.June, 4, 0, 0, 0, 0, time.UTC), Name: "Fermeture"})
	require.True(t, cal.IsHoliday(d))
	require.Contains(t, cal.Holidays(2027), Holiday{Date: time.Date(2027, time.June, 4, 0, 0, 0, 0, cal.Location()), Name: "Fermeture"})
}

func TestAddWorkingDays(t *testing.T) {
	t.Parallel()
	paris := MetropolitanCalendar()
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, Paris()) }
	tests := []struct {
		name string
		cal  Calendar
		from time.Time
		n    int
		want time.Time
	}{
		{"zero", paris, at(2025, time.March, 1, 10), 0, at(2025, time.March, 1, 10)},
		{"within the week", paris, at(2025, time.March, 3, 10), 3, at(2025, time.March, 6, 10)},
		{"over a weekend", paris, at(2025, time.March, 7, 10), 1, at(2025, time.March, 10, 10)},
		{"from a Saturday", paris, at(2025, time.March, 8, 10), 1, at(2025, time.March, 10, 10)},
		{"five days over Easter Monday", paris, at(2025, time.April, 17, 9), 5, at(2025, time.April, 25, 9)},
		{"Good Friday in Alsace", mustDept(t, "67").Calendar(), at(2025, time.April, 17, 9), 5, at(2025, time.April, 28, 9)},
		{"over 1 May and 8 May", paris, at(2025, time.April, 30, 9), 5, at(2025, time.May, 9, 9)},
		{"over the DST change keeps wall time", paris, at(2025, time.March, 28, 9), 1, at(2025, time.March, 31, 9)},
		{"backwards", paris, at(2025, time.March, 10, 10), -1, at(2025, time.March, 7, 10)},
		{"15 days over Christmas", paris, at(2025, time.December, 19, 10), 15, at(2026, time.January, 13, 10)},
		{"La Réunion's 20 December", mustDept(t, "974").Calendar(),
			time.Date(2027, time.December, 17, 10, 0, 0, 0, mustDept(t, "974").Location()), 1,
			time.Date(2027, time.December, 21, 10, 0, 0, 0, mustDept(t, "974").Location())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.cal.AddWorkingDays(tt.from, tt.n)
			require.True(t, tt.want.Equal(got), "want %v, got %v", tt.want, got)
		})
	}
}
