package notices

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"
)

// traceID is the id of the trace the notice is created in ("" outside one),
// kept on the notice so that an operator can go from a beneficiary's
// timeline to the trace of the request that created it.
func traceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// TraceID returns the id of the trace in which notice id was created, or ""
// when it was created outside a trace.
func TraceID(ctx context.Context, db DBTX, id int64) (string, error) {
	var t *string
	err := db.QueryRow(ctx, `SELECT trace_id FROM notices WHERE id = $1`, id).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("trace id of notice %d: %w", id, err)
	}
	if t == nil {
		return "", nil
	}
	return *t, nil
}
