package compliance_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/compliance"
)

func TestYearlyNoticeDay365NonLeap(t *testing.T) {
	t.Parallel()
	f := setup(t)
	old := paris(2020, 1, 1, 0, 0, 0)
	t1 := paris(2026, 3, 1, 10, 0, 0)

	// Next notice exactly 12 months (365 days) later: no gap.
	r1 := f.recipient("R1", old)
	f.notice(r1, "rights_opened", t1, ptr(t1), "smtp")
	f.notice(r1, "yearly_statement", t1, ptr(t1.AddDate(0, 0, 365)), "smtp")
	// 366 days later: one day uncovered.
	r2 := f.recipient("R2", old)
	f.notice(r2, "rights_opened", t1, ptr(t1), "twilio")
	f.notice(r2, "yearly_statement", t1, ptr(t1.AddDate(0, 0, 366)), "twilio")
	// Sent but never delivered does not count.
	r3 := f.recipient("R3", old)
	f.notice(r3, "rights_changed", paris(2025, 1, 1, 9, 0, 0), ptr(paris(2025, 1, 1, 9, 0, 0)), "print")
	f.notice(r3, "rights_changed", paris(2026, 1, 1, 9, 0, 0), nil, "print")
	// Joined after 1 June 2026 - 12 months: required only from its first anniversary.
	r4 := f.recipient("R4", paris(2026, 12, 15, 0, 0, 0))
	_ = r4
	// Joined too late to be due in the period at all.
	f.recipient("R5", paris(2027, 9, 15, 0, 0, 0))
	// Inactive beneficiaries and test notices do not count.
	r6 := f.recipient("R6", old)
	_, err := f.pool.Exec(f.ctx, `UPDATE recipients SET active = false WHERE id = $1`, r6)
	require.NoError(t, err)
	r7 := f.recipient("R7", old)
	f.noticeOpts(r7, "yearly_statement", t1, ptr(t1), "smtp", true)
	// General information is not a personalised notice.
	r8 := f.recipient("R8", old)
	f.notice(r8, "general_information", t1, ptr(t1), "smtp")

	rep := f.run(compliance.RuleYearlyNotice, "2026-06-01", "2027-12-31", paris(2028, 2, 1, 0, 0, 0))
	require.False(t, rep.Pass)
	require.Equal(t, []string{"R2", "R3", "R4", "R7", "R8"}, rep.Refs("not_covered"))
	require.EqualValues(t, 6, metric(t, rep, "beneficiaries_due"))
	require.EqualValues(t, 1, metric(t, rep, "covered"))
	require.EqualValues(t, 5, metric(t, rep, "not_covered"))
	require.EqualValues(t, 1666, metric(t, rep, "covered_share"))
	require.EqualValues(t, 1, metric(t, rep, "not_yet_due"))
	lapsed := map[string]time.Time{}
	for _, e := range rep.List("not_covered").Entries {
		lapsed[e.Ref] = *e.At
	}
	require.True(t, lapsed["R2"].Equal(paris(2027, 3, 1, 10, 0, 0)), lapsed["R2"])
	require.True(t, lapsed["R3"].Equal(paris(2026, 6, 1, 0, 0, 0)), lapsed["R3"])
	require.True(t, lapsed["R4"].Equal(paris(2027, 12, 15, 0, 0, 0)), lapsed["R4"])
	// R5 is due on 2028-09-15, beyond 30 days: not at risk. R1 is covered until 2028-03-01.
	require.Empty(t, rep.Refs("at_risk"))
	require.Contains(t, rep.Evidence, compliance.EvidenceCount{Level: compliance.EvidenceSMTPAccepted, Count: 2})
	require.Contains(t, rep.Evidence, compliance.EvidenceCount{Level: compliance.EvidenceTwilioDelivered, Count: 2})
}

