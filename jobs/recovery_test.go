package jobs

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/templates"
)

func TestTimeoutsRescueAndLeaseAgree(t *testing.T) {
	t.Parallel()
	// Unlimited email: a 250-notice batch fits in one job.
	d := &Deps{BatchParallelism: 8, BulkWorkers: 4}
	require.GreaterOrEqual(t, d.batchFits(), 250)
	w := &DeliverBatchWorker{Deps: d}
	job := &river.Job[DeliverBatchArgs]{Args: DeliverBatchArgs{NoticeIDs: make([]int64, 250)}}
	require.Less(t, w.Timeout(job), MaxBatchTimeout)

	// SMS at 5/s shared by 4 batch workers: 0.8 s a message, doubled; the
	// batch is cut so that its timeout stays under MaxBatchTimeout instead
	// of River's default 60 s cancelling it half-way.
	d = &Deps{BatchParallelism: 8, BulkWorkers: 4, Rates: Rates{channels.SMS: 5}}
	require.Equal(t, 28, d.batchFits())
	w = &DeliverBatchWorker{Deps: d}
	require.LessOrEqual(t, w.Timeout(job), MaxBatchTimeout)
	require.GreaterOrEqual(t, w.Timeout(job), time.Duration(28)*1600*time.Millisecond)

	// Rescue just above the longest timeout; the lease equals the rescue,
	// and both bring work back within River's 2-minute goal (the rescuer
	// runs every 30 s).
	require.Greater(t, RescueAfter(), MaxBatchTimeout)
	require.Greater(t, RescueAfter(), SingleTimeout)
	require.Equal(t, RescueAfter(), d.lease())
	require.LessOrEqual(t, RescueAfter()+30*time.Second, 2*time.Minute)
	require.Greater(t, rescueMargin, recordGrace)
}

// probe counts, at each send, the messages it accepted earlier whose
// acceptance is not yet committed: what a crash at that instant would send
// twice.
type probe struct {
	b        *testBundle
	inner    channels.Channel
	mu       sync.Mutex
	accepted []int64
	maxOpen  int
}

func (p *probe) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	p.mu.Lock()
	ids := append([]int64(nil), p.accepted...)
	p.mu.Unlock()
	var open int
	if err := p.b.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE id = ANY($1) AND state = 'sending'`, ids).Scan(&open); err != nil {
		return channels.Receipt{}, err
	}
	r, err := p.inner.Send(ctx, msg)
	p.mu.Lock()
	p.maxOpen = max(p.maxOpen, open)
	p.accepted = append(p.accepted, msg.DeliveryID)
	p.mu.Unlock()
	return r, err
}

func TestBatchRecordsEachAcceptanceBeforeItsSenderSendsAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const parallel, n = 4, 60
	p := &probe{b: b, inner: b.outbox}
	b.deps.Channels[channels.Email] = p
	b.deps.BatchParallelism = parallel
	var ids []int64
	for i := range n {
		rid := b.recipient(t, fmt.Sprintf("P%06d", i), nil)
		id, _ := b.enqueue(t, notices.New{RecipientID: rid, Kind: notices.GeneralInformation,
			IdempotencyKey: fmt.Sprintf("probe:%d", i), Data: templates.SampleData(string(notices.GeneralInformation))})
		ids = append(ids, id)
	}
	spill, err := b.deps.deliverBatch(ctx, ids)
	require.NoError(t, err)
	require.Empty(t, spill)
	require.Len(t, p.accepted, n)
	// The other senders each hold at most one acceptance not yet
	// committed: a crash at any moment duplicates at most one message per
	// sender, not the batch (with one commit at the end it reached n-1).
	require.LessOrEqual(t, p.maxOpen, parallel-1)
	var sent int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM notices WHERE id = ANY($1) AND state IN ('sent', 'delivered')`, ids).Scan(&sent))
	require.Equal(t, n, sent)
}

