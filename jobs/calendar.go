package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/courrier-dev/courrier/campaigns"
)

// CalendarArgs asks for a calendar pass: create the calendar's campaigns
// that are due or coming up, start those that are due and approved, and
// mark finished campaigns completed.
type CalendarArgs struct{}

// Kind is the River job kind.
func (CalendarArgs) Kind() string { return "campaign_calendar" }

// InsertOpts: one pass at a time.
func (CalendarArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Priority: 1, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// CalendarWorker works CalendarArgs.
type CalendarWorker struct {
	river.WorkerDefaults[CalendarArgs]
	Deps *CampaignDeps
}

// Work runs one calendar pass.
func (w *CalendarWorker) Work(ctx context.Context, job *river.Job[CalendarArgs]) error {
	_, err := w.Deps.CalendarPass(ctx, river.ClientFromContext[pgx.Tx](ctx))
	return err
}

// CalendarPass creates (idempotently, one per calendar entry and date) the
// campaigns of the calendar's occurrences between the catch-up and the
// preparation windows, starts those due and approved, and completes the
// running campaigns that are finished. It returns the campaigns it started.
// Any number of passes may run at once: creation is keyed by
// campaigns.calendar_key and a start takes the campaign's row lock.
func (d *CampaignDeps) CalendarPass(ctx context.Context, client *river.Client[pgx.Tx]) ([]int64, error) {
	cal, err := d.calendar()
	if err != nil {
		return nil, err
	}
	now := d.now()
	if err := campaigns.SyncCalendarAt(ctx, d.Pool, cal, now, d.Config); err != nil {
		return nil, err
	}
	from, _ := cal.Window(now)
	due, err := cal.Occurrences(from, now.Add(time.Second))
	if err != nil {
		return nil, err
	}
	var started []int64
	for _, o := range due {
		var id int64
		var state string
		var needs bool
		var approvedBy *string
		err := d.Pool.QueryRow(ctx, `SELECT id, state, needs_approval, approved_by FROM campaigns WHERE calendar_key = $1`, o.Key()).
			Scan(&id, &state, &needs, &approvedBy)
		if err != nil {
			return started, fmt.Errorf("calendar %s: %w", o.Key(), err)
		}
		if state != campaigns.StateApproved && state != campaigns.StateDraft {
			continue
		}
		if state == campaigns.StateDraft && needs {
			d.log().Warn("calendar campaign is due but not approved", "campaign_id", id, "calendar_key", o.Key())
			continue
		}
		err = pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
			_, err := startCampaignTx(ctx, tx, client, id, "calendar", now, d.Config)
			return err
		})
		switch {
		case err == nil:
			started = append(started, id)
		case isCode(err, campaigns.CodeConflict):
			// Another pass started it first.
		case isCode(err, campaigns.CodeApproval):
			d.log().Warn("calendar campaign is due but needs approval", "campaign_id", id, "calendar_key", o.Key())
		default:
			return started, fmt.Errorf("start calendar campaign %s: %w", o.Key(), err)
		}
	}
	rows, err := d.Pool.Query(ctx, `SELECT id FROM campaigns WHERE state = 'running' AND fanout_done_at IS NOT NULL`)
	if err != nil {
		return started, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return started, err
	}
	for _, id := range ids {
		if _, err := campaigns.CompleteIfDone(ctx, d.Pool, id); err != nil {
			return started, err
		}
	}
	return started, nil
}

// calendarSchedule fires at each occurrence of the calendar and at least
// every interval (to catch up, prepare upcoming campaigns and complete
// finished ones).
type calendarSchedule struct {
	cal   *campaigns.Calendar
	every time.Duration
}

func (s calendarSchedule) Next(t time.Time) time.Time {
	next := t.Add(s.every)
	if occ := s.cal.Next(t); !occ.IsZero() && occ.Before(next) {
		return occ
	}
	return next
}

// sweepSchedule fires every day at a time of day, Europe/Paris.
type sweepSchedule struct{ clock time.Duration }

func (s sweepSchedule) Next(t time.Time) time.Time {
	p := t.In(campaigns.Paris())
	at := time.Date(p.Year(), p.Month(), p.Day(), 0, 0, 0, 0, campaigns.Paris()).Add(s.clock)
	if !at.After(t) {
		at = time.Date(p.Year(), p.Month(), p.Day()+1, 0, 0, 0, 0, campaigns.Paris()).Add(s.clock)
	}
	return at
}

// CalendarPeriodicJobs returns the calendar's periodic job: a pass at each
// occurrence's time and at least every five minutes, and one at start-up.
// River inserts periodic jobs on its elected leader only, so any number of
// `serve` processes run one pass at a time.
func CalendarPeriodicJobs(cal *campaigns.Calendar) []*river.PeriodicJob {
	return []*river.PeriodicJob{calendarJob(cal, 5*time.Minute)}
}

func calendarJob(cal *campaigns.Calendar, every time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(calendarSchedule{cal: cal, every: every},
		func() (river.JobArgs, *river.InsertOpts) { return CalendarArgs{}, nil },
		&river.PeriodicJobOpts{ID: "campaign_calendar", RunOnStart: true})
}

// CampaignPeriodicJobs returns every periodic job of campaigns: the
// calendar pass, the daily yearly statement sweep and the life-event
// outreach scan, as the calendar configures them (nil: the default
// calendar). Add them to the River client's Config.PeriodicJobs.
func CampaignPeriodicJobs(cal *campaigns.Calendar) []*river.PeriodicJob {
	if cal == nil {
		var err error
		if cal, err = campaigns.DefaultCalendar(); err != nil {
			cal = &campaigns.Calendar{} // the embedded calendar is tested valid
		}
	}
	jobs := CalendarPeriodicJobs(cal)
	if !cal.Sweep.Disabled {
		jobs = append(jobs, river.NewPeriodicJob(sweepSchedule{clock: cal.Sweep.Clock()},
			func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
			&river.PeriodicJobOpts{ID: "yearly_sweep", RunOnStart: true}))
	}
	if !cal.Outreach.Disabled {
		jobs = append(jobs, river.NewPeriodicJob(river.PeriodicInterval(cal.Outreach.Interval()),
			func() (river.JobArgs, *river.InsertOpts) { return OutreachArgs{}, nil },
			&river.PeriodicJobOpts{ID: "life_event_outreach", RunOnStart: true}))
	}
	return jobs
}

// AddCampaignWorkers registers the campaign workers: fan-out, calendar
// pass, yearly sweep and life-event outreach. deps may be nil (defaults,
// embedded calendar); its Pool is set to pool.
func AddCampaignWorkers(workers *river.Workers, pool *pgxpool.Pool, deps *CampaignDeps) error {
	if deps == nil {
		deps = &CampaignDeps{}
	}
	deps.Pool = pool
	for _, add := range []func() error{
		func() error { return river.AddWorkerSafely(workers, &FanoutWorker{Deps: deps}) },
		func() error { return river.AddWorkerSafely(workers, &CalendarWorker{Deps: deps}) },
		func() error { return river.AddWorkerSafely(workers, &SweepWorker{Deps: deps}) },
		func() error { return river.AddWorkerSafely(workers, &OutreachWorker{Deps: deps}) },
	} {
		if err := add(); err != nil {
			return err
		}
	}
	return nil
}
