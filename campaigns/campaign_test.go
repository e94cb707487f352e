package campaigns

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

func TestFourEyes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	c, created, err := Create(ctx, pool, New{Kind: GeneralMailing, Data: map[string]any{"period": "printemps 2027"}, CreatedBy: "alice"}, nil)
	require.NoError(t, err)
	require.True(t, created)
	require.True(t, c.NeedsApproval)
	require.Equal(t, StateDraft, c.State)

	// Cannot start without approval.
	_, err = MarkStarted(ctx, pool, c.ID, "alice", time.Now(), nil)
	code, _ := ErrorCode(err)
	require.Equal(t, CodeApproval, code, "%v", err)

	// The creator cannot approve, whatever the case.
	_, err = Approve(ctx, pool, c.ID, "ALICE")
	require.ErrorContains(t, err, "four-eyes")
	code, _ = ErrorCode(err)
	require.Equal(t, CodeApproval, code)

	c, err = Approve(ctx, pool, c.ID, "bob")
	require.NoError(t, err)
	require.Equal(t, StateApproved, c.State)
	require.Equal(t, "bob", c.ApprovedBy)
	c, err = MarkStarted(ctx, pool, c.ID, "alice", time.Now(), nil)
	require.NoError(t, err)
	require.Equal(t, StateRunning, c.State)

	events, err := Events(ctx, pool, c.ID)
	require.NoError(t, err)
	var seq []string
	for _, e := range events {
		seq = append(seq, e.Event+":"+e.Actor)
	}
	require.Equal(t, []string{"created:alice", "approved:bob", "started:alice"}, seq)

	// The ledger is append-only.
	_, err = pool.Exec(ctx, `UPDATE campaign_events SET actor = 'mallory'`)
	require.ErrorContains(t, err, "append-only")

	// A pre-approval by the creator is refused.
	_, _, err = Create(ctx, pool, New{Kind: GeneralMailing, Data: map[string]any{"period": "x"}, CreatedBy: "alice", ApprovedBy: "alice"}, nil)
	require.ErrorContains(t, err, "four-eyes")
}

func TestReminderApprovalThreshold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	_, err := pool.Exec(ctx, `INSERT INTO recipients (ref, benefits) SELECT 'R' || g, '{RSA}' FROM generate_series(1, 5) g`)
	require.NoError(t, err)
	data := map[string]any{"documents": []any{"un justificatif"}, "due_date": "2027-05-01"}
	cfg := &Config{ApprovalThreshold: 4}
	big, _, err := Create(ctx, pool, New{Kind: Reminder, TemplateKey: "reminder_missing_document", Data: data, CreatedBy: "alice"}, cfg)
	require.NoError(t, err)
	require.True(t, big.NeedsApproval)
	_, err = MarkStarted(ctx, pool, big.ID, "alice", time.Now(), cfg)
	require.ErrorContains(t, err, "needs approval")

	small, _, err := Create(ctx, pool, New{Kind: Reminder, TemplateKey: "reminder_missing_document", Data: data, CreatedBy: "alice",
		Audience: Audience{Benefits: []string{"RSA"}, Departements: []string{"75"}}}, cfg)
	require.NoError(t, err)
	require.False(t, small.NeedsApproval)
	started, err := MarkStarted(ctx, pool, small.ID, "alice", time.Now(), cfg)
	require.NoError(t, err)
	require.Equal(t, StateRunning, started.State)

	// Data must satisfy the template's declared fields; the error names it.
	_, _, err = Create(ctx, pool, New{Kind: Reminder, TemplateKey: "reminder_missing_document", Data: map[string]any{"due_date": "2027-05-01"}, CreatedBy: "alice"}, cfg)
	code, field := ErrorCode(err)
	require.Equal(t, CodeInvalid, code)
	require.Equal(t, "data", field)
	require.ErrorContains(t, err, "documents")
	_, _, err = Create(ctx, pool, New{Kind: Reminder, TemplateKey: "general_information", Data: map[string]any{"period": "x"}, CreatedBy: "alice"}, cfg)
	require.ErrorContains(t, err, "not a reminder_* kind")
}

