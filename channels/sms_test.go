package channels

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "0123456789abcdef0123456789abcdef"
)

// fakeTwilio speaks the shapes of Twilio's Messages API.
type fakeTwilio struct {
	srv *httptest.Server

	mu       sync.Mutex
	conns    int
	requests []url.Values
	// replies by To number: status, JSON body and headers; default 201.
	replies map[string]fakeReply
}

type fakeReply struct {
	status int
	body   string
	header http.Header
}

func newFakeTwilio(t *testing.T) *fakeTwilio {
	t.Helper()
	f := &fakeTwilio{replies: map[string]fakeReply{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != testSID || pass != testToken || r.PathValue("sid") != testSID {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			http.Error(w, "bad content type "+ct, http.StatusBadRequest)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.requests = append(f.requests, r.PostForm)
		n := len(f.requests)
		reply, scripted := f.replies[r.PostForm.Get("To")]
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if scripted {
			for k, v := range reply.header {
				w.Header()[k] = v
			}
			w.WriteHeader(reply.status)
			fmt.Fprint(w, reply.body)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"sid":                   fmt.Sprintf("SM%032d", n),
			"account_sid":           testSID,
			"to":                    r.PostForm.Get("To"),
			"from":                  r.PostForm.Get("From"),
			"messaging_service_sid": r.PostForm.Get("MessagingServiceSid"),
			"body":                  r.PostForm.Get("Body"),
			"status":                "queued",
			"num_segments":          "1",
			"direction":             "outbound-api",
			"api_version":           "2010-04-01",
			"date_created":          time.Now().UTC().Format(time.RFC1123Z),
			"uri":                   fmt.Sprintf("/2010-04-01/Accounts/%s/Messages/SM%032d.json", testSID, n),
		})
	})
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
		}
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// Conns is the number of connections the server accepted.
func (f *fakeTwilio) Conns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns
}

func (f *fakeTwilio) script(to string, status int, body string, header http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[to] = fakeReply{status: status, body: body, header: header}
}

func (f *fakeTwilio) Requests() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.requests...)
}

func twilioError(code, status int, msg string) string {
	return fmt.Sprintf(`{"code":%d,"message":%q,"more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`, code, msg, code, status)
}

func setupSMS(t *testing.T, cfg SMSConfig) (*Twilio, *fakeTwilio) {
	t.Helper()
	f := newFakeTwilio(t)
	if cfg.AccountSID == "" {
		cfg.AccountSID, cfg.AuthToken = testSID, testToken
	}
	if cfg.MessagingServiceSID == "" && cfg.From == "" {
		cfg.From = "CAF"
	}
	cfg.APIBaseURL = f.srv.URL
	cfg.StatusCallbackBase = "https://courrier.example.fr/"
	sms, err := NewSMS(cfg)
	require.NoError(t, err)
	return sms, f
}

func smsMessage(to string) Message {
	return Message{NoticeID: 5, DeliveryID: 42, Kind: "reminder", Channel: SMS, To: to,
		Text: "Caf : pensez à déclarer vos ressources trimestrielles avant le 15 mars."}
}

