package httpapi

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// Test keys live in a sandbox: they read and write test beneficiaries and
// what hangs off them only, and live keys never see test rows (GOV.UK
// Notify's test keys likewise create nothing real). A row of the other
// world answers 404, as if it did not exist.

// keyIsTest reports whether the request's key is a test key.
func keyIsTest(ctx context.Context) bool {
	k, _ := KeyFromContext(ctx)
	return k.Test
}

// requestInSandbox answers 404 when the request with externalID belongs to
// the other world than the caller's key. A request that does not exist is
// left to the caller's own 404.
func (a *API) requestInSandbox(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, externalID string) error {
	var test bool
	err := db.QueryRow(ctx, `SELECT r.test FROM requests q JOIN recipients r ON r.id = q.recipient_id
		WHERE q.external_id = $1`, externalID).Scan(&test)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if test != keyIsTest(ctx) {
		return notFound("id", "no request has this id")
	}
	return nil
}
