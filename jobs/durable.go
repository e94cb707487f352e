package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// recordGrace is how long after its job's deadline a worker keeps trying to
// record what it sent. It stays below rescueMargin, so the record is
// written (or given up) before River rescues the job and the sending lease
// lets another worker send the same notices again.
const recordGrace = 10 * time.Second

// recordUntil is the last moment to retry recording the outcome of a send
// made under ctx.
func recordUntil(ctx context.Context) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl.Add(recordGrace)
	}
	return time.Now().Add(SingleTimeout + recordGrace)
}

// retryDB runs f until it succeeds, fails for a reason other than the
// database being unreachable, or until passes. A provider's acceptance that
// is not recorded is a duplicate later: a database restart of a few seconds
// must not cost one.
func retryDB(until time.Time, f func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := f()
		if err == nil || !transientDB(err) || time.Now().Add(wait).After(until) {
			return err
		}
		time.Sleep(wait) // even when ctx is done: the send already happened
		wait = min(2*wait, 2*time.Second)
	}
}

// transientDB reports whether err says the database could not be reached or
// went away (connection errors, shutdown, too many connections), as opposed
// to an error in the statement itself.
func transientDB(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return true
		}
		return pgErr.Code == "40001" || pgErr.Code == "40P01" // serialization failure, deadlock
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return true // network errors, a closed connection, a failed dial
}