func TestYearlyNoticeLeapYear(t *testing.T) {
	t.Parallel()
	f := setup(t)
	old := paris(2020, 1, 1, 0, 0, 0)
	t1 := paris(2027, 3, 1, 10, 0, 0)
	// Across 29 February 2028, 12 months are 366 days: still no gap.
	r1 := f.recipient("L1", old)
	f.notice(r1, "rights_opened", t1, ptr(t1), "print")
	f.notice(r1, "yearly_statement", t1, ptr(t1.AddDate(0, 0, 366)), "print")
	// 367 days: a gap.
	r2 := f.recipient("L2", old)
	f.notice(r2, "rights_opened", t1, ptr(t1), "print")
	f.notice(r2, "yearly_statement", t1, ptr(t1.AddDate(0, 0, 367)), "print")
	// A notice of 29 February 2028 covers until 28 February 2029 at the same time.
	r3 := f.recipient("L3", old)
	f.notice(r3, "rights_opened", t1, ptr(t1), "print")
	feb29 := paris(2028, 2, 29, 12, 0, 0)
	f.notice(r3, "no_rights", feb29, ptr(feb29), "print")

	rep := f.run(compliance.RuleYearlyNotice, "2027-06-01", "2029-02-15", paris(2029, 3, 1, 0, 0, 0))
	require.Equal(t, []string{"L2"}, rep.Refs("not_covered"))
	require.True(t, rep.List("not_covered").Entries[0].At.Equal(paris(2028, 3, 1, 10, 0, 0)))
	// Within 30 days of the period end, L1 lapses on 2029-03-01 10:00 and
	// L3 (29 February) on 2029-02-28 12:00.
	require.Equal(t, []string{"L1", "L3"}, rep.Refs("at_risk"))
	require.True(t, rep.List("at_risk").Entries[0].At.Equal(paris(2029, 3, 1, 10, 0, 0)))
	require.True(t, rep.List("at_risk").Entries[1].At.Equal(paris(2029, 2, 28, 12, 0, 0)))
	require.Equal(t, []compliance.EvidenceCount{{Level: compliance.EvidencePrintHanded, Count: 6}}, rep.Evidence)

	// On 28 February 2029 at noon L3 is no longer covered.
	rep = f.run(compliance.RuleYearlyNotice, "2029-02-28", "2029-02-28", paris(2029, 3, 1, 0, 0, 0))
	require.Contains(t, rep.Refs("not_covered"), "L3")
}

func TestYearlyNoticeMidYearJoinerAtRisk(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// Joined 2027-01-20: due from 2028-01-20, within 30 days of the period end, nothing sent.
	f.recipient("J1", paris(2027, 1, 20, 0, 0, 0))
	// Joined 2027-01-20 too, but welcomed with a rights_opened notice: covered until 2028-01-25.
	j2 := f.recipient("J2", paris(2027, 1, 20, 0, 0, 0))
	d := paris(2027, 1, 25, 9, 0, 0)
	f.notice(j2, "rights_opened", d, ptr(d), "smtp")
	// Joined 2027-06-01: due from 2028-06-01, not at risk yet.
	f.recipient("J3", paris(2027, 6, 1, 0, 0, 0))

	rep := f.run(compliance.RuleYearlyNotice, "2027-01-01", "2027-12-31", paris(2028, 1, 1, 0, 0, 0))
	require.True(t, rep.Pass)
	require.EqualValues(t, 0, metric(t, rep, "beneficiaries_due"))
	require.EqualValues(t, 3, metric(t, rep, "not_yet_due"))
	require.EqualValues(t, 10000, metric(t, rep, "covered_share"))
	require.Equal(t, []string{"J1", "J2"}, rep.Refs("at_risk"))
}

func TestGeneralMailings(t *testing.T) {
	t.Parallel()
	f := setup(t)
	old := paris(2020, 1, 1, 0, 0, 0)
	gen := func(r int64, when time.Time, delivered bool) {
		var d *time.Time
		if delivered {
			d = ptr(when)
		}
		f.notice(r, "general_information", when, d, "print")
	}
	g1 := f.recipient("G1", old)
	gen(g1, paris(2028, 1, 10, 9, 0, 0), true)
	gen(g1, paris(2028, 5, 10, 9, 0, 0), true)
	gen(g1, paris(2028, 12, 31, 23, 30, 0), true) // Paris new year's eve: still 2028
	g2 := f.recipient("G2", old)
	gen(g2, paris(2028, 1, 10, 9, 0, 0), true)
	gen(g2, paris(2028, 5, 10, 9, 0, 0), true)
	gen(g2, paris(2028, 9, 10, 9, 0, 0), false) // sent, never delivered
	g3 := f.recipient("G3", old)
	gen(g3, paris(2027, 12, 31, 23, 30, 0), true) // previous year
	gen(g3, paris(2028, 5, 10, 9, 0, 0), true)
	gen(g3, paris(2028, 9, 10, 9, 0, 0), true)
	g4 := f.recipient("G4", paris(2028, 5, 1, 0, 0, 0)) // joined mid-year: not prorated, not judged
	gen(g4, paris(2028, 9, 10, 9, 0, 0), true)
	g5 := f.recipient("G5", old)
	_, err := f.pool.Exec(f.ctx, `UPDATE recipients SET active = false WHERE id = $1`, g5)
	require.NoError(t, err)

	rep := f.run(compliance.RuleGeneralMailings, "2028-01-01", "2028-12-31", paris(2029, 2, 1, 0, 0, 0))
	require.False(t, rep.Pass)
	require.EqualValues(t, 3, metric(t, rep, "whole_year_beneficiaries"))
	require.EqualValues(t, 2, metric(t, rep, "below_target"))
	require.EqualValues(t, 1, metric(t, rep, "2028.met_target"))
	require.EqualValues(t, 2, metric(t, rep, "2028.received_2"))
	require.EqualValues(t, 1, metric(t, rep, "2028.joined_mid_year"))
	require.EqualValues(t, 8, metric(t, rep, "delivered_general_mailings"))
	require.Equal(t, []string{"G2", "G3"}, rep.Refs("below_target"))
	require.EqualValues(t, 2, rep.List("below_target").Entries[0].Value)
	require.Equal(t, []string{"G4"}, rep.Refs("joined_mid_year"))
	require.Equal(t, []compliance.EvidenceCount{{Level: compliance.EvidencePrintHanded, Count: 8}}, rep.Evidence)

	// A third delivered mailing for G2 and G3 makes the year pass.
	gen(g2, paris(2028, 11, 10, 9, 0, 0), true)
	gen(g3, paris(2028, 11, 10, 9, 0, 0), true)
	rep = f.run(compliance.RuleGeneralMailings, "2028-01-01", "2028-12-31", paris(2029, 2, 1, 0, 0, 0))
	require.True(t, rep.Pass, rep.Lists)

	// Judged before the year is over, it cannot pass yet.
	rep = f.run(compliance.RuleGeneralMailings, "2028-01-01", "2028-12-31", paris(2028, 12, 1, 0, 0, 0))
	require.False(t, rep.Pass)
	require.Len(t, rep.Notes, 1)
}

