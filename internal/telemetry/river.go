package telemetry

import (
	"context"
	"encoding/json"

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
