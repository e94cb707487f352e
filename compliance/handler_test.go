package compliance_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/compliance"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rec := paris(2028, 4, 3, 9, 0, 0)
	// The Caf is sealed with each request and notice when it is recorded.
	f.recipient("H1", paris(2020, 1, 1, 0, 0, 0))
	_, err := f.pool.Exec(f.ctx, `UPDATE recipients SET caf = '974' WHERE ref = 'H1'`)
	require.NoError(t, err)
	f.request(req{ref: "H1", received: rec, ack: ptr(rec.Add(time.Hour))})
	f.request(req{ref: "H2", received: rec, ack: ptr(rec.Add(time.Hour))})
	f.seal()
	srv := httptest.NewServer(compliance.Handler(f.pool, []string{compliance.EvidenceSMTPAccepted, compliance.EvidencePrintHanded}))
	defer srv.Close()

	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp, b.String()
	}
	report := func(path string) compliance.Report {
		resp, body := get(path)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		var rep compliance.Report
		require.NoError(t, json.Unmarshal([]byte(body), &rep))
		return rep
	}
	rep := report("/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&as_of=2028-06-01")
	require.True(t, rep.Pass)
	require.EqualValues(t, 2, metric(t, &rep, "in_time"))

	// One Caf; several; none recorded; a national breakdown.
	rep = report("/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&as_of=2028-06-01&caf=974")
	require.EqualValues(t, 1, metric(t, &rep, "received"))
	require.Equal(t, []string{"974"}, rep.Period.Cafs)
	rep = report("/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&as_of=2028-06-01&caf=751,974")
	require.EqualValues(t, 1, metric(t, &rep, "received"))
	rep = report("/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&as_of=2028-06-01&caf=none")
	require.EqualValues(t, 1, metric(t, &rep, "received"))
	rep = report("/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&as_of=2028-06-01&by_caf=true")
	require.EqualValues(t, 2, metric(t, &rep, "received"))
	require.Len(t, rep.ByCaf, 2)
	require.Equal(t, "974", rep.ByCaf[0].Caf)
	require.Equal(t, compliance.NoCaf, rep.ByCaf[1].Caf)

	// Relay acceptance counts only because this server accepts it.
	rep = report("/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&as_of=2028-06-01&accept=print_handed")
	require.False(t, rep.Pass)

	resp, body := get("/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&format=csv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, body, "result,acknowledgement")

	for _, bad := range []string{"/v1/compliance/nope?from=2028-04-01&to=2028-04-30", "/v1/compliance/acknowledgement?from=2028-04-01",
		"/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&format=xml",
		"/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&caf=paris",
		"/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&accept=carrier_pigeon",
		"/v1/compliance/acknowledgement?from=2028-04-01&to=2028-04-30&caf=751&by_caf=true"} {
		resp, _ := get(bad)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
}
