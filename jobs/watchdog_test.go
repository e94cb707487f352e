package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/requests"
	"github.com/courrier-dev/courrier/territories"
)

// awaitingChannel accepts messages but never has a delivery receipt, like an
// SMS provider whose status callback does not come.
type awaitingChannel struct{ n int }

func (c *awaitingChannel) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	c.n++
	return channels.Receipt{Provider: "fake", MessageID: "m-" + string(rune('0'+c.n))}, nil
}

func (c *awaitingChannel) Provider() string { return "fake" }

func (b *testBundle) receive(t *testing.T, rid int64, externalID string, received time.Time) *RequestResult {
	t.Helper()
	ctx := context.Background()
	var res *RequestResult
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		var err error
		res, err = ReceiveRequest(ctx, tx, b.client, requests.New{ExternalID: externalID, RecipientID: rid,
			Kind: requests.KindBenefitClaim, ReceivedAt: received, CreatedBy: "test"}, "", requests.Settings{}, false, received)
		return err
	}))
	return res
}

func (b *testBundle) watchdog() *DeadlineWatchdogWorker {
	return &DeadlineWatchdogWorker{Pool: b.pool, Client: b.client, Now: func() time.Time { return b.now }}
}

func TestWatchdogEscalatesUndeliveredAcknowledgement(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.deps.Channels[channels.Email] = &awaitingChannel{}
	rid := b.recipient(t, "3000001", nil)
	received := time.Date(2027, 3, 12, 18, 0, 0, 0, territories.Paris()) // a Friday
	b.now = received
	res := b.receive(t, rid, "DEM-W1", received)
	require.Equal(t, 1, countJobs(t, b.pool, "deliver"))

	// The email is accepted, but no delivery evidence ever comes.
	b.now = received.Add(time.Minute)
	require.NoError(t, b.deps.deliver(ctx, res.NoticeID, false))
	n, _ := notices.Get(ctx, b.pool, res.NoticeID)
	require.Equal(t, notices.StateSent, n.State)

	// Three days later, more than the margin is left: nothing to do.
	b.now = received.Add(72 * time.Hour)
	rep, err := b.watchdog().Run(ctx, b.client)
	require.NoError(t, err)
	require.Empty(t, rep.AcksAtRisk)

	// Less than 48 hours left: the email is given up, the next channel queued.
	b.now = res.Request.AckDueBy.Add(-47 * time.Hour)
	rep, err = b.watchdog().Run(ctx, b.client)
	require.NoError(t, err)
	require.Equal(t, []int64{res.Request.ID}, rep.AcksAtRisk)
	require.Equal(t, []int64{res.NoticeID}, rep.Escalated)
	require.Equal(t, 2, countJobs(t, b.pool, "deliver"))
	n, _ = notices.Get(ctx, b.pool, res.NoticeID)
	require.Equal(t, notices.StatePending, n.State)
	dls, _ := ledger.DeliveriesForNotice(ctx, b.pool, res.NoticeID)
	require.Len(t, dls, 1)
	require.Equal(t, ledger.StateFailed, dls[0].State)
	require.Equal(t, "escalated", dls[0].ErrorCode)
	evs, _ := ledger.EventsForNotice(ctx, b.pool, res.NoticeID)
	require.Equal(t, "failed", evs[len(evs)-1].Event)
	require.Equal(t, "escalated", evs[len(evs)-1].ErrorCode)

	// Run again at once: the new job has not run yet, nothing more happens.
	rep, err = b.watchdog().Run(ctx, b.client)
	require.NoError(t, err)
	require.Empty(t, rep.Escalated)
	require.Equal(t, 2, countJobs(t, b.pool, "deliver"))

	// The deliver job sends by SMS (the outbox here): the request is acknowledged.
	require.NoError(t, b.deps.deliver(ctx, res.NoticeID, false))
	n, _ = notices.Get(ctx, b.pool, res.NoticeID)
	require.Equal(t, notices.StateDelivered, n.State)
	require.Equal(t, "sms", n.Channel)
	req, _ := requests.Get(ctx, b.pool, res.Request.ID)
	require.Equal(t, requests.StateAcknowledged, req.State)
	rep, err = b.watchdog().Run(ctx, b.client)
	require.NoError(t, err)
	require.Empty(t, rep.AcksAtRisk)
}

