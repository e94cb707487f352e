package channels

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// DefaultTwilioAPIBaseURL is where twilio-go sends its requests.
const DefaultTwilioAPIBaseURL = "https://api.twilio.com"

// SMSConfig configures the Twilio SMS channel.
type SMSConfig struct {
	AccountSID string // TWILIO_ACCOUNT_SID
	AuthToken  string // TWILIO_AUTH_TOKEN
	// MessagingServiceSID (TWILIO_MESSAGING_SERVICE_SID) or From
	// (TWILIO_FROM: an alphanumeric sender ID such as "CAF", or an E.164
	// number); the messaging service wins when both are set.
	MessagingServiceSID string
	From                string
	// StatusCallbackBase is courrier's public base URL (COURRIER_PUBLIC_URL),
	// e.g. https://courrier.example.fr. When empty, no status callback is
	// requested and SMS deliveries end as unknown.
	StatusCallbackBase string
	// APIBaseURL replaces https://api.twilio.com (tests point it at httptest).
	APIBaseURL string
	// HTTPClient supplies the transport and timeout (default: 10s timeout).
	HTTPClient *http.Client
}

// Twilio is the SMS channel: it sends messages with Twilio's REST API.
type Twilio struct {
	cfg       SMSConfig
	base      *url.URL // nil when talking to the real api.twilio.com
	transport http.RoundTripper
	timeout   time.Duration
}

var _ Channel = (*Twilio)(nil)

var (
	alphanumeric = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	// An alphanumeric sender ID is 1–11 letters, digits and spaces with at
	// least one letter; otherwise From must be an E.164 number.
	alphaSenderID = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	e164          = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// NewSMS returns an SMS channel for cfg after checking it.
func NewSMS(cfg SMSConfig) (*Twilio, error) {
	// twilio-go refuses non-alphanumeric credentials at the first request;
	// say so at start-up instead.
	if !alphanumeric.MatchString(cfg.AccountSID) || !strings.HasPrefix(cfg.AccountSID, "AC") {
		return nil, errors.New("sms: TWILIO_ACCOUNT_SID must be an alphanumeric account SID starting with AC")
	}
	if !alphanumeric.MatchString(cfg.AuthToken) {
		return nil, errors.New("sms: TWILIO_AUTH_TOKEN must be set and alphanumeric")
	}
	switch {
	case cfg.MessagingServiceSID != "":
		if !alphanumeric.MatchString(cfg.MessagingServiceSID) || !strings.HasPrefix(cfg.MessagingServiceSID, "MG") {
			return nil, fmt.Errorf("sms: TWILIO_MESSAGING_SERVICE_SID %q must be an alphanumeric SID starting with MG", cfg.MessagingServiceSID)
		}
	case cfg.From != "":
		isNumber := strings.HasPrefix(cfg.From, "+")
		if isNumber && !e164.MatchString(cfg.From) {
			return nil, fmt.Errorf("sms: TWILIO_FROM %q is not an E.164 number", cfg.From)
		}
		if !isNumber && (!alphaSenderID.MatchString(cfg.From) || !strings.ContainsFunc(cfg.From, isLetter)) {
			return nil, fmt.Errorf("sms: TWILIO_FROM %q is neither an E.164 number nor an alphanumeric sender ID (1–11 letters, digits or spaces, at least one letter)", cfg.From)
		}
	default:
		return nil, errors.New("sms: one of TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM is required")
	}
	if cfg.StatusCallbackBase != "" {
		u, err := url.Parse(cfg.StatusCallbackBase)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("sms: public base URL %q must be an absolute http(s) URL", cfg.StatusCallbackBase)
		}
		cfg.StatusCallbackBase = strings.TrimRight(cfg.StatusCallbackBase, "/")
	}
	t := &Twilio{cfg: cfg, transport: twilioTransport(), timeout: 10 * time.Second}
	if cfg.APIBaseURL != "" && strings.TrimRight(cfg.APIBaseURL, "/") != DefaultTwilioAPIBaseURL {
		u, err := url.Parse(cfg.APIBaseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("sms: API base URL %q is not an absolute URL", cfg.APIBaseURL)
		}
		t.base = u
	}
	if cfg.HTTPClient != nil {
		if cfg.HTTPClient.Transport != nil {
			t.transport = cfg.HTTPClient.Transport
		}
		if cfg.HTTPClient.Timeout > 0 {
			t.timeout = cfg.HTTPClient.Timeout
		}
	}
	return t, nil
}

