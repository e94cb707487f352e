package channels

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/territories"
)

func TestQuietHoursNext(t *testing.T) {
	t.Parallel()
	paris := territories.Paris()
	at := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, paris) }
	q := DefaultQuietHours()
	tests := []struct {
		name string
		t    time.Time
		want time.Time
	}{
		{"allowed instant returns itself", at(2025, time.March, 5, 14, 30), at(2025, time.March, 5, 14, 30)},
		{"exactly 08:00 is allowed", at(2025, time.March, 5, 8, 0), at(2025, time.March, 5, 8, 0)},
		{"Saturday afternoon is allowed", at(2025, time.March, 8, 15, 0), at(2025, time.March, 8, 15, 0)},
		{"before 08:00 waits for 08:00", at(2025, time.March, 5, 6, 15), at(2025, time.March, 5, 8, 0)},
		{"20:00 is already quiet", at(2025, time.March, 5, 20, 0), at(2025, time.March, 6, 8, 0)},
		{"Saturday 21:00 → Monday 08:00", at(2025, time.March, 8, 21, 0), at(2025, time.March, 10, 8, 0)},
		{"Sunday → Monday 08:00", at(2025, time.March, 9, 11, 0), at(2025, time.March, 10, 8, 0)},
		{"Saturday night before Easter Monday → Tuesday", at(2025, time.April, 19, 21, 0), at(2025, time.April, 22, 8, 0)},
		{"Saturday night before Monday 1 May → Tuesday", at(2023, time.April, 29, 21, 0), at(2023, time.May, 2, 8, 0)},
		{"on 14 July → next day", at(2025, time.July, 14, 10, 0), at(2025, time.July, 15, 8, 0)},
		{"Christmas Eve evening → 26 December", at(2025, time.December, 24, 20, 30), at(2025, time.December, 26, 8, 0)},
		// Spring forward: Sunday 30 March 2025 02:00 CET → 03:00 CEST.
		{"DST spring weekend", at(2025, time.March, 29, 21, 0), at(2025, time.March, 31, 8, 0)},
		// Fall back: Sunday 26 October 2025 03:00 CEST → 02:00 CET.
		{"DST autumn weekend", at(2025, time.October, 25, 21, 0), at(2025, time.October, 27, 8, 0)},
		// Sunday 23:30 UTC in winter is Monday 00:30 in Paris.
		{"UTC input is read in Paris", time.Date(2025, time.March, 9, 23, 30, 0, 0, time.UTC), at(2025, time.March, 10, 8, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := q.Next(tt.t)
			require.True(t, tt.want.Equal(got), "want %v, got %v", tt.want, got)
			require.False(t, got.Before(tt.t))
			require.Equal(t, tt.want.Equal(tt.t), q.Allowed(tt.t))
		})
	}
}

func TestQuietHoursDSTOffsets(t *testing.T) {
	t.Parallel()
	q := DefaultQuietHours()
	spring := q.Next(time.Date(2025, time.March, 29, 21, 0, 0, 0, territories.Paris()))
	require.Equal(t, time.Date(2025, time.March, 31, 6, 0, 0, 0, time.UTC), spring.UTC(), "08:00 CEST")
	autumn := q.Next(time.Date(2025, time.October, 25, 21, 0, 0, 0, territories.Paris()))
	require.Equal(t, time.Date(2025, time.October, 27, 7, 0, 0, 0, time.UTC), autumn.UTC(), "08:00 CET")
}

func TestQuietHoursZeroValueIsDefault(t *testing.T) {
	t.Parallel()
	sat := time.Date(2025, time.March, 8, 21, 0, 0, 0, territories.Paris())
	require.True(t, DefaultQuietHours().Next(sat).Equal(QuietHours{}.Next(sat)))
}

func TestQuietHoursCustom(t *testing.T) {
	t.Parallel()
	q := QuietHours{
		Start:    9*time.Hour + 30*time.Minute,
		End:      17 * time.Hour,
		Days:     [7]bool{time.Monday: true, time.Wednesday: true},
		Location: time.UTC,
		Holidays: func(t time.Time) bool { return t.Month() == time.March && t.Day() == 10 },
	}
	// Saturday 8 March → Monday 10 is a "holiday" → Wednesday 12 at 09:30 UTC.
	got := q.Next(time.Date(2025, time.March, 8, 12, 0, 0, 0, time.UTC))
	require.Equal(t, time.Date(2025, time.March, 12, 9, 30, 0, 0, time.UTC), got)

	empty := QuietHours{Start: 10 * time.Hour, End: 9 * time.Hour}
	require.True(t, empty.Next(time.Now()).IsZero())
}