func TestStuckWorkIsCountedUntilTheLeaseLetsItGo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rid := b.recipient(t, "S000001", nil)
	id, _ := b.enqueue(t, rightsNotice(rid, "stuck:1"))
	// A process marks the delivery sending, runs the job, then dies.
	_, err := b.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1 WHERE kind = 'deliver'`,
		b.now.Add(-2*RescueAfter()))
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `INSERT INTO deliveries (notice_id, channel, provider, address, template_version, content_hash,
		state, attempt, sending_at, created_at, updated_at) VALUES ($1, 'email', 'smtp', 'x@exemple.fr', 'v', 'h', 'sending', 1, $2, $2, $2)`,
		id, b.now.Add(-2*RescueAfter()))
	require.NoError(t, err)

	s, err := StuckWork(ctx, b.pool, 0, 0, b.now)
	require.NoError(t, err)
	require.EqualValues(t, 1, s.Jobs)
	require.EqualValues(t, 1, s.Sending)
	require.Equal(t, b.now.Add(-2*RescueAfter()), s.Since.UTC())

	// Within the lease the same work is not stuck.
	s, err = StuckWork(ctx, b.pool, 0, 0, b.now.Add(-RescueAfter()-time.Second))
	require.NoError(t, err)
	require.True(t, s.Zero())

	// The rescued job sends at once: the lease has run out.
	require.NoError(t, b.deps.deliver(ctx, id, false))
	n, err := notices.Get(ctx, b.pool, id)
	require.NoError(t, err)
	require.Equal(t, notices.StateDelivered, n.State)
}

func TestCampaignCompletesWhenItsLastSingleJobDoes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cb := &campaignBundle{pool: b.pool, client: b.client, deps: &CampaignDeps{Pool: b.pool}}
	cb.seedRecipients(t, 3)
	c := cb.approvedMailing(t, campaigns.Pace{})
	require.NoError(t, cb.deps.fanout(ctx, b.client, c.ID))
	ids := cb.campaignNoticeIDs(t, c.ID, "")
	require.Len(t, ids, 3)
	b.now = time.Now()

	_, err := b.deps.deliverBatch(ctx, ids[:2])
	require.NoError(t, err)
	st, err := GetCampaignStatus(ctx, b.pool, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaigns.StateRunning, st.Campaign.State)

	// The last notice went through a single job (a spilled straggler).
	w := &DeliverWorker{Deps: b.deps}
	require.NoError(t, w.Work(ctx, &river.Job[DeliverArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 12},
		Args: DeliverArgs{NoticeID: ids[2]}}))
	got, err := campaigns.Get(ctx, b.pool, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaigns.StateCompleted, got.State)
}

func TestCampaignStatusShowsStuckWork(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cb := &campaignBundle{pool: b.pool, client: b.client, deps: &CampaignDeps{Pool: b.pool}}
	cb.seedRecipients(t, 2)
	c := cb.approvedMailing(t, campaigns.Pace{})
	require.NoError(t, cb.deps.fanout(ctx, b.client, c.ID))
	old := time.Now().Add(-2 * RescueAfter())
	_, err := b.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1 WHERE kind = 'deliver_batch'`, old)
	require.NoError(t, err)
	st, err := GetCampaignStatus(ctx, b.pool, c.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Stuck.Jobs)
	require.Zero(t, st.Stuck.Sending)
}

// With InFlight at the SMTP connection count, the bound is per connection,
// whatever the number of senders.
func TestInFlightCapsUnrecordedAcceptancesPerChannel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p := &probe{b: b, inner: b.outbox}
	b.deps.Channels[channels.Email] = p
	b.deps.BatchParallelism = 8
	b.deps.InFlight = map[channels.Name]int{channels.Email: 2}
	var ids []int64
	for i := range 40 {
		rid := b.recipient(t, fmt.Sprintf("Q%06d", i), nil)
		id, _ := b.enqueue(t, notices.New{RecipientID: rid, Kind: notices.GeneralInformation,
			IdempotencyKey: fmt.Sprintf("cap:%d", i), Data: templates.SampleData(string(notices.GeneralInformation))})
		ids = append(ids, id)
	}
	_, err := b.deps.deliverBatch(ctx, ids)
	require.NoError(t, err)
	require.Len(t, p.accepted, 40)
	require.LessOrEqual(t, p.maxOpen, 1, "2 slots: the other slot's message at most")
}
