package frholidays

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, Paris()) }

func TestEaster(t *testing.T) {
	t.Parallel()
	want := map[int]string{
		2019: "2019-04-21", 2020: "2020-04-12", 2021: "2021-04-04", 2022: "2022-04-17",
		2023: "2023-04-09", 2024: "2024-03-31", 2025: "2025-04-20", 2026: "2026-04-05",
		2027: "2027-03-28", 2028: "2028-04-16", 2038: "2038-04-25", 2285: "2285-03-22",
	}
	for y, d := range want {
		require.Equal(t, d, Easter(y).Format(time.DateOnly), "year %d", y)
	}
}

func TestHolidays2025(t *testing.T) {
	t.Parallel()
	var got []string
	for _, h := range Holidays(2025) {
		got = append(got, h.Date.Format(time.DateOnly)+" "+h.Name)
	}
	require.Equal(t, []string{
		"2025-01-01 Jour de l'an",
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
	}, got)
}

func TestHolidaysSortedWhenAscensionIsOnFirstMay(t *testing.T) {
	t.Parallel()
	hs := Holidays(2008) // Ascension on 1 May 2008
	for i := 1; i < len(hs); i++ {
		require.False(t, hs[i].Date.Before(hs[i-1].Date))
	}
	require.True(t, IsHoliday(day(2008, time.May, 1)))
}

func TestIsHoliday(t *testing.T) {
	t.Parallel()
	tests := []struct {
		t    time.Time
		want bool
	}{
		{day(2025, time.January, 1), true},
		{day(2025, time.April, 21), true}, // Easter Monday
		{day(2025, time.April, 20), false},
		{day(2025, time.May, 1), true},
		{day(2025, time.May, 8), true},
		{day(2025, time.May, 29), true}, // Ascension
		{day(2025, time.June, 9), true}, // Whit Monday
		{day(2025, time.July, 14), true},
		{day(2025, time.August, 15), true},
		{day(2025, time.November, 1), true},
		{day(2025, time.November, 11), true},
		{day(2025, time.December, 25), true},
		{day(2025, time.December, 26), false},
		{day(2026, time.April, 6), true}, // Easter Monday 2026
		// 30 April 23:30 UTC is already 1 May in Paris.
		{time.Date(2025, time.April, 30, 23, 30, 0, 0, time.UTC), true},
		// 1 May 22:30 UTC is 2 May in Paris.
		{time.Date(2025, time.May, 1, 22, 30, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, IsHoliday(tt.t), tt.t.String())
	}
}

func TestAddWorkingDays(t *testing.T) {
	t.Parallel()
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, Paris()) }
	tests := []struct {
		name string
		from time.Time
		n    int
		want time.Time
	}{
		{"zero", at(2025, time.March, 1, 10), 0, at(2025, time.March, 1, 10)},
		{"within the week", at(2025, time.March, 3, 10), 3, at(2025, time.March, 6, 10)},
		{"over a weekend", at(2025, time.March, 7, 10), 1, at(2025, time.March, 10, 10)},
		{"from a Saturday", at(2025, time.March, 8, 10), 1, at(2025, time.March, 10, 10)},
		{"five days over Easter Monday", at(2025, time.April, 17, 9), 5, at(2025, time.April, 25, 9)},
		{"over 1 May and 8 May", at(2025, time.April, 30, 9), 5, at(2025, time.May, 9, 9)},
		{"over the DST change keeps wall time", at(2025, time.March, 28, 9), 1, at(2025, time.March, 31, 9)},
		{"backwards", at(2025, time.March, 10, 10), -1, at(2025, time.March, 7, 10)},
		{"15 days over Christmas", at(2025, time.December, 19, 10), 15, at(2026, time.January, 13, 10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := AddWorkingDays(tt.from, tt.n)
			require.True(t, tt.want.Equal(got), "want %v, got %v", tt.want, got)
		})
	}
}

func TestParisOffsets(t *testing.T) {
	t.Parallel()
	_, winter := time.Date(2025, time.January, 15, 12, 0, 0, 0, Paris()).Zone()
	_, summer := time.Date(2025, time.July, 15, 12, 0, 0, 0, Paris()).Zone()
	require.Equal(t, 3600, winter)
	require.Equal(t, 7200, summer)
}
