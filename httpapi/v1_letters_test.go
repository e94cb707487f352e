package httpapi

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReturnedLettersRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	for body, field := range map[string]string{
		`{"returns":[]}`: "returns",
		`{"returns":[{"letter_id":"L12","date":"12/10/2026","reason":"NPAI"}]}`:  "returns[0].date",
		`{"returns":[{"letter_id":"12","date":"2026-12-10","reason":"NPAI"}]}`:   "returns[0].letter_id",
		`{"returns":[{"letter_id":"L12","date":"2026-12-10","reason":"PERDU"}]}`: "returns[0].reason",
	} {
		status, out := b.do(t, "POST", "/v1/letters/returned", "ingest", body)
		require.Equal(t, 400, status, body)
		require.Contains(t, out, `"field":"`+field+`"`, body)
	}
	status, _ := b.do(t, "POST", "/v1/letters/returned", "audit", `{"returns":[]}`)
	require.Equal(t, 403, status)
	// An unknown letter is reported, nothing written.
	status, out := b.do(t, "POST", "/v1/letters/returned", "ingest", `{"returns":[{"letter_id":"L999","date":"2026-12-10","reason":"npai"}]}`)
	require.Equal(t, 200, status, out)
	require.True(t, strings.Contains(out, `"unknown":["L999"]`) && strings.Contains(out, `"applied":0`), out)
}

// TestUnprintableAddressRefusedAtIntake: PUT /v1/recipients refuses an
// address a letter cannot carry, naming the field.
func TestUnprintableAddressRefusedAtIntake(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	status, out := b.do(t, "PUT", "/v1/recipients/7654321", "ingest",
		`{"given_name":"Léa","family_name":"Dupré","address_line1":"Résidence des Grands Chênes, bâtiment A, escalier 4","postal_code":"75011","city":"Paris"}`)
	require.Equal(t, 400, status, out)
	require.Contains(t, out, `"field":"address_line1"`)
	require.Contains(t, out, "NF Z10-011 allows 38")
}
