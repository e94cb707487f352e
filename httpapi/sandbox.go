package httpapi

import "context"

// Test keys live in a sandbox: they read and write test beneficiaries and
// what hangs off them only, and live keys never see test rows (GOV.UK
// Notify's test keys likewise create nothing real). A row of the other
// world answers 404, as if it did not exist.

// keyIsTest reports whether the request's key is a test key.
func keyIsTest(ctx context.Context) bool {
	k, _ := KeyFromContext(ctx)
	return k.Test
}
