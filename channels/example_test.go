package channels_test

import (
	"fmt"
	"time"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/territories"
)

// An SMS due on Saturday evening waits for Monday morning; one due on the
// Saturday before Easter Monday waits for Tuesday.
func ExampleQuietHours_Next() {
	q := channels.DefaultQuietHours()
	paris := territories.Paris()

	for _, due := range []time.Time{
		time.Date(2025, time.March, 5, 14, 30, 0, 0, paris), // Wednesday afternoon
		time.Date(2025, time.March, 8, 21, 0, 0, 0, paris),  // Saturday 21:00
		time.Date(2025, time.April, 19, 21, 0, 0, 0, paris), // Saturday before Easter Monday
	} {
		fmt.Printf("%s → %s\n", due.Format("Mon 2 Jan 15:04"), q.Next(due).Format("Mon 2 Jan 15:04"))
	}
	// Output:
	// Wed 5 Mar 14:30 → Wed 5 Mar 14:30
	// Sat 8 Mar 21:00 → Mon 10 Mar 08:00
	// Sat 19 Apr 21:00 → Tue 22 Apr 08:00
}
