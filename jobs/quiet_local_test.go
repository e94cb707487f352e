package jobs

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/templates"
)

// TestSMSQuietHoursInLocalTime holds an SMS to 08:00–20:00 in the
// beneficiary's own time zone and territory holidays (issue 16: 04:13 in
// Guadeloupe because quiet hours used Paris time).
func TestSMSQuietHoursInLocalTime(t *testing.T) {
	t.Parallel()
	utc := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, time.UTC) }
	tests := []struct {
		name, ref, postal, phone string
		now                      time.Time
		want                     time.Time // when the SMS may leave; now if at once
	}{
		// Tuesday 9 March 2027, 09:13 Paris (08:13 UTC) is 04:13 in Guadeloupe.
		{"Guadeloupe at night", "2000001", "97110", "+590690123456", utc(2027, 3, 9, 8, 13), utc(2027, 3, 9, 12, 0)},
		{"Guadeloupe at noon", "2000002", "97110", "+590690123456", utc(2027, 3, 9, 16, 0), utc(2027, 3, 9, 16, 0)},
		// 19:30 Paris (18:30 UTC) is 22:30 in La Réunion: next morning 08:00 local, 04:00 UTC.
		{"La Réunion in the evening", "2000003", "97400", "+262692123456", utc(2027, 3, 9, 18, 30), utc(2027, 3, 10, 4, 0)},
		{"La Réunion at 07:59 local", "2000004", "97400", "+262692123456", utc(2027, 3, 10, 3, 59), utc(2027, 3, 10, 4, 0)},
		{"La Réunion at 19:59 local", "2000005", "97400", "+262692123456", utc(2027, 3, 10, 15, 59), utc(2027, 3, 10, 15, 59)},
		// Thursday 27 May 2027 is the abolition of slavery day in Guadeloupe, not in Paris.
		{"Guadeloupe's 27 May", "2000006", "97110", "+590690123456", utc(2027, 5, 27, 14, 0), utc(2027, 5, 28, 12, 0)},
		{"Paris on 27 May", "2000007", "75011", "+33612345678", utc(2027, 5, 27, 14, 0), utc(2027, 5, 27, 14, 0)},
		// No postal code: the +262 number places the beneficiary in La Réunion.
		{"by phone number", "2000008", "", "+262692123456", utc(2027, 3, 9, 18, 30), utc(2027, 3, 10, 4, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			b.deps.Quiet = channels.DefaultQuietHours()
			b.now = tt.now
			rid := b.recipient(t, tt.ref, func(r *recipients.Recipient) {
				r.PostalCode, r.Phone = tt.postal, tt.phone
				if tt.postal == "" {
					r.AddressLine1, r.City = "", ""
				}
			})
			id, _ := b.enqueue(t, notices.New{RecipientID: rid, Kind: notices.ReminderGeneric, IdempotencyKey: "k-" + tt.ref,
				Data: templates.SampleData(string(notices.ReminderGeneric))})
			err := b.deps.deliver(ctx, id, false)
			files, _ := filepath.Glob(filepath.Join(b.outbox.Dir, "sms", "*"))
			if tt.want.Equal(tt.now) {
				require.NoError(t, err)
				require.Len(t, files, 1, "sent at once")
				return
			}
			var snooze *river.JobSnoozeError
			require.True(t, errors.As(err, &snooze), "got %v", err)
			require.Equal(t, tt.want, b.now.Add(snooze.Duration).UTC())
			require.Empty(t, files)
		})
	}
}
