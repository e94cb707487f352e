package telemetry_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/internal/telemetry"
)

type accepting struct{}

func (accepting) Send(context.Context, channels.Message) (channels.Receipt, error) {
	return channels.Receipt{Provider: "smtp", MessageID: "<1@relay>", Delivered: true}, nil
}

// Wrap a channel so that its calls are counted, timed and traced, and serve
// the metrics.
func Example() {
	m := telemetry.New()
	email := m.Instrument(accepting{}, channels.Email, "smtp")
	_, _ = email.Send(context.Background(), channels.Message{NoticeID: 42, DeliveryID: 7, Channel: channels.Email})

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "courrier_messages_accepted_total") {
			fmt.Println(line)
		}
	}
	// Output:
	// courrier_messages_accepted_total{channel="email",provider="smtp"} 1
}
