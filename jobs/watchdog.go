package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/requests"
)

// DeadlineWatchdogArgs asks for one pass of the deadline watchdog.
type DeadlineWatchdogArgs struct{}

// Kind is the River job kind.
func (DeadlineWatchdogArgs) Kind() string { return "deadline_watchdog" }

// InsertOpts: a pass that fails is simply replaced by the next one.
func (DeadlineWatchdogArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, Priority: 1}
}

// WatchdogInterval is how often the deadline watchdog runs.
const WatchdogInterval = 15 * time.Minute

// escalationGrace leaves a channel attempted this recently alone: its
// provider is still working (an SMS receipt takes seconds to minutes).
const escalationGrace = 30 * time.Minute

// watchdogBatch bounds the rows one pass handles per query.
const watchdogBatch = 500

// DeadlineWatchdogWorker works DeadlineWatchdogArgs.
//
// Each pass (1) escalates every acknowledgement not delivered with less than
// Settings.WatchdogMargin left to the next channel of its route at once: the
// channel in progress is given up (ledger event "failed", code "escalated"),
// the notice goes back to pending and a deliver job is inserted, which picks
// the next channel (quiet hours still defer SMS); (2) reports the requests
// within the margin of their processing deadline (log line with request ids
// and the at-risk gauge); (3) records the deadlines missed in
// request_breaches.
type DeadlineWatchdogWorker struct {
	river.WorkerDefaults[DeadlineWatchdogArgs]
	Pool     *pgxpool.Pool
	Settings requests.Settings
	// Client inserts deliver jobs; nil uses the client working the job.
	Client *river.Client[pgx.Tx]
	Now    func() time.Time
	Logger *slog.Logger
}

// WatchdogReport says what one pass did. It carries ids only.
type WatchdogReport struct {
	Escalated     []int64 // notice ids sent on to their next channel
	AcksAtRisk    []int64 // request ids whose acknowledgement is late or close to it
	AnswersAtRisk []int64 // request ids close to their processing deadline
	Breaches      []requests.Breach
}

// Work runs one pass.
func (w *DeadlineWatchdogWorker) Work(ctx context.Context, job *river.Job[DeadlineWatchdogArgs]) error {
	client := w.Client
	if client == nil {
		c, err := river.ClientFromContextSafely[pgx.Tx](ctx)
		if err != nil {
			return fmt.Errorf("deadline watchdog: %w", err)
		}
		client = c
	}
	_, err := w.Run(ctx, client)
	return err
}

// Run runs one pass with client inserting the deliver jobs.
func (w *DeadlineWatchdogWorker) Run(ctx context.Context, client *river.Client[pgx.Tx]) (*WatchdogReport, error) {
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	s := w.Settings.WithDefaults()
	log := w.Logger
	if log == nil {
		log = slog.Default()
	}
	rep := &WatchdogReport{}

	acks, err := requests.AcksAtRisk(ctx, w.Pool, now, s.WatchdogMargin, watchdogBatch)
	if err != nil {
		return nil, err
	}
	for _, a := range acks {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.AcksAtRisk = append(rep.AcksAtRisk, a.RequestID)
		escalated, err := escalate(ctx, w.Pool, client, a, now)
		if err != nil {
			return rep, fmt.Errorf("escalate acknowledgement of request %d: %w", a.RequestID, err)
		}
		if escalated {
			rep.Escalated = append(rep.Escalated, a.NoticeID)
			watchdogEscalations.Add(1)
		}
	}
	if len(acks) > 0 {
		log.Warn("acknowledgements at risk", "request_ids", rep.AcksAtRisk, "escalated_notice_ids", rep.Escalated)
	}

	answers, err := requests.AnswersAtRisk(ctx, w.Pool, now, s.WatchdogMargin, watchdogBatch)
	if err != nil {
		return rep, err
	}
	for _, a := range answers {
		rep.AnswersAtRisk = append(rep.AnswersAtRisk, a.RequestID)
	}
	watchdogAnswersAtRisk.Store(int64(len(answers)))
	watchdogAcksAtRisk.Store(int64(len(acks)))
	if len(answers) > 0 {
		log.Warn("requests close to their processing deadline", "request_ids", rep.AnswersAtRisk, "margin", s.WatchdogMargin.String())
	}

	rep.Breaches, err = requests.RecordBreaches(ctx, w.Pool, now)
	if err != nil {
		return rep, err
	}
	for _, b := range rep.Breaches {
		watchdogBreaches.Add(1)
		log.Error("request deadline missed", "request_id", b.RequestID, "deadline", b.Deadline, "due_by", b.DueBy)
	}
	return rep, nil
}

