package requests

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/territories"
)

func paris(y int, m time.Month, d, h int) time.Time {
	return time.Date(y, m, d, h, 0, 0, 0, territories.Paris())
}

func TestAckDueByCalendarDays(t *testing.T) {
	t.Parallel()
	friday := paris(2027, 3, 12, 18)
	require.Equal(t, time.Friday, friday.Weekday())
	due := Settings{}.AckDueBy(friday)
	require.True(t, due.Equal(paris(2027, 3, 17, 18)), "got %s", due)
	require.Equal(t, time.Wednesday, due.In(territories.Paris()).Weekday())
}

func TestAckDueByWorkingDaysAcrossPublicHoliday(t *testing.T) {
	t.Parallel()
	// Easter Monday 2027 is 29 March: Friday 26 + 5 working days skips the
	// weekend and the holiday.
	due := Settings{WorkingDays: true}.AckDueBy(paris(2027, 3, 26, 18))
	require.True(t, due.Equal(paris(2027, 4, 5, 18)), "got %s", due)
	// Without the holiday it would have been Friday 2 April.
	require.True(t, Settings{WorkingDays: true}.AckDueBy(paris(2027, 3, 5, 18)).Equal(paris(2027, 3, 12, 18)))
}

func TestCalendarDaysKeepWallClockAcrossDST(t *testing.T) {
	t.Parallel()
	// Summer time starts on 28 March 2027: 18:00 stays 18:00 in Paris.
	due := Settings{}.AckDueBy(paris(2027, 3, 26, 18))
	require.True(t, due.Equal(paris(2027, 3, 31, 18)), "got %s", due)
}

func TestAnswerDueByPerKind(t *testing.T) {
	t.Parallel()
	recv := paris(2027, 3, 1, 9)
	s := Settings{}
	require.True(t, s.AnswerDueBy(KindBenefitClaim, false, recv).Equal(paris(2027, 3, 16, 9)))
	require.True(t, s.AnswerDueBy(KindBenefitClaim, true, recv).Equal(paris(2027, 3, 11, 9)))
	require.True(t, s.AnswerDueBy(KindComplaint, true, recv).Equal(paris(2027, 3, 16, 9)))
	s = Settings{AnswerDays: 20, MinimumIncomeDays: 7, ComplaintDays: 30}
	require.Equal(t, 20, s.AnswerDaysFor(KindOther, false))
	require.Equal(t, 7, s.AnswerDaysFor(KindSocialAid, true))
	require.Equal(t, 30, s.AnswerDaysFor(KindComplaint, false))
}

func TestSettingsFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{EnvWorkingDays: "true", EnvAckDays: "3", EnvWatchdogMargin: "24h"}
	s, err := SettingsFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, Settings{WorkingDays: true, AckDays: 3, AnswerDays: 15, MinimumIncomeDays: 10, ComplaintDays: 15, WatchdogMargin: 24 * time.Hour}, s)

	s, err = SettingsFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	require.Equal(t, Settings{}.WithDefaults(), s)

	for k, v := range map[string]string{EnvWorkingDays: "peut-être", EnvAckDays: "-1", EnvComplaintDays: "x", EnvWatchdogMargin: "2 jours"} {
		_, err := SettingsFromEnv(func(key string) string {
			if key == k {
				return v
			}
			return ""
		})
		require.ErrorContains(t, err, k)
	}
}

func setup(t *testing.T) (DBTX, int64) {
	t.Helper()
	pool := pgtest.New(t)
	rid, _, err := recipients.Upsert(context.Background(), pool, &recipients.Recipient{
		Ref: "2000001", Email: "a@exemple.fr", ConsentEmail: true, ConsentSMS: true, ConsentLetter: true, Active: true})
	require.NoError(t, err)
	return pool, rid
}

