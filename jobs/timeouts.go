package jobs

import (
	"time"

	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/channels"
)

// Job timeouts and crash recovery. Three durations must agree:
//
//   - each job kind's timeout (the deliver job's is SingleTimeout; a batch's
//     is derived from its size and the slowest channel's rate limit and never
//     exceeds MaxBatchTimeout: a longer batch is cut and its tail re-enqueued);
//   - River's RescueStuckJobsAfter, which hands the jobs of a dead process
//     to a live one: just above the longest timeout (RescueAfter);
//   - the sending lease, after which a delivery left "sending" is assumed to
//     belong to a dead worker and is sent again: equal to the rescue delay,
//     so that a rescued job sends at once instead of waiting for the lease.
//
// River's rescuer runs every 30 s, so work held by a crashed process resumes
// within RescueAfter + 30 s (1 min 45 s with the defaults).
const (
	// SingleTimeout bounds a deliver job: one message, its fallbacks, and
	// the SMTP or Twilio round trips.
	SingleTimeout = 30 * time.Second
	// MaxBatchTimeout bounds a deliver_batch job.
	MaxBatchTimeout = 60 * time.Second
	// batchBase is the part of a batch's timeout that does not depend on
	// its size: loading, rendering, the two transactions.
	batchBase = 15 * time.Second
	// rescueMargin separates the longest timeout from the rescue delay: a
	// job cancelled at its timeout still records what it sent.
	rescueMargin = 15 * time.Second
	// unlimitedPerMessage is the time budget of one message on a channel
	// without a rate limit, per connection: four times what a local relay
	// takes (a message costs 60 to 120 ms over one SMTP connection).
	unlimitedPerMessage = 500 * time.Millisecond
)

// RescueAfter is River's RescueStuckJobsAfter and the default sending lease:
// just above the longest job timeout.
func RescueAfter() time.Duration {
	return max(SingleTimeout, MaxBatchTimeout) + rescueMargin
}

// perMessage is the time budget of one message of a batch: on a rate-limited
// channel the process's bulk workers share the limit, so one batch gets
// rate/BulkWorkers messages per second; otherwise each of the batch's
// parallel senders needs unlimitedPerMessage per message. The slowest
// configured channel decides, and the estimate is doubled for safety.
func (d *Deps) perMessage() time.Duration {
	parallel := d.BatchParallelism
	if parallel <= 0 {
		parallel = 8
	}
	per := unlimitedPerMessage / time.Duration(parallel)
	workers := max(d.BulkWorkers, 1)
	for _, rate := range d.Rates {
		if rate > 0 {
			per = max(per, time.Duration(float64(workers)/rate*float64(time.Second)))
		}
	}
	return 2 * per
}

// batchTimeout is the timeout of a batch of n notices.
func (d *Deps) batchTimeout(n int) time.Duration {
	return min(batchBase+time.Duration(n)*d.perMessage(), MaxBatchTimeout)
}

// batchFits is how many notices a batch may send within MaxBatchTimeout.
func (d *Deps) batchFits() int {
	return max(1, int((MaxBatchTimeout-batchBase)/d.perMessage()))
}

// Timeout is the deliver job's timeout.
func (w *DeliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return SingleTimeout }

// Timeout is the batch's timeout, from its size and the channels' rate limits.
func (w *DeliverBatchWorker) Timeout(job *river.Job[DeliverBatchArgs]) time.Duration {
	return w.Deps.batchTimeout(min(len(job.Args.NoticeIDs), w.Deps.batchFits()))
}

// Rates is the per-process rate limit of each channel in messages per second
// (0: none), as passed to channels.RateLimited.
type Rates map[channels.Name]float64