// escalate gives up the channel in progress of an acknowledgement at risk
// and queues its next channel. It reports false when there was nothing to
// do: the notice is done, its channel was attempted too recently, or it is
// already waiting for its deliver job (e.g. an SMS deferred by quiet hours).
func escalate(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], a requests.AckAtRisk, now time.Time) (bool, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	n, err := notices.GetForUpdate(ctx, tx, a.NoticeID)
	if err != nil {
		return false, err
	}
	if notices.Done(n.State) {
		return false, nil
	}
	dls, err := ledger.DeliveriesForNotice(ctx, tx, n.ID)
	if err != nil {
		return false, err
	}
	gaveUp := 0
	for _, d := range dls {
		switch d.State {
		case ledger.StatePending, ledger.StateSending, ledger.StateSent:
		default:
			continue
		}
		last := d.CreatedAt
		for _, t := range []*time.Time{d.SendingAt, d.SentAt} {
			if t != nil && t.After(last) {
				last = *t
			}
		}
		if now.Sub(last) < escalationGrace {
			return false, nil
		}
		detail := fmt.Sprintf("acknowledgement due by %s not delivered: escalated to the next channel",
			a.DueBy.UTC().Format(time.RFC3339))
		if err := giveUp(ctx, tx, d, detail, now); err != nil {
			return false, err
		}
		gaveUp++
	}
	if gaveUp == 0 && n.State == notices.StatePending {
		return false, nil
	}
	if err := notices.SetState(ctx, tx, n.ID, notices.StatePending, "", "escalated by the deadline watchdog", now); err != nil {
		return false, err
	}
	if _, err := client.InsertTx(ctx, tx, DeliverArgs{NoticeID: n.ID}, &river.InsertOpts{Priority: 1}); err != nil {
		return false, fmt.Errorf("enqueue deliver job for notice %d: %w", n.ID, err)
	}
	return true, tx.Commit(ctx)
}

// giveUp makes a delivery final as failed with code "escalated". Pending and
// sending deliveries go through ledger.Failed; a sent one (waiting for a
// receipt that has not come) is closed here, as ledger.Failed leaves sent
// deliveries to their receipts.
func giveUp(ctx context.Context, tx pgx.Tx, d ledger.Delivery, detail string, now time.Time) error {
	if d.State != ledger.StateSent {
		return ledger.Failed(ctx, tx, d.ID, d.NoticeID, true, "escalated", detail, now)
	}
	_, err := tx.Exec(ctx, `
		UPDATE deliveries SET state = 'failed', error_code = 'escalated', error = $2, final_at = $3, updated_at = $3
		WHERE id = $1 AND state = 'sent'`, d.ID, detail, now)
	if err != nil {
		return fmt.Errorf("give up delivery %d: %w", d.ID, err)
	}
	return ledger.AppendEvent(ctx, tx, ledger.Event{DeliveryID: d.ID, NoticeID: d.NoticeID, Event: ledger.StateFailed,
		ErrorCode: "escalated", Detail: detail, OccurredAt: now})
}

var (
	watchdogEscalations   atomic.Int64
	watchdogBreaches      atomic.Int64
	watchdogAcksAtRisk    atomic.Int64
	watchdogAnswersAtRisk atomic.Int64
)

// WatchdogMetrics writes the deadline watchdog's metrics in the Prometheus
// text format, for the /metrics handler.
func WatchdogMetrics(w io.Writer) error {
	_, err := fmt.Fprintf(w, `# HELP courrier_ack_escalations_total Acknowledgements escalated to their next channel by the deadline watchdog.
# TYPE courrier_ack_escalations_total counter
courrier_ack_escalations_total %d
# HELP courrier_request_breaches_total Request deadlines found missed by the deadline watchdog.
# TYPE courrier_request_breaches_total counter
courrier_request_breaches_total %d
# HELP courrier_acks_at_risk Acknowledgements not delivered within the watchdog margin of their deadline, at the last pass.
# TYPE courrier_acks_at_risk gauge
courrier_acks_at_risk %d
# HELP courrier_requests_at_risk Open requests within the watchdog margin of their processing deadline, at the last pass.
# TYPE courrier_requests_at_risk gauge
courrier_requests_at_risk %d
`, watchdogEscalations.Load(), watchdogBreaches.Load(), watchdogAcksAtRisk.Load(), watchdogAnswersAtRisk.Load())
	return err
}

// AddIntakeWorkers registers the workers of the intake: the deadline
// watchdog.
func AddIntakeWorkers(workers *river.Workers, pool *pgxpool.Pool, settings requests.Settings) error {
	if err := settings.Validate(); err != nil {
		return err
	}
	return river.AddWorkerSafely(workers, &DeadlineWatchdogWorker{Pool: pool, Settings: settings})
}

// IntakePeriodicJobs are the periodic jobs of the intake: the deadline
// watchdog every WatchdogInterval, and once at start.
func IntakePeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(WatchdogInterval),
			func() (river.JobArgs, *river.InsertOpts) { return DeadlineWatchdogArgs{}, nil },
			&river.PeriodicJobOpts{ID: "deadline_watchdog", RunOnStart: true}),
	}
}