func TestCalendarValidation(t *testing.T) {
	t.Parallel()
	cal, err := DefaultCalendar()
	require.NoError(t, err)
	require.Len(t, cal.GeneralMailings, 3)
	require.Equal(t, 330*24*time.Hour, cal.Sweep.LeadTime())
	require.Equal(t, 15*24*time.Hour, cal.Outreach.Delay("child_death"))

	base := string(DefaultCalendarYAML())
	cases := []struct{ name, src, want string }{
		{"two mailings", strings.Replace(base, "date: 2027-10-12", "date: 2028-10-12", 1),
			"calendar general_mailings: 2027 has 2 general mailing(s)"},
		{"bad date", strings.Replace(base, "2027-06-15", "2027-06-31", 1), "general_mailings[1].date: \"2027-06-31\" is not a date"},
		{"bad template", strings.Replace(base, "template: general_information\n    data: {period: \"été 2027\"}", "template: nope\n    data: {period: \"été 2027\"}", 1),
			"general_mailings[1].template: no template \"nope\""},
		{"missing field", strings.Replace(base, `data: {period: "automne 2027"}`, `data: {}`, 1), "general_mailings[2].data"},
		{"bad month", strings.Replace(base, "months: [1, 4, 7, 10]", "months: [1, 13]", 1), "reminders[0].months[1]: 13 is not a month"},
		{"bad placeholder", strings.Replace(base, "{date+15d}", "{tomorrow}", 1), "unknown placeholder {tomorrow}"},
		{"bad audience", strings.Replace(base, "audience: {benefits: [RSA]}", "audience: {regions: [atlantis]}", 1), "reminders[0].audience.regions[0]"},
		{"self approval", strings.Replace(base, "approved_by: a.durand     #", "approved_by: c.martin     #", 1), "general_mailings[0].approved_by: four-eyes"},
		{"duplicate id", strings.Replace(base, "lettre-ete-2027", "lettre-printemps-2027", 1), "general_mailings[1].id"},
		{"bad delay", strings.Replace(base, "separation: 7", "divorce: 7", 1), "outreach.delay_days.divorce"},
		{"unknown key", base + "\nsurprise: true\n", "surprise"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCalendar([]byte(tc.src), nil)
			require.ErrorContains(t, err, tc.want)
		})
	}
	allowed := "allow_fewer_general_mailings: true\n" + strings.Replace(base, "allow_fewer_general_mailings: false\n", "", 1)
	allowed = strings.Replace(allowed, "date: 2027-10-12", "date: 2028-10-12", 1)
	_, err = ParseCalendar([]byte(allowed), nil)
	require.NoError(t, err)
}

func TestCalendarOccurrences(t *testing.T) {
	t.Parallel()
	cal, err := DefaultCalendar()
	require.NoError(t, err)
	from := time.Date(2027, 1, 1, 0, 0, 0, 0, Paris())
	occ, err := cal.Occurrences(from, from.AddDate(1, 0, 0))
	require.NoError(t, err)
	var keys []string
	for _, o := range occ {
		keys = append(keys, o.Key())
	}
	require.Equal(t, []string{
		"rsa-declaration-trimestrielle@2027-01-01", "lettre-printemps-2027@2027-03-16",
		"rsa-declaration-trimestrielle@2027-04-01", "lettre-ete-2027@2027-06-15",
		"rsa-declaration-trimestrielle@2027-07-01", "rsa-declaration-trimestrielle@2027-10-01",
		"lettre-automne-2027@2027-10-12",
	}, keys)
	apr := occ[2]
	require.Equal(t, "janvier à mars 2027", apr.New.Data["period"])
	require.Equal(t, "2027-04-16", apr.New.Data["due_date"])
	require.Equal(t, time.Date(2027, 4, 1, 8, 0, 0, 0, Paris()), apr.At)
	require.Equal(t, time.Date(2027, 3, 16, 9, 0, 0, 0, Paris()), cal.Next(time.Date(2027, 2, 1, 0, 0, 0, 0, Paris())))
}

func TestSyncCalendarIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	cal, err := DefaultCalendar()
	require.NoError(t, err)
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, Paris())
	for range 2 {
		require.NoError(t, SyncCalendarAt(ctx, pool, cal, now, nil))
	}
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM campaigns`).Scan(&n))
	require.Equal(t, 2, n, "spring mailing and April reminder are within 45 days")
	var state, approver string
	require.NoError(t, pool.QueryRow(ctx, `SELECT state, approved_by FROM campaigns WHERE calendar_key = 'lettre-printemps-2027@2027-03-16'`).Scan(&state, &approver))
	require.Equal(t, StateApproved, state)
	require.Equal(t, "a.durand", approver)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM campaign_calendar WHERE active`).Scan(&n))
	require.Equal(t, 6, n)
}

func TestPace(t *testing.T) {
	t.Parallel()
	start := time.Date(2027, 3, 12, 17, 0, 0, 0, Paris()) // a Friday, 17:00
	require.Equal(t, start, Pace{}.At(start, 0.7))
	require.Equal(t, start.Add(36*time.Hour), Pace{Days: 3}.At(start, 0.5))
	p := Pace{Days: 2, WindowFrom: "09:00", WindowTo: "18:00", WeekdaysOnly: true}
	require.Equal(t, start, p.At(start, 0))
	// Open time: Friday 17–18 (1 h) then Monday 09–17 (2 days from start
	// ends Sunday 17:00, so it extends to the next open day).
	got := p.At(start, 1)
	require.True(t, got.After(start))
	w := Pace{WindowFrom: "09:00", WindowTo: "18:00"}
	night := time.Date(2027, 3, 12, 22, 0, 0, 0, Paris())
	require.Equal(t, time.Date(2027, 3, 13, 9, 0, 0, 0, Paris()), w.At(night, 0.9))
	require.ErrorContains(t, Pace{WindowFrom: "18:00", WindowTo: "09:00"}.Validate(), "pace.window_to")
}

// TestSyncCalendarCancelsRemovedEntries: a campaign prepared from a
// calendar entry is cancelled, with the reason recorded, once the entry is
// removed from the calendar (issue 16: it stayed approved and would go).
func TestSyncCalendarCancelsRemovedEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	cal, err := DefaultCalendar()
	require.NoError(t, err)
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, Paris())
	require.NoError(t, SyncCalendarAt(ctx, pool, cal, now, nil))

	src := strings.Replace(string(DefaultCalendarYAML()), "  - id: lettre-printemps-2027\n", "  - id: lettre-printemps-2027-bis\n", 1)
	edited, err := ParseCalendar([]byte(src), nil)
	require.NoError(t, err)
	require.NoError(t, SyncCalendarAt(ctx, pool, edited, now, nil))

	var id int64
	var state string
	require.NoError(t, pool.QueryRow(ctx, `SELECT id, state FROM campaigns WHERE calendar_key = 'lettre-printemps-2027@2027-03-16'`).Scan(&id, &state))
	require.Equal(t, StateCancelled, state)
	events, err := Events(ctx, pool, id)
	require.NoError(t, err)
	last := events[len(events)-1]
	require.Equal(t, "cancelled", last.Event)
	require.Equal(t, "calendar", last.Actor)
	require.Contains(t, last.Detail, `calendar entry "lettre-printemps-2027" was removed from the calendar`)
	require.NoError(t, pool.QueryRow(ctx, `SELECT state FROM campaigns WHERE calendar_key = 'lettre-printemps-2027-bis@2027-03-16'`).Scan(&state))
	require.Equal(t, StateApproved, state, "the renamed entry has its own campaign")
	require.NoError(t, pool.QueryRow(ctx, `SELECT state FROM campaigns WHERE calendar_key LIKE 'rsa-declaration-trimestrielle@%'`).Scan(&state))
	require.NotEqual(t, StateCancelled, state, "entries still in the calendar are untouched")
}
