package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/recipients"
)

// raw sends body with the given content type (none when empty).
func (b *apiBundle) raw(t *testing.T, method, path, key, contentType, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	req.URL.Path, req.URL.RawPath = path, ""
	req.Header.Set("Authorization", "Bearer "+b.keys[key])
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func errorField(t *testing.T, body string) (code, field string) {
	t.Helper()
	var out struct {
		Error struct{ Code, Field, Message string }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	return out.Error.Code, out.Error.Field
}

// Every hostile input gets a 4xx naming the field, and nothing is written
// (the stored beneficiary is unchanged).
func TestHostileInputIsRefusedAndWritesNothing(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	b.recipient(t, "1000001")
	ctx := context.Background()
	before := b.written(t)
	stored, err := recipients.GetByRef(ctx, b.pool, "1000001")
	require.NoError(t, err)

	const js = "application/json"
	person := func(field, value string) string {
		v, _ := json.Marshal(value)
		return `{"civility":"Mme","given_name":"Léa","family_name":"Dupré","email":"lea.dupre@exemple.fr",` +
			`"address_line1":"3 rue des Lilas","postal_code":"75011","city":"Paris","` + field + `":` + string(v) + `}`
	}
	rights := func(effectiveOn string) string {
		return `{"event_id":"EV-1","recipient_ref":"1000001","event":"opened","benefit":"AF","amount":120.5,"effective_on":"` + effectiveOn + `"}`
	}
	for _, c := range []struct {
		name, method, path, ctype, body string
		status                          int
		field                           string
	}{
		{"NUL in a name", "PUT", "/v1/recipients/1000001", js, person("family_name", "Dup\x00ré"), 400, "family_name"},
		{"LF in a name", "PUT", "/v1/recipients/1000001", js, person("given_name", "Léa\nBcc: x@evil.example"), 400, "given_name"},
		{"CR in a name", "PUT", "/v1/recipients/1000001", js, person("family_name", "Dupré\r"), 400, "family_name"},
		{"TAB in a city", "PUT", "/v1/recipients/1000001", js, person("city", "Pa\tris"), 400, "city"},
		{"ESC in an address", "PUT", "/v1/recipients/1000001", js, person("address_line1", "3 rue \x1b[31m"), 400, "address_line1"},
		{"NUL in an email", "PUT", "/v1/recipients/1000001", js, person("email", "lea\x00@exemple.fr"), 400, "email"},
		{"invalid UTF-8", "PUT", "/v1/recipients/1000001", js, `{"given_name":"L` + "\xff" + `a"}`, 400, ""},
		{"null body", "PUT", "/v1/recipients/1000001", js, `null`, 400, ""},
		{"array body", "PUT", "/v1/recipients/1000001", js, `[]`, 400, ""},
		{"text/plain body", "PUT", "/v1/recipients/1000001", "text/plain", person("city", "Lyon"), 415, "Content-Type"},
		{"no content type", "POST", "/v1/events/rights", "", rights("2027-03-01"), 415, "Content-Type"},
		{"form body", "POST", "/v1/requests", "application/x-www-form-urlencoded", `request_id=1`, 415, "Content-Type"},
		{"NUL in a path", "GET", "/v1/recipients/10\x0000001", "", "", 400, "path"},
		{"NUL in a PUT path", "PUT", "/v1/recipients/100\x00", js, person("city", "Lyon"), 400, "path"},
		{"year 0", "POST", "/v1/events/rights", js, rights("0000-01-01"), 400, "effective_on"},
		{"year 99999", "POST", "/v1/events/rights", js, `{"event_id":"EV-2","recipient_ref":"1000001","event":"opened","benefit":"AF","effective_on":"+99999-01-01"}`, 400, "effective_on"},
		{"NUL in an event id", "POST", "/v1/events/rights", js, `{"event_id":"EV\u0000","recipient_ref":"1000001","event":"opened","benefit":"AF","effective_on":"2027-03-01"}`, 400, "event_id"},
		{"NUL in a request", "POST", "/v1/requests", js, `{"request_id":"D\u0000","recipient_ref":"1000001","kind":"benefit_claim","received_at":"2027-03-12T18:00:00+01:00","channel":"online"}`, 400, "request_id"},
		{"request received in year 1", "POST", "/v1/requests", js, `{"request_id":"D-1","recipient_ref":"1000001","kind":"benefit_claim","received_at":"0001-03-12T18:00:00+01:00","channel":"online"}`, 400, "received_at"},
		{"NUL in a life event ref", "POST", "/v1/events/life", js, `{"event_id":"L-1","recipient_ref":"1000\u0000001","kind":"first_birth","occurred_on":"2027-03-01"}`, 400, "recipient_ref"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := b.raw(t, c.method, c.path, "ingest", c.ctype, c.body)
			require.Equal(t, c.status, status, body)
			_, field := errorField(t, body)
			require.Equal(t, c.field, field, body)
		})
	}
	require.Equal(t, before, b.written(t), "nothing written")
	after, err := recipients.GetByRef(ctx, b.pool, "1000001")
	require.NoError(t, err)
	require.Equal(t, stored, after, "the beneficiary is unchanged")
}

func TestComplianceErrorsHaveTheDocumentedShape(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	h := compliance.Handler(b.pool, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/compliance/yearly_notice?from=2027-01-01&to=bad", nil))
	require.Equal(t, http.StatusBadRequest, rec.Code)
	code, field := errorField(t, rec.Body.String())
	require.Equal(t, CodeInvalid, code)
	require.Equal(t, "period", field)
}

func TestReminderReplayWithAnotherPayloadIsAConflict(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	b.recipient(t, "1000001")
	b.recipient(t, "1000002")
	h := RemindersHandler(b.pool, b.api.River, &campaigns.Config{}, nil)
	post := func(body string) (int, string) {
		k, err := lookupKey(context.Background(), b.pool, "Bearer "+b.keys["staff"])
		require.NoError(t, err)
		req := httptest.NewRequest("POST", "/v1/reminders", strings.NewReader(body)).WithContext(WithKey(context.Background(), k))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	first := `{"template":"reminder_income_declaration","recipient_ref":"1000001","reason":"trimestre","idempotency_key":"rem-1","data":{"period":"1er trimestre 2027","due_date":"2027-04-15"}}`
	status, body := post(first)
	require.Equal(t, http.StatusCreated, status, body)
	before := b.written(t)

	status, body = post(first)
	require.Equal(t, http.StatusOK, status, body)
	status, body = post(strings.Replace(first, "1000001", "1000002", 1))
	require.Equal(t, http.StatusConflict, status, body)
	_, field := errorField(t, body)
	require.Equal(t, "idempotency_key", field)

	// A data field the template does not declare is refused, naming it.
	status, body = post(`{"template":"reminder_income_declaration","recipient_ref":"1000001","reason":"trimestre","data":{"period":"T1","due_date":"2027-04-15","montant_du":"9999"}}`)
	require.Equal(t, http.StatusBadRequest, status, body)
	_, field = errorField(t, body)
	require.Equal(t, "data.montant_du", field)

	// text/plain is not parsed as JSON.
	req := httptest.NewRequest("POST", "/v1/reminders", strings.NewReader(first))
	req.Header.Set("Content-Type", "text/plain")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusUnsupportedMediaType, rec.Code)
	require.Equal(t, before, b.written(t), "nothing written")
}
