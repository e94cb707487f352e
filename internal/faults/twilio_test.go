//go:build fault

package faults

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// twilioSID and twilioToken are the credentials serve children use.
const (
	twilioSID   = "AC00000000000000000000000000000000"
	twilioToken = "secret"
)

// twilioServer follows Twilio's Messages API as documented: a form POST to
// /2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP basic
// authentication (account SID, auth token) answers 201 with the message
// resource (sid SM…, status queued), and errors carry Twilio's JSON error
// shape {code, message, more_info, status}. It counts accepted messages per
// destination number and answers 429 (code 20429) or 500 (code 20500) to a
// fraction of requests.
type twilioServer struct {
	mu       sync.Mutex
	counts   map[string]int // accepted messages per To
	last     time.Time
	starts   []time.Time // when each accepted request arrived
	fail429  float64
	fail500  float64
	answered map[int]int // HTTP status → requests
	srv      *httptest.Server
}

func newTwilio(t *testing.T) *twilioServer {
	tw := &twilioServer{counts: map[string]int{}, answered: map[int]int{}}
	tw.srv = httptest.NewServer(http.HandlerFunc(tw.serveHTTP))
	t.Cleanup(tw.srv.Close)
	return tw
}

func (tw *twilioServer) url() string { return tw.srv.URL }

func (tw *twilioServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	began := time.Now()
	path := "/2010-04-01/Accounts/" + twilioSID + "/Messages.json"
	if r.Method != http.MethodPost || r.URL.Path != path {
		tw.fail(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != twilioSID || pass != twilioToken {
		tw.fail(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		tw.fail(w, http.StatusBadRequest, 21000, "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		tw.fail(w, http.StatusBadRequest, 21000, "unreadable form")
		return
	}
	to, body := r.PostForm.Get("To"), r.PostForm.Get("Body")
	from := r.PostForm.Get("From")
	if from == "" {
		from = r.PostForm.Get("MessagingServiceSid")
	}
	switch {
	case to == "":
		tw.fail(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case from == "":
		tw.fail(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case body == "":
		tw.fail(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	time.Sleep(5 * time.Millisecond)
	tw.mu.Lock()
	roll := mrand.Float64()
	switch {
	case roll < tw.fail429:
		tw.mu.Unlock()
		tw.fail(w, http.StatusTooManyRequests, 20429, "Too Many Requests")
		return
	case roll < tw.fail429+tw.fail500:
		tw.mu.Unlock()
		tw.fail(w, http.StatusInternalServerError, 20500, "Internal Server Error")
		return
	}
	tw.counts[to]++
	tw.last = time.Now()
	tw.starts = append(tw.starts, began)
	tw.answered[http.StatusCreated]++
	tw.mu.Unlock()

	var b [16]byte
	_, _ = rand.Read(b[:])
	sid := "SM" + hex.EncodeToString(b[:])
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sid": sid, "account_sid": twilioSID, "api_version": "2010-04-01", "status": "queued",
		"to": to, "from": from, "body": body, "direction": "outbound-api", "num_segments": "1", "num_media": "0",
		"date_created": time.Now().UTC().Format(time.RFC1123Z), "error_code": nil, "error_message": nil, "price": nil,
		"uri": "/2010-04-01/Accounts/" + twilioSID + "/Messages/" + sid + ".json",
	})
}

// fail answers with Twilio's error shape.
func (tw *twilioServer) fail(w http.ResponseWriter, status, code int, msg string) {
	tw.mu.Lock()
	tw.answered[status]++
	tw.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"code": code, "message": msg, "status": status,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
	})
}

func (tw *twilioServer) startsCopy() []time.Time {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return append([]time.Time(nil), tw.starts...)
}

func (tw *twilioServer) received() (distinct, total int, last time.Time) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	for _, n := range tw.counts {
		distinct++
		total += n
	}
	return distinct, total, tw.last
}

// errorsAnswered is how many 429 and 500 the server answered.
func (tw *twilioServer) errorsAnswered() (n429, n500 int) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.answered[http.StatusTooManyRequests], tw.answered[http.StatusInternalServerError]
}