func TestNewSMSValidation(t *testing.T) {
	t.Parallel()
	base := SMSConfig{AccountSID: testSID, AuthToken: testToken, From: "CAF"}
	tests := []struct {
		name    string
		mod     func(*SMSConfig)
		wantErr string
	}{
		{"ok alphanumeric sender", func(*SMSConfig) {}, ""},
		{"ok E.164 sender", func(c *SMSConfig) { c.From = "+33700000001" }, ""},
		{"ok messaging service", func(c *SMSConfig) { c.From, c.MessagingServiceSID = "", "MG0123456789abcdef0123456789abcdef" }, ""},
		{"sid with symbols", func(c *SMSConfig) { c.AccountSID = "AC-123" }, "TWILIO_ACCOUNT_SID"},
		{"sid empty", func(c *SMSConfig) { c.AccountSID = "" }, "TWILIO_ACCOUNT_SID"},
		{"token with symbols", func(c *SMSConfig) { c.AuthToken = "tok en" }, "TWILIO_AUTH_TOKEN"},
		{"no sender", func(c *SMSConfig) { c.From = "" }, "one of TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM"},
		{"sender too long", func(c *SMSConfig) { c.From = "CAFDEPARIS12" }, "alphanumeric sender ID"},
		{"sender digits only", func(c *SMSConfig) { c.From = "12345" }, "alphanumeric sender ID"},
		{"bad E.164", func(c *SMSConfig) { c.From = "+0123" }, "not an E.164 number"},
		{"bad service sid", func(c *SMSConfig) { c.MessagingServiceSID = "XX1" }, "TWILIO_MESSAGING_SERVICE_SID"},
		{"bad public URL", func(c *SMSConfig) { c.StatusCallbackBase = "courrier.example.fr" }, "absolute http(s) URL"},
		{"bad API URL", func(c *SMSConfig) { c.APIBaseURL = "localhost" }, "API base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := base
			tt.mod(&cfg)
			_, err := NewSMS(cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestSMSSend(t *testing.T) {
	t.Parallel()
	sms, f := setupSMS(t, SMSConfig{})
	rcpt, err := sms.Send(context.Background(), smsMessage("+33612345678"))
	require.NoError(t, err)
	require.Equal(t, Receipt{Provider: "twilio", MessageID: fmt.Sprintf("SM%032d", 1), Delivered: false, Evidence: "twilio_accepted"}, rcpt)

	reqs := f.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "+33612345678", reqs[0].Get("To"))
	require.Equal(t, "CAF", reqs[0].Get("From"))
	require.Empty(t, reqs[0].Get("MessagingServiceSid"))
	require.Equal(t, smsMessage("").Text, reqs[0].Get("Body"))
	require.Equal(t, "https://courrier.example.fr/webhooks/twilio/status?delivery=42", reqs[0].Get("StatusCallback"))
}

func TestSMSSendWithMessagingService(t *testing.T) {
	t.Parallel()
	sms, f := setupSMS(t, SMSConfig{MessagingServiceSID: "MG0123456789abcdef0123456789abcdef"})
	_, err := sms.Send(context.Background(), smsMessage("+262692123456"))
	require.NoError(t, err)
	reqs := f.Requests()
	require.Equal(t, "MG0123456789abcdef0123456789abcdef", reqs[0].Get("MessagingServiceSid"))
	require.Empty(t, reqs[0].Get("From"))
}

func TestSMSBadCredentialsArePermanent(t *testing.T) {
	t.Parallel()
	sms, _ := setupSMS(t, SMSConfig{AccountSID: testSID, AuthToken: "wrongtoken"})
	_, err := sms.Send(context.Background(), smsMessage("+33612345678"))
	ce := Classify(err)
	require.Equal(t, Permanent, ce.Class)
	require.Equal(t, "20003", ce.Code)
}

func TestSMSErrorClassification(t *testing.T) {
	t.Parallel()
	sms, f := setupSMS(t, SMSConfig{})
	tests := []struct {
		to               string
		status           int
		body             string
		header           http.Header
		class            Class
		code             string
		addressRejected  bool
		consentWithdrawn bool
		retryAfter       time.Duration
	}{
		{to: "+33600000001", status: 400, body: twilioError(21211, 400, "The 'To' number +33600000001 is not a valid phone number."),
			class: Permanent, code: "21211", addressRejected: true},
		{to: "+33100000002", status: 400, body: twilioError(21614, 400, "'To' number is not a valid mobile number"),
			class: Permanent, code: "21614", addressRejected: true},
		{to: "+33600000003", status: 400, body: twilioError(21610, 400, "Attempt to send to unsubscribed recipient"),
			class: Permanent, code: "21610", consentWithdrawn: true},
		{to: "+33600000004", status: 400, body: twilioError(21408, 400, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"),
			class: Permanent, code: "21408"},
		{to: "+33600000005", status: 400, body: twilioError(21612, 400, "The 'To' phone number is not currently reachable using the 'From' phone number via SMS."),
			class: Permanent, code: "21612"},
		{to: "+33600000006", status: 429, body: twilioError(20429, 429, "Too Many Requests"), header: http.Header{"Retry-After": {"7"}},
			class: Throttled, code: "20429", retryAfter: 7 * time.Second},
		{to: "+33600000007", status: 429, body: twilioError(20429, 429, "Too Many Requests"),
			class: Throttled, code: "20429", retryAfter: time.Second},
		{to: "+33600000008", status: 400, body: twilioError(20429, 400, "Too Many Requests"),
			class: Throttled, code: "20429", retryAfter: time.Second},
		{to: "+33600000009", status: 500, body: twilioError(20500, 500, "Internal Server Error"),
			class: Transient, code: "20500"},
		{to: "+33600000010", status: 503, body: "<html>Service Unavailable</html>",
			class: Transient, code: "503"},
		{to: "+33600000011", status: 429, body: "slow down", header: http.Header{"Retry-After": {"3"}},
			class: Throttled, code: "429", retryAfter: 3 * time.Second},
		{to: "+33600000012", status: 400, body: twilioError(21602, 400, "Message body is required."),
			class: Permanent, code: "21602"},
	}
	for _, tt := range tests {
		t.Run(tt.code+tt.to, func(t *testing.T) {
			t.Parallel()
			f.script(tt.to, tt.status, tt.body, tt.header)
			_, err := sms.Send(context.Background(), smsMessage(tt.to))
			require.Error(t, err)
			ce := Classify(err)
			require.Equal(t, tt.class, ce.Class, err.Error())
			require.Equal(t, tt.code, ce.Code)
			require.Equal(t, tt.addressRejected, ce.AddressRejected)
			require.Equal(t, tt.consentWithdrawn, ce.ConsentWithdrawn)
			require.Equal(t, tt.retryAfter, ce.RetryAfter)
			require.NotContains(t, err.Error(), tt.to, "errors must not carry the phone number")
		})
	}
}

func TestSMSNetworkErrorIsTransient(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there any more

	sms, err := NewSMS(SMSConfig{AccountSID: testSID, AuthToken: testToken, From: "CAF", APIBaseURL: "http://" + addr})
	require.NoError(t, err)
	_, err = sms.Send(context.Background(), smsMessage("+33612345678"))
	ce := Classify(err)
	require.Equal(t, Transient, ce.Class)
	require.Equal(t, "network", ce.Code)
}

func TestSMSHonoursContext(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	sms, err := NewSMS(SMSConfig{AccountSID: testSID, AuthToken: testToken, From: "CAF", APIBaseURL: srv.URL})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := sms.Send(ctx, smsMessage("+33612345678"))
		errc <- err
	}()
	cancel()
	err = <-errc
	require.True(t, errors.Is(err, context.Canceled), "got %v", err)
	require.Equal(t, Transient, Classify(err).Class)
}

func TestSMSInvalidMessage(t *testing.T) {
	t.Parallel()
	sms, f := setupSMS(t, SMSConfig{})
	_, err := sms.Send(context.Background(), smsMessage(""))
	require.Equal(t, Permanent, Classify(err).Class)
	msg := smsMessage("+33612345678")
	msg.Text = ""
	_, err = sms.Send(context.Background(), msg)
	require.Equal(t, Permanent, Classify(err).Class)
	require.Empty(t, f.Requests())
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	require.Equal(t, time.Second, retryAfter(""))
	require.Equal(t, time.Second, retryAfter("soon"))
	require.Equal(t, 30*time.Second, retryAfter("30"))
	require.Equal(t, time.Second, retryAfter(time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)))
	d := retryAfter(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	require.Greater(t, d, 50*time.Minute)
}

// Eight senders at once reuse their connections instead of dialling per
// request (http.DefaultTransport keeps two idle connections per host: 800
// requests opened ~190 connections). A connection is put back idle a moment
// after its response is read, so a few more than eight may be opened.
func TestSMSReusesConnections(t *testing.T) {
	t.Parallel()
	sms, f := setupSMS(t, SMSConfig{})
	var wg sync.WaitGroup
	errs := make(chan error, 8*100)
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, err := sms.Send(context.Background(), smsMessage("+33612345678"))
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, f.Requests(), 800)
	require.LessOrEqual(t, f.Conns(), 32, "connections are reused, not dialled per request")
}

func BenchmarkSMSSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"sid":"SM00000000000000000000000000000001","status":"queued"}`)
	}))
	defer srv.Close()
	sms, err := NewSMS(SMSConfig{AccountSID: testSID, AuthToken: testToken, From: "CAF", APIBaseURL: srv.URL,
		StatusCallbackBase: "https://courrier.example.fr"})
	if err != nil {
		b.Fatal(err)
	}
	msg := smsMessage("+33612345678")
	b.ReportAllocs()
	b.SetParallelism(4) // 8 senders on 2 cores, as a batch has
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := sms.Send(context.Background(), msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}
