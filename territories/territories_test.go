package territories

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestForPostalCode(t *testing.T) {
	t.Parallel()
	tests := []struct{ pc, dept, zone, region string }{
		{"75015", "75", "Europe/Paris", "FR"},
		{"01000", "01", "Europe/Paris", "FR"},
		{"20000", "2A", "Europe/Paris", "FR"},
		{"20200", "2B", "Europe/Paris", "FR"},
		{"67000", "67", "Europe/Paris", "FR"},
		{"97110", "971", "America/Guadeloupe", "GP"},
		{"97133", "977", "America/St_Barthelemy", "BL"},
		{"97150", "978", "America/Marigot", "MF"},
		{"97200", "972", "America/Martinique", "MQ"},
		{"97300", "973", "America/Cayenne", "GF"},
		{"97400", "974", "Indian/Reunion", "RE"},
		{"97500", "975", "America/Miquelon", "PM"},
		{"97600", "976", "Indian/Mayotte", "YT"},
		{" 97490 ", "974", "Indian/Reunion", "RE"},
	}
	for _, tt := range tests {
		tr, ok := ForPostalCode(tt.pc)
		require.True(t, ok, tt.pc)
		require.Equal(t, tt.dept, tr.Code, tt.pc)
		require.Equal(t, tt.zone, tr.TimeZone, tt.pc)
		require.Equal(t, tt.region, tr.Region, tt.pc)
		require.Equal(t, tt.zone, tr.Location().String())
	}
	for _, bad := range []string{"", "7501", "750150", "ABCDE", "00100", "96100", "98000", "99999"} {
		_, ok := ForPostalCode(bad)
		require.False(t, ok, bad)
	}
}

func TestZoneOffsets(t *testing.T) {
	t.Parallel()
	jan := time.Date(2027, time.January, 15, 12, 0, 0, 0, time.UTC)
	jul := time.Date(2027, time.July, 15, 12, 0, 0, 0, time.UTC)
	want := map[string][2]int{ // hours east of UTC, January and July
		"75": {1, 2}, "971": {-4, -4}, "972": {-4, -4}, "973": {-3, -3}, "974": {4, 4},
		"975": {-3, -2}, "976": {3, 3}, "977": {-4, -4}, "978": {-4, -4},
	}
	for code, w := range want {
		loc := mustDept(t, code).Location()
		_, j := jan.In(loc).Zone()
		_, s := jul.In(loc).Zone()
		require.Equal(t, w, [2]int{j / 3600, s / 3600}, code)
	}
}

func TestForPhoneRegion(t *testing.T) {
	t.Parallel()
	tr, ok := ForPhoneRegion("RE")
	require.True(t, ok)
	require.Equal(t, "974", tr.Code)
	tr, ok = ForPhoneRegion("FR")
	require.True(t, ok)
	require.Equal(t, "Europe/Paris", tr.TimeZone)
	_, ok = ForPhoneRegion("US")
	require.False(t, ok)
	require.Len(t, All(), 8+96)
}