func TestAcknowledgementWithinFiveDays(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// Across the change to summer time (26 March 2028): 5 days are 5x24h, not 5 calendar days.
	rec := paris(2028, 3, 24, 12, 0, 0)
	f.request(req{ref: "A1", received: rec, ack: ptr(rec.Add(120 * time.Hour))})
	f.request(req{ref: "A2", received: rec, ack: ptr(rec.Add(120*time.Hour + time.Second))})
	f.request(req{ref: "A3", received: rec})                                   // never acknowledged: overdue
	f.request(req{ref: "A4", received: paris(2028, 3, 31, 20, 0, 0)})          // still within its 5 days at as-of
	f.request(req{ref: "A5", channel: "post", received: rec})                  // not online: not counted
	f.request(req{ref: "A6", kind: "complaint", received: rec, ack: ptr(rec)}) // online complaint: counted

	rep := f.run(compliance.RuleAcknowledgement, "2028-03-01", "2028-03-31", paris(2028, 4, 2, 0, 0, 0))
	require.False(t, rep.Pass)
	require.EqualValues(t, 5, metric(t, rep, "received"))
	require.EqualValues(t, 2, metric(t, rep, "in_time"))
	require.EqualValues(t, 1, metric(t, rep, "late"))
	require.EqualValues(t, 1, metric(t, rep, "overdue"))
	require.EqualValues(t, 1, metric(t, rep, "pending"))
	require.EqualValues(t, 4, metric(t, rep, "judged"))
	require.EqualValues(t, 5000, metric(t, rep, "in_time_share"))
	require.EqualValues(t, 432000, metric(t, rep, "median_delay"))
	require.EqualValues(t, 432001, metric(t, rep, "p95_delay"))
	require.EqualValues(t, 432001, metric(t, rep, "max_delay"))
	require.Equal(t, []string{"A2"}, rep.Refs("late"))
	require.EqualValues(t, 432001, rep.List("late").Entries[0].Value)
	require.Equal(t, []string{"A3"}, rep.Refs("overdue"))
	require.Equal(t, []compliance.EvidenceCount{{Level: compliance.EvidenceSMTPAccepted, Count: 3}}, rep.Evidence)

	// Judged before the acknowledgement was delivered, A1 was pending, not in time.
	rep = f.run(compliance.RuleAcknowledgement, "2028-03-01", "2028-03-31", rec.Add(time.Hour))
	require.EqualValues(t, 1, metric(t, rep, "in_time"))
	require.EqualValues(t, 4, metric(t, rep, "pending"))
	require.True(t, rep.Pass)
}

// answered adds n requests answered after delay.
func answered(f *fx, prefix string, n int, r req, delay time.Duration) {
	for i := range n {
		r.ref = prefix + string(rune('a'+i))
		r.answer = ptr(r.received.Add(delay))
		f.request(r)
	}
}