// twilioIdleConns is how many connections to the Twilio API are kept open
// between requests: more than the senders of a batch, so that none dials.
const twilioIdleConns = 64

// twilioTransport is http.DefaultTransport with enough idle connections per
// host. The default keeps two: with eight senders every other request paid
// a TCP (and, against api.twilio.com, a TLS) handshake, about half of the
// process's cost per SMS.
func twilioTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = max(tr.MaxIdleConns, twilioIdleConns)
	tr.MaxIdleConnsPerHost = twilioIdleConns
	return tr
}

func isLetter(r rune) bool { return (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') }

// StatusCallbackURL is the status webhook URL for a delivery. The delivery id
// lets a callback that arrives before the message SID was committed still
// find its delivery.
func (t *Twilio) StatusCallbackURL(deliveryID int64) string {
	if t.cfg.StatusCallbackBase == "" {
		return ""
	}
	return t.cfg.StatusCallbackBase + "/webhooks/twilio/status?delivery=" + strconv.FormatInt(deliveryID, 10)
}

// Send asks Twilio to send msg. Twilio's acceptance is not delivery: the
// receipt is not Delivered, and the status callback settles the outcome.
func (t *Twilio) Send(ctx context.Context, msg Message) (Receipt, error) {
	if msg.To == "" {
		return Receipt{}, PermanentError("invalid_message", "sms for delivery %d has no phone number", msg.DeliveryID)
	}
	if msg.Text == "" {
		return Receipt{}, PermanentError("invalid_message", "sms for delivery %d has an empty body", msg.DeliveryID)
	}
	if err := ctx.Err(); err != nil {
		return Receipt{}, &Error{Class: Transient, Msg: "sms not sent", Err: err}
	}

	// twilio-go builds its requests without a context; a per-send transport
	// attaches ours (so cancellation aborts the request), points the
	// request at APIBaseURL, and remembers the status and Retry-After that
	// twilio-go's error value does not carry.
	rt := &sendTransport{ctx: ctx, base: t.base, next: t.transport}
	api := twapi.NewApiServiceWithClient(&client.Client{
		Credentials: client.NewCredentials(t.cfg.AccountSID, t.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport:     rt,
			Timeout:       t.timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	})
	params := (&twapi.CreateMessageParams{}).
		SetPathAccountSid(t.cfg.AccountSID).
		SetTo(msg.To).
		SetBody(msg.Text)
	if t.cfg.MessagingServiceSID != "" {
		params.SetMessagingServiceSid(t.cfg.MessagingServiceSID)
	} else {
		params.SetFrom(t.cfg.From)
	}
	if msg.Sender != "" {
		params.SetFrom(msg.Sender) // the Caf's own sender ID
	}
	if cb := t.StatusCallbackURL(msg.DeliveryID); cb != "" {
		params.SetStatusCallback(cb)
	}

	res, err := api.CreateMessage(params)
	if err != nil {
		return Receipt{}, classifyTwilio(ctx, err, rt.result())
	}
	if res == nil || res.Sid == nil || *res.Sid == "" {
		return Receipt{}, &Error{Class: Transient, Msg: "twilio accepted the request but returned no message SID"}
	}
	return Receipt{Provider: "twilio", MessageID: *res.Sid, Delivered: false, Evidence: "twilio_accepted"}, nil
}

// twilioResponse is what the transport saw of the last response.
type twilioResponse struct {
	seen       bool
	status     int
	retryAfter string
}

type sendTransport struct {
	ctx  context.Context
	base *url.URL
	next http.RoundTripper

	mu   sync.Mutex
	last twilioResponse
}

func (s *sendTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(s.ctx)
	if s.base != nil && (req.URL.Host == "api.twilio.com" || strings.HasSuffix(req.URL.Host, ".twilio.com")) {
		req.URL.Scheme = s.base.Scheme
		req.URL.Host = s.base.Host
		req.URL.Path = strings.TrimRight(s.base.Path, "/") + req.URL.Path
		req.Host = ""
	}
	res, err := s.next.RoundTrip(req)
	if err == nil {
		s.mu.Lock()
		s.last = twilioResponse{seen: true, status: res.StatusCode, retryAfter: res.Header.Get("Retry-After")}
		s.mu.Unlock()
	}
	return res, err
}

func (s *sendTransport) result() twilioResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Twilio error codes with a meaning for courrier.
const (
	twilioInvalidTo      = 21211 // 'To' number is not a valid phone number
	twilioNotMobile      = 21614 // 'To' number is not a valid mobile number
	twilioUnsubscribed   = 21610 // recipient replied STOP
	twilioNoPermission   = 21408 // permission to send to this region not enabled
	twilioUnreachableTo  = 21612 // cannot route to this number from this sender
	twilioTooManyReqs    = 20429 // too many requests
	defaultThrottleDelay = time.Second
)

// classifyTwilio maps a twilio-go error (and what the transport saw) to a
// channel *Error. Twilio's message text can quote the phone number, so it is
// not kept: the code and HTTP status identify the problem.
func classifyTwilio(ctx context.Context, err error, res twilioResponse) *Error {
	if ctx.Err() != nil {
		return &Error{Class: Transient, Msg: "sms send aborted", Err: ctx.Err()}
	}
	var te *client.TwilioRestError
	if !errors.As(err, &te) {
		switch {
		case !res.seen:
			return &Error{Class: Transient, Code: "network", Msg: "twilio request failed", Err: err}
		case res.status == http.StatusTooManyRequests:
			return &Error{Class: Throttled, Code: "429", Msg: "twilio asked to slow down", RetryAfter: retryAfter(res.retryAfter)}
		case res.status >= 500:
			return &Error{Class: Transient, Code: strconv.Itoa(res.status), Msg: "twilio server error"}
		case res.status >= 400:
			return &Error{Class: Permanent, Code: strconv.Itoa(res.status), Msg: "twilio rejected the request"}
		}
		return &Error{Class: Transient, Msg: "unexpected twilio response", Err: err}
	}
	status := te.Status
	if status == 0 {
		status = res.status
	}
	ce := &Error{Code: strconv.Itoa(te.Code), Msg: fmt.Sprintf("twilio error %d (HTTP %d), see %s", te.Code, status, te.MoreInfo)}
	if te.Code == 0 {
		ce.Code = strconv.Itoa(status)
		ce.Msg = fmt.Sprintf("twilio HTTP %d", status)
	}
	switch {
	case te.Code == twilioInvalidTo || te.Code == twilioNotMobile:
		ce.Class, ce.AddressRejected = Permanent, true
	case te.Code == twilioUnsubscribed:
		ce.Class, ce.ConsentWithdrawn = Permanent, true
	case te.Code == twilioNoPermission || te.Code == twilioUnreachableTo:
		ce.Class = Permanent
	case status == http.StatusTooManyRequests || te.Code == twilioTooManyReqs:
		ce.Class, ce.RetryAfter = Throttled, retryAfter(res.retryAfter)
	case status >= 500:
		ce.Class = Transient
	case status >= 400:
		ce.Class = Permanent
	default:
		ce.Class = Transient
	}
	return ce
}

// retryAfter reads a Retry-After header (seconds or HTTP date), defaulting
// to one second.
func retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return defaultThrottleDelay
	}
	if n, err := strconv.Atoi(h); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if at, err := http.ParseTime(h); err == nil {
		if d := time.Until(at); d > 0 {
			return d
		}
	}
	return defaultThrottleDelay
}
