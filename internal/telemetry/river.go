package telemetry

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ContinueTrace is a River worker middleware that makes a job's work part
// of the trace that inserted it. otelriver only *links* the work span to
// the inserting span; placed before otelriver's middleware, this one gives
// the work span that span as its parent, so that a notice's trace runs from
// the HTTP intake through the job to the provider call.
type ContinueTrace struct {
	river.MiddlewareDefaults
}

var _ rivertype.WorkerMiddleware = (*ContinueTrace)(nil)

// Work implements rivertype.WorkerMiddleware.
func (*ContinueTrace) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if trace.SpanContextFromContext(ctx).IsValid() || len(job.Metadata) == 0 {
		return doInner(ctx)
	}
	var meta map[string]any
	if json.Unmarshal(job.Metadata, &meta) != nil {
		return doInner(ctx)
	}
	carrier := propagation.MapCarrier{}
	for _, k := range []string{"traceparent", "tracestate"} {
		if s, ok := meta[k].(string); ok {
			carrier[k] = s
		}
	}
	if len(carrier) == 0 {
		return doInner(ctx)
	}
	return doInner(propagation.TraceContext{}.Extract(ctx, carrier))
}

// JobOutcomes is a River worker middleware that counts the outcome of each
// job worked in this process: courrier_river_job_outcomes_total{queue, kind,
// outcome} with outcome ok, error, discarded (an error on the last
// attempt), cancel, snooze or panic.
type JobOutcomes struct {
	river.MiddlewareDefaults
	m *Metrics
}

var _ rivertype.WorkerMiddleware = (*JobOutcomes)(nil)

// JobOutcomes returns the middleware counting job outcomes into m.
func (m *Metrics) JobOutcomes() *JobOutcomes { return &JobOutcomes{m: m} }

// Work implements rivertype.WorkerMiddleware.
func (j *JobOutcomes) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) (err error) {
	outcome := "panic"
	defer func() {
		j.m.jobOutcomes.WithLabelValues(job.Queue, job.Kind, outcome).Inc()
	}()
	err = doInner(ctx)
	var cancel *river.JobCancelError
	var snooze *river.JobSnoozeError
	switch {
	case err == nil:
		outcome = "ok"
	case errors.As(err, &snooze):
		outcome = "snooze"
	case errors.As(err, &cancel):
		outcome = "cancel"
	case job.Attempt >= job.MaxAttempts:
		outcome = "discarded"
	default:
		outcome = "error"
	}
	return err
}