func TestWatchdogRedrivesAfterPermanentFailureReceipt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.deps.Channels[channels.Email] = &awaitingChannel{}
	rid := b.recipient(t, "3000002", nil)
	received := time.Date(2027, 3, 12, 18, 0, 0, 0, territories.Paris())
	b.now = received
	res := b.receive(t, rid, "DEM-W2", received)
	require.NoError(t, b.deps.deliver(ctx, res.NoticeID, false))

	// The first channel fails permanently, reported later by the provider.
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		out, err := ledger.RecordReceipt(ctx, tx, ledger.Receipt{Provider: "fake", MessageID: "m-1", Status: "failed", ErrorCode: "30006", OccurredAt: received.Add(time.Hour)})
		require.True(t, out.FinalFailure)
		return err
	}))

	// Past the deadline: re-driven at once, and the breach is recorded.
	b.now = res.Request.AckDueBy.Add(time.Hour)
	rep, err := b.watchdog().Run(ctx, b.client)
	require.NoError(t, err)
	require.Equal(t, []int64{res.NoticeID}, rep.Escalated)
	require.Len(t, rep.Breaches, 1)
	require.Equal(t, "acknowledgement", rep.Breaches[0].Deadline)
	require.Nil(t, rep.Breaches[0].MetAt)

	require.NoError(t, b.deps.deliver(ctx, res.NoticeID, false))
	n, _ := notices.Get(ctx, b.pool, res.NoticeID)
	require.Equal(t, notices.StateDelivered, n.State)
	require.Equal(t, "sms", n.Channel)

	// The next pass completes the breach with when it was met.
	rep, err = b.watchdog().Run(ctx, b.client)
	require.NoError(t, err)
	require.Empty(t, rep.Breaches)
	breaches, err := requests.Breaches(ctx, b.pool, res.Request.ID)
	require.NoError(t, err)
	require.Len(t, breaches, 1)
	require.NotNil(t, breaches[0].MetAt)
}

func TestWatchdogLeavesQuietHoursAndReportsAnswersAtRisk(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.deps.Channels[channels.Email] = &scripted{errs: []error{&channels.Error{Class: channels.Permanent, Code: "550", AddressRejected: true}}}
	b.deps.Quiet = channels.DefaultQuietHours()
	rid := b.recipient(t, "3000003", nil)
	received := time.Date(2027, 3, 12, 18, 0, 0, 0, territories.Paris())
	b.now = received
	res := b.receive(t, rid, "DEM-W3", received)

	// Email fails permanently; SMS is deferred to the morning (quiet hours).
	b.now = time.Date(2027, 3, 16, 4, 0, 0, 0, territories.Paris()) // Tuesday 04:00, 38 h before the deadline
	err := b.deps.deliver(ctx, res.NoticeID, false)
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	rep, err := b.watchdog().Run(ctx, b.client)
	require.NoError(t, err)
	require.Equal(t, []int64{res.Request.ID}, rep.AcksAtRisk)
	require.Empty(t, rep.Escalated, "the SMS is already queued for the end of quiet hours")

	// Close to the 15-day processing deadline: reported at risk.
	b.now = res.Request.AnswerDueBy.Add(-24 * time.Hour)
	rep, err = b.watchdog().Run(ctx, b.client)
	require.NoError(t, err)
	require.Equal(t, []int64{res.Request.ID}, rep.AnswersAtRisk)
}

func TestWatchdogWorkerAndRegistration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	workers := river.NewWorkers()
	require.NoError(t, AddIntakeWorkers(workers, b.pool, requests.Settings{}))
	require.Error(t, AddIntakeWorkers(river.NewWorkers(), b.pool, requests.Settings{AckDays: -1}))
	require.Len(t, IntakePeriodicJobs(), 1)
	w := b.watchdog()
	job := &river.Job[DeadlineWatchdogArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 3}}
	require.NoError(t, w.Work(context.Background(), job))
	require.Equal(t, "deadline_watchdog", DeadlineWatchdogArgs{}.Kind())
}
