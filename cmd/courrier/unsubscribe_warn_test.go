package main

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUnsubscribeLinksWarn: an http public URL or a missing secret drops
// List-Unsubscribe; say so at start (issue 16: it was silent without a
// secret).
func TestUnsubscribeLinksWarn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, secret string
		ok          bool
		warn        string
		level       string
	}{
		{"https://courrier.caf.fr", "s3cret", true, "", ""},
		{"http://courrier.caf.fr", "s3cret", false, "must be an https URL", "WARN"},
		{"https://courrier.caf.fr", "", false, "COURRIER_UNSUBSCRIBE_SECRET is not set", "WARN"},
		{"", "", false, "set COURRIER_PUBLIC_URL (https) and COURRIER_UNSUBSCRIBE_SECRET", "INFO"},
	}
	for _, tt := range tests {
		var logs bytes.Buffer
		ok := unsubscribeLinks(slog.New(slog.NewTextHandler(&logs, nil)), tt.url, tt.secret)
		require.Equal(t, tt.ok, ok, tt)
		if tt.warn == "" {
			require.Empty(t, logs.String())
			continue
		}
		require.Contains(t, logs.String(), "level="+tt.level)
		require.Contains(t, logs.String(), tt.warn)
		require.NotContains(t, logs.String(), "s3cret", "never log the secret")
	}
}