func TestAnswer15dThresholdExactly85(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rec := paris(2028, 4, 3, 9, 0, 0)
	day := 24 * time.Hour
	answered(f, "IN", 16, req{received: rec}, 3*day)
	answered(f, "EDGE", 1, req{received: rec}, 15*day) // day 15: in time
	answered(f, "LATE", 1, req{received: rec}, 15*day+time.Second)
	answered(f, "DAY16", 1, req{received: rec}, 16*day)
	f.request(req{ref: "OPEN", received: rec}) // never answered: overdue
	// Neither complaints nor minimum-income requests count here.
	answered(f, "CPL", 1, req{kind: "complaint", received: rec}, 30*day)
	answered(f, "MIN", 1, req{minimumIncome: true, received: rec}, 30*day)

	asOf := paris(2028, 6, 1, 0, 0, 0)
	rep := f.run(compliance.RuleAnswer15d, "2028-04-01", "2028-04-30", asOf)
	require.EqualValues(t, 20, metric(t, rep, "judged"))
	require.EqualValues(t, 17, metric(t, rep, "in_time"))
	require.EqualValues(t, 8500, metric(t, rep, "in_time_share"))
	require.True(t, rep.Pass, "exactly 85 %% passes")
	require.Equal(t, []string{"DAY16a", "LATEa"}, rep.Refs("late"))
	require.Equal(t, []string{"OPEN"}, rep.Refs("overdue"))

	answered(f, "MORE", 1, req{received: rec}, 20*day)
	rep = f.run(compliance.RuleAnswer15d, "2028-04-01", "2028-04-30", asOf)
	require.EqualValues(t, 8095, metric(t, rep, "in_time_share"))
	require.False(t, rep.Pass, "17/21 fails")
}

func TestMinimumIncomeThresholdExactly90(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rec := paris(2028, 4, 3, 9, 0, 0)
	day := 24 * time.Hour
	answered(f, "IN", 8, req{minimumIncome: true, received: rec}, 2*day)
	answered(f, "EDGE", 1, req{minimumIncome: true, received: rec}, 10*day) // day 10: in time
	answered(f, "DAY11", 1, req{minimumIncome: true, received: rec}, 11*day)
	answered(f, "STD", 1, req{received: rec}, 12*day) // not minimum income: not counted here

	asOf := paris(2028, 6, 1, 0, 0, 0)
	rep := f.run(compliance.RuleMinimumIncome, "2028-04-01", "2028-04-30", asOf)
	require.EqualValues(t, 10, metric(t, rep, "judged"))
	require.EqualValues(t, 9000, metric(t, rep, "in_time_share"))
	require.True(t, rep.Pass, "exactly 90 %% passes")
	require.Equal(t, []string{"DAY11a"}, rep.Refs("late"))

	answered(f, "TEN1S", 1, req{minimumIncome: true, received: rec}, 10*day+time.Second)
	rep = f.run(compliance.RuleMinimumIncome, "2028-04-01", "2028-04-30", asOf)
	require.EqualValues(t, 8181, metric(t, rep, "in_time_share"))
	require.False(t, rep.Pass)
}

func TestComplaintsAlwaysWithin15Days(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rec := paris(2028, 4, 3, 9, 0, 0)
	day := 24 * time.Hour
	answered(f, "C15", 1, req{kind: "complaint", received: rec}, 15*day)
	answered(f, "C1", 1, req{kind: "complaint", received: rec}, day)
	answered(f, "REQ", 1, req{received: rec}, 40*day) // a request, not a complaint

	asOf := paris(2028, 6, 1, 0, 0, 0)
	rep := f.run(compliance.RuleComplaints15d, "2028-04-01", "2028-04-30", asOf)
	require.True(t, rep.Pass)
	require.EqualValues(t, 2, metric(t, rep, "in_time"))
	require.Equal(t, []compliance.EvidenceCount{{Level: compliance.EvidencePrintHanded, Count: 2}}, rep.Evidence)

	answered(f, "C16", 1, req{kind: "complaint", received: rec}, 16*day)
	rep = f.run(compliance.RuleComplaints15d, "2028-04-01", "2028-04-30", asOf)
	require.False(t, rep.Pass)
	require.EqualValues(t, 6666, metric(t, rep, "in_time_share"))
	require.Equal(t, []string{"C16a"}, rep.Refs("late"))
}

func TestNoRequestsPassesVacuously(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, rule := range compliance.RuleNames() {
		rep := f.run(rule, "2028-01-01", "2028-12-31", paris(2029, 6, 1, 0, 0, 0))
		require.True(t, rep.Pass, rule)
	}
}

func TestUnknownRuleAndBadPeriod(t *testing.T) {
	t.Parallel()
	_, err := compliance.Run(t.Context(), nil, "nope", compliance.Period{})
	require.ErrorIs(t, err, compliance.ErrInvalid)
	_, err = compliance.ParsePeriod("2028-02-30", "2028-03-01")
	require.ErrorIs(t, err, compliance.ErrInvalid)
	_, err = compliance.ParsePeriod("2028-03-02", "2028-03-01")
	require.ErrorIs(t, err, compliance.ErrInvalid)
}
