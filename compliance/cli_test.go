package compliance_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/compliance"
)

func TestReportCommand(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rec := paris(2028, 4, 3, 9, 0, 0)
	f.request(req{ref: "C1", kind: "complaint", received: rec, answer: ptr(rec.Add(16 * 24 * time.Hour))})
	args := []string{"complaints-15d", "--from", "2028-04-01", "--to", "2028-04-30", "--as-of", "2028-06-01"}

	var out bytes.Buffer
	require.NoError(t, compliance.ReportCommand(f.ctx, f.pool, &out, args))
	require.Contains(t, out.String(), "FAIL")
	require.Contains(t, out.String(), "in_time_share")
	require.Contains(t, out.String(), "0.00 %")
	require.Contains(t, out.String(), "C1")
	require.NotContains(t, out.String(), "Claire")

	out.Reset()
	require.NoError(t, compliance.ReportCommand(f.ctx, f.pool, &out, append(args, "--format", "json")))
	var rep compliance.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.Equal(t, []string{"C1"}, rep.Refs("late"))

	out.Reset()
	require.NoError(t, compliance.ReportCommand(f.ctx, f.pool, &out, append(args, "--format", "csv")))
	require.Contains(t, out.String(), "list,late,C1,REQ-")

	err := compliance.ReportCommand(f.ctx, f.pool, &out, append(args, "--strict"))
	require.ErrorIs(t, err, compliance.ErrRuleFailed)
	require.ErrorIs(t, compliance.ReportCommand(f.ctx, f.pool, &out, []string{"nope", "--from", "2028-01-01", "--to", "2028-01-02"}), compliance.ErrInvalid)
	require.ErrorIs(t, compliance.ReportCommand(f.ctx, f.pool, &out, append(args, "--format", "xml")), compliance.ErrInvalid)

	out.Reset()
	require.NoError(t, compliance.ReportCommand(f.ctx, f.pool, &out, []string{"--help"}))
	for _, rule := range compliance.RuleNames() {
		require.Contains(t, out.String(), rule)
	}
}

func TestEvidenceAndVerifyCommands(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.recipient("0123456", paris(2020, 1, 1, 0, 0, 0))
	f.sendThroughLedger(r, "rights_opened", "email", "smtp", "claire.martin@example.fr", paris(2028, 3, 1, 9, 0, 0))
	f.seal()

	var out bytes.Buffer
	require.NoError(t, compliance.VerifyCommand(f.ctx, f.pool, &out, nil))
	require.True(t, strings.HasPrefix(out.String(), "OK 2 events"), out.String())

	file := filepath.Join(t.TempDir(), "pack.json")
	require.NoError(t, compliance.EvidenceCommand(f.ctx, f.pool, &out, []string{"--recipient", "0123456", "--out", file}))
	out.Reset()
	require.NoError(t, compliance.VerifyCommand(f.ctx, nil, &out, []string{"--pack", file}))
	require.Contains(t, out.String(), "OK pack")

	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, bytes.Replace(b, []byte(`"smtp_accepted"`), []byte(`"print_handed"`), 1), 0o600))
	require.ErrorIs(t, compliance.VerifyCommand(f.ctx, nil, &out, []string{"--pack", file}), compliance.ErrPackInvalid)

	out.Reset()
	require.NoError(t, compliance.EvidenceCommand(f.ctx, f.pool, &out, []string{"--rule", "yearly-notice", "--from", "2028-01-01", "--to", "2028-12-31", "--format", "csv"}))
	require.Contains(t, out.String(), "0123456")
	require.ErrorIs(t, compliance.EvidenceCommand(f.ctx, f.pool, &out, []string{"--rule", "yearly-notice"}), compliance.ErrInvalid)
	require.ErrorIs(t, compliance.EvidenceCommand(f.ctx, f.pool, &out, nil), compliance.ErrInvalid)

	f.asSuperuser(`UPDATE delivery_events SET detail = 'print_handed' WHERE event = 'delivered'`)
	require.ErrorIs(t, compliance.VerifyCommand(f.ctx, f.pool, &out, nil), compliance.ErrLedgerBroken)
	require.Contains(t, out.String(), "modified_event")
}

func TestHandler(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rec := paris(2028, 4, 3, 9, 0, 0)
	f.request(req{ref: "H1", received: rec, ack: ptr(rec.Add(time.Hour))})
	srv := httptest.NewServer(compliance.Handler(f.pool))
	defer srv.Close()

	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp, b.String()
	}
	resp, body := get("/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&as_of=2028-06-01")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var rep compliance.Report
	require.NoError(t, json.Unmarshal([]byte(body), &rep))
	require.True(t, rep.Pass)
	require.EqualValues(t, 1, rep.Metrics[2].Value) // in_time

	resp, body = get("/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&format=csv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, body, "result,acknowledgement")

	for _, bad := range []string{"/v1/compliance/nope?from=2028-04-01&to=2028-04-30", "/v1/compliance/acknowledgement?from=2028-04-01",
		"/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&format=xml"} {
		resp, _ := get(bad)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
}
