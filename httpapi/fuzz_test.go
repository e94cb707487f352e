package httpapi

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
)

// FuzzDecodeJSON feeds hostile bodies to the intake decoder: it never
// panics, and what it accepts carries no control character other than tab,
// CR and LF in any string, and turns into a beneficiary or a 4xx.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"given_name":"Léa","family_name":"Dupré","email":"lea@exemple.fr","benefits":["AF"],"consent_sms":true}`,
		`null`, `[]`, `{}`, `{"given_name":"L\u0000a"}`, `{"given_name":"a"} {"x":1}`, `{"benefits":[1]}`,
		"{\"given_name\":\"\xff\"}", `{"unknown":1}`, `{"phone":"06 12 34 56 78","postal_code":"97100"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("PUT", "/v1/recipients/1", strings.NewReader(body))
		var b recipientBody
		if err := decodeJSON(rec, req, &b, DefaultMaxBodyBytes); err != nil {
			if e := toError(err); e.Status >= 500 {
				t.Fatalf("decode %q: %d %v", body, e.Status, err)
			}
			return
		}
		for _, s := range append([]string{b.Civility, b.GivenName, b.FamilyName, b.Email, b.Phone, b.AddressLine1,
			b.AddressLine2, b.PostalCode, b.City, b.Country, b.Language}, b.Benefits...) {
			if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' }) {
				t.Fatalf("accepted a control character: %q", body)
			}
		}
		if _, _, err := b.recipient("1000001"); err != nil {
			if e := toError(err); e.Status >= 500 {
				t.Fatalf("recipient from %q: %d %v", body, e.Status, err)
			}
		}
	})
}

// FuzzTwilioWebhook feeds hostile forms and signatures to the Twilio
// webhook parser: it never panics and never accepts a forged signature.
func FuzzTwilioWebhook(f *testing.F) {
	f.Add("MessageSid=SM1&MessageStatus=delivered", "abc=")
	f.Add("MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30003", "")
	f.Add("Body=STOP&From=%2B33612345678", "x")
	f.Add("%zz=1&&=", "\x00")
	f.Fuzz(func(t *testing.T, form, sig string) {
		h := &TwilioWebhooks{AuthToken: "secret", PublicBaseURL: "https://courrier.example",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		req := httptest.NewRequest("POST", "/webhooks/twilio/status", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		if h.verify(httptest.NewRecorder(), req) {
			t.Fatalf("forged signature %q accepted for %q", sig, form)
		}
		_ = InboundKeyword(req.PostForm.Get("Body"))
	})
}
