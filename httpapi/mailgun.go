package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/courrier-dev/courrier/channels/bounce"
	"github.com/courrier-dev/courrier/jobs"
)

// MailgunWebhook serves Mailgun's JSON event webhooks
// (POST /webhooks/mailgun) for agencies whose relay is Mailgun: "failed"
// events with severity permanent become bounces, "complained" events
// complaints; temporary failures and other events are acknowledged and
// ignored. Each request must carry a valid signature (HMAC-SHA256 of
// timestamp + token under the webhook signing key, as documented at
// https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks)
// no older than MaxAge; anything else gets 403 and records nothing.
type MailgunWebhook struct {
	SigningKey []byte
	Record     func(ctx context.Context, in jobs.BounceInput) error
	MaxAge     time.Duration // default 15 minutes
	Now        func() time.Time
	Logger     *slog.Logger
}

type mailgunEvent struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData struct {
		Event          string `json:"event"`
		Severity       string `json:"severity"`
		Reason         string `json:"reason"`
		DeliveryStatus struct {
			Code         int    `json:"code"`
			EnhancedCode string `json:"enhanced-code"`
			Message      string `json:"message"`
			Description  string `json:"description"`
		} `json:"delivery-status"`
		Message struct {
			Headers struct {
				MessageID string `json:"message-id"`
			} `json:"headers"`
		} `json:"message"`
	} `json:"event-data"`
}

// ServeHTTP verifies and records one event.
func (h *MailgunWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxWebhookBody)
	var ev mailgunEvent
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		writeError(w, invalid("body", "not a Mailgun webhook JSON body: %v", err))
		return
	}
	if !h.verify(ev) {
		writeError(w, &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "invalid Mailgun signature"})
		return
	}
	rep, ok := mailgunReport(ev)
	mid := strings.Trim(ev.EventData.Message.Headers.MessageID, "<> ")
	if !ok || mid == "" {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ignored"})
		return
	}
	if err := h.Record(r.Context(), jobs.BounceInput{Report: rep, MessageID: "<" + mid + ">"}); err != nil {
		h.logger().Error("mailgun event not recorded", "event", ev.EventData.Event, "error", err)
		// 5xx: Mailgun retries the webhook.
		writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: CodeInternal, Message: "not recorded, retry later"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "recorded"})
}

func (h *MailgunWebhook) verify(ev mailgunEvent) bool {
	s := ev.Signature
	ts, err := strconv.ParseInt(s.Timestamp, 10, 64)
	if err != nil || s.Token == "" || len(h.SigningKey) == 0 {
		return false
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	maxAge := h.MaxAge
	if maxAge <= 0 {
		maxAge = 15 * time.Minute
	}
	if age := now.Sub(time.Unix(ts, 0)); age > maxAge || age < -maxAge {
		return false
	}
	want, err := hex.DecodeString(s.Signature)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, h.SigningKey)
	m.Write([]byte(s.Timestamp + s.Token))
	return hmac.Equal(m.Sum(nil), want)
}

// mailgunReport turns an event into a bounce.Report; false when the event
// is not one courrier acts on.
func mailgunReport(ev mailgunEvent) (*bounce.Report, bool) {
	e := ev.EventData
	switch {
	case e.Event == "complained":
		return &bounce.Report{Type: bounce.TypeComplaint, Format: "mailgun", FeedbackType: "abuse"}, true
	case e.Event == "failed" && e.Severity == "permanent":
		ds := e.DeliveryStatus
		text := strings.TrimSpace(ds.Message + " " + ds.Description)
		class, rule := bounce.Classify(ds.EnhancedCode, ds.Code, text)
		rc := bounce.Recipient{Action: "failed", Status: ds.EnhancedCode, Code: ds.Code, Class: class, Rule: rule,
			Diagnostic: bounce.ReduceDiagnostic(text)}
		if rc.Status == "" {
			rc.Status = bounce.FindStatus(text)
		}
		return &bounce.Report{Type: bounce.TypeBounce, Format: "mailgun", Recipients: []bounce.Recipient{rc}}, true
	}
	return nil, false
}

func (h *MailgunWebhook) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}