func TestReceiveReplayAndConflict(t *testing.T) {
	t.Parallel()
	db, rid := setup(t)
	ctx := context.Background()
	now := paris(2027, 3, 12, 18)
	n := New{ExternalID: "DEM-1", RecipientID: rid, Kind: KindBenefitClaim, MinimumIncome: true, ReceivedAt: now, CreatedBy: "key:1"}
	req, created, err := Receive(ctx, db, n, Settings{}, now)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, StateReceived, req.State)
	require.Equal(t, "online", req.Channel)
	require.True(t, req.AckDueBy.Equal(paris(2027, 3, 17, 18)))
	require.True(t, req.AnswerDueBy.Equal(paris(2027, 3, 22, 18)))

	again, created, err := Receive(ctx, db, n, Settings{}, now)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, req.ID, again.ID)

	n.Kind = KindComplaint
	_, _, err = Receive(ctx, db, n, Settings{}, now)
	require.ErrorIs(t, err, ErrConflict)

	for field, bad := range map[string]New{
		"request_id":  {RecipientID: rid, Kind: KindOther, ReceivedAt: now},
		"kind":        {ExternalID: "x", RecipientID: rid, Kind: "wish", ReceivedAt: now},
		"channel":     {ExternalID: "x", RecipientID: rid, Kind: KindOther, Channel: "pigeon", ReceivedAt: now},
		"received_at": {ExternalID: "x", RecipientID: rid, Kind: KindOther, ReceivedAt: now.Add(time.Hour)},
	} {
		_, _, err := Receive(ctx, db, bad, Settings{}, now)
		var inv *InvalidError
		require.True(t, errors.As(err, &inv), field)
		require.Equal(t, field, inv.Field)
	}
}

func TestStateFollowsNoticeDeliveryAndBreaches(t *testing.T) {
	t.Parallel()
	db, rid := setup(t)
	ctx := context.Background()
	recv := paris(2027, 3, 12, 18)
	req, _, err := Receive(ctx, db, New{ExternalID: "DEM-2", RecipientID: rid, Kind: KindOther, ReceivedAt: recv}, Settings{}, recv)
	require.NoError(t, err)
	ack, _, err := notices.Insert(ctx, db, notices.New{RecipientID: rid, Kind: notices.RequestAcknowledgement, IdempotencyKey: "ack"})
	require.NoError(t, err)
	require.NoError(t, SetAckNotice(ctx, db, req.ID, ack))

	risky, err := AcksAtRisk(ctx, db, recv.Add(4*24*time.Hour), 48*time.Hour, 10)
	require.NoError(t, err)
	require.Len(t, risky, 1)
	require.Equal(t, ack, risky[0].NoticeID)

	// Delivered after its deadline: acknowledged, and the breach recorded.
	late := req.AckDueBy.Add(time.Hour)
	require.NoError(t, notices.SetState(ctx, db, ack, notices.StateDelivered, "email", "", late))
	req, err = Get(ctx, db, req.ID)
	require.NoError(t, err)
	require.Equal(t, StateAcknowledged, req.State)
	breaches, err := RecordBreaches(ctx, db, late.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, breaches, 1)
	require.Equal(t, "acknowledgement", breaches[0].Deadline)
	require.True(t, breaches[0].MetAt.Equal(late))
	again, err := RecordBreaches(ctx, db, late.Add(2*time.Hour))
	require.NoError(t, err)
	require.Empty(t, again, "a breach is recorded once")

	// At risk near the processing deadline, then answered and closed.
	atRisk, err := AnswersAtRisk(ctx, db, req.AnswerDueBy.Add(-time.Hour), 48*time.Hour, 10)
	require.NoError(t, err)
	require.Len(t, atRisk, 1)
	ans, _, err := notices.Insert(ctx, db, notices.New{RecipientID: rid, Kind: notices.RequestAnswer, IdempotencyKey: "answer"})
	require.NoError(t, err)
	require.NoError(t, Answer(ctx, db, req.ID, ans, "key:1/Marie Curie", recv.Add(24*time.Hour)))
	req, _ = Get(ctx, db, req.ID)
	require.Equal(t, StateAnswered, req.State)
	require.Equal(t, "key:1/Marie Curie", req.AnsweredBy)
	other, _, _ := notices.Insert(ctx, db, notices.New{RecipientID: rid, Kind: notices.RequestAnswer, IdempotencyKey: "answer-2"})
	require.ErrorIs(t, Answer(ctx, db, req.ID, other, "", recv), ErrConflict)

	delivered := recv.Add(48 * time.Hour)
	require.NoError(t, notices.SetState(ctx, db, ans, notices.StateDelivered, "letter", "", delivered))
	req, _ = Get(ctx, db, req.ID)
	require.Equal(t, StateClosed, req.State)
	require.True(t, req.ClosedAt.Equal(delivered))
	breaches, err = RecordBreaches(ctx, db, req.AnswerDueBy.Add(time.Hour))
	require.NoError(t, err)
	require.Empty(t, breaches, "answered in time")
}
