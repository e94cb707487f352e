package httpapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"

	"github.com/courrier-dev/courrier/recipients"
)

// TestImportCharsetAndCaf posts a Windows-1252 CSV with its charset, and
// checks the Caf each beneficiary gets; an unknown charset is a 400.
func TestImportCharsetAndCaf(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	post := func(ct, body string) (int, map[string]any) {
		req := httptest.NewRequest("POST", "/v1/recipients:import", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+b.keys["ingest"])
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		b.handler.ServeHTTP(rec, req)
		var out map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
		return rec.Code, out
	}
	cp, err := charmap.Windows1252.NewEncoder().String("numero_allocataire;prenom;nom;code_postal;code_caf\n" +
		"1000001;Zoé;Lefèvre;97400;\n1000002;Hélène;Béranger;75011;974\n1000003;Noé;Gérard;75011;999\n")
	require.NoError(t, err)
	status, out := post("text/csv; charset=windows-1252", cp)
	require.Equal(t, 200, status, out)
	require.EqualValues(t, 2, out["inserted"])
	require.Equal(t, []any{map[string]any{"line": 4.0, "field": "caf", "reason": "is not a Caf of the agency file example-agencies.yaml (embedded)"}}, out["rejections"])
	ctx := context.Background()
	for ref, want := range map[string][2]string{"1000001": {"Zoé", "974"}, "1000002": {"Hélène", "974"}} {
		r, err := recipients.GetByRef(ctx, b.pool, ref)
		require.NoError(t, err)
		require.Equal(t, want, [2]string{r.GivenName, r.Caf})
	}
	status, out = post("text/csv; charset=ebcdic", cp)
	require.Equal(t, 400, status)
	require.Equal(t, "charset", out["error"].(map[string]any)["field"])
}
