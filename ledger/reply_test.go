package ledger_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/ledger"
)

func TestReduceReply(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"attempt 1 via smtp", "attempt 1 via smtp"},
		// A server quoting the client's AUTH line (base64 of \0claire\0s3cret).
		{"smtp: 535 5.7.8 Authentication failed\r\nAUTH PLAIN AGNsYWlyZQBzM2NyZXQ=", "smtp: 535 5.7.8 Authentication failed [removed]"},
		{"550 5.1.1 <claire.martin@example.fr>: Recipient address rejected", "550 5.1.1 <[address]>: Recipient address rejected"},
		{"421 4.7.0 Try again later, ref 8843 2211 09", "421 4.7.0 Try again later, ref [number]"},
		{"554 rejected: token dGhpcyBpcyBhIHNlY3JldCBrZXk9PQ== is not valid", "554 rejected: [removed]"},
		{"dial tcp 127.0.0.1:2525: connect: connection refused", "dial tcp [number]:[number]: connect: connection refused"},
	} {
		got := ledger.ReduceReply(c.in)
		require.Equal(t, c.want, got, c.in)
		require.NotContains(t, got, "AGNsYWlyZQBzM2NyZXQ")
	}
}

func TestReduceReplyKeepsAcceptanceEvidence(t *testing.T) {
	t.Parallel()
	require.Equal(t, "smtp_accepted: 250 2.0.0 OK: queued", ledger.ReduceReply("smtp_accepted: 250 2.0.0 OK: queued"))
	require.Equal(t, "smtp_accepted: 250 2.0.0 OK: queued as [token]", ledger.ReduceReply("smtp_accepted: 250 2.0.0 OK: queued as 4Xyz9AbCdEf0123456"))
}
