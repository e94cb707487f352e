package telemetry

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/courrier-dev/courrier/channels"
)

// TracerName names the tracer of courrier's own spans.
const TracerName = "github.com/courrier-dev/courrier"

// CircuitThreshold is the number of consecutive transient failures (network,
// SMTP 4xx, HTTP 5xx) after which a provider is reported down
// (courrier_provider_up 0, /readyz "providers"); one acceptance or
// permanent answer closes it again.
const CircuitThreshold = 5

// Instrumented is a channel wrapped by Instrument.
type Instrumented struct {
	ch       channels.Channel
	channel  string
	provider string
	m        *Metrics
	tracer   trace.Tracer
	spanName string

	// The series of this channel and provider, looked up once.
	attempted, accepted prometheus.Counter
	failed              map[string]prometheus.Counter
	duration            map[string]prometheus.Observer
	up                  prometheus.Gauge

	consecutive atomic.Int64
}

var _ channels.Channel = (*Instrumented)(nil)

// Instrument wraps ch so that every Send is counted, timed and traced as a
// call to provider on channel. The span carries ids and outcome only, never
// an address or a body.
func (m *Metrics) Instrument(ch channels.Channel, channel channels.Name, provider string) *Instrumented {
	c := string(channel)
	in := &Instrumented{ch: ch, channel: c, provider: provider, m: m,
		tracer: otel.Tracer(TracerName), spanName: "provider.send " + provider,
		attempted: m.attempted.WithLabelValues(c, provider),
		accepted:  m.accepted.WithLabelValues(c, provider),
		failed:    map[string]prometheus.Counter{}, duration: map[string]prometheus.Observer{},
		up: m.providerUp.WithLabelValues(c, provider),
	}
	in.up.Set(1)
	// Every series exists from the start, so rate() and alerts see zeros.
	for _, class := range []string{ClassTransient, ClassPermanent, ClassThrottled, ClassAddressRejected} {
		in.failed[class] = m.failed.WithLabelValues(c, provider, class)
		in.duration[class] = m.providerDuration.WithLabelValues(c, provider, class)
	}
	in.duration["accepted"] = m.providerDuration.WithLabelValues(c, provider, "accepted")
	m.health.add(in)
	return in
}

// Send implements channels.Channel.
func (in *Instrumented) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	ctx, span := in.tracer.Start(ctx, in.spanName, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	recording := span.IsRecording()
	if recording {
		span.SetAttributes(
			attribute.String("courrier.channel", in.channel),
			attribute.String("courrier.provider", in.provider),
			attribute.Int64("courrier.notice_id", msg.NoticeID),
			attribute.Int64("courrier.delivery_id", msg.DeliveryID),
			attribute.String("courrier.notice_kind", msg.Kind))
	}
	in.attempted.Inc()
	start := time.Now()
	receipt, err := in.ch.Send(ctx, msg)
	outcome := "accepted"
	if err == nil {
		in.accepted.Inc()
		in.consecutive.Store(0)
	} else {
		ce := channels.Classify(err)
		outcome = ClassOf(ce)
		in.failed[outcome].Inc()
		switch {
		case ce.Class == channels.Transient && !errors.Is(err, context.Canceled):
			in.consecutive.Add(1)
		case ce.Class == channels.Permanent:
			in.consecutive.Store(0) // the provider answered
		}
		if recording {
			// The provider code and class only: messages may quote an address.
			span.SetAttributes(attribute.String("courrier.error_code", ce.Code))
			span.SetStatus(codes.Error, outcome)
		}
	}
	if recording {
		span.SetAttributes(attribute.String("courrier.outcome", outcome))
	}
	in.duration[outcome].Observe(time.Since(start).Seconds())
	if in.Up() {
		in.up.Set(1)
	} else {
		in.up.Set(0)
	}
	return receipt, err
}

// Up reports whether the provider's circuit is closed (fewer than
// CircuitThreshold consecutive transient failures).
func (in *Instrumented) Up() bool { return in.consecutive.Load() < CircuitThreshold }

// Provider names the provider (the ledger's deliveries.provider).
func (in *Instrumented) Provider() string { return in.provider }

// Unwrap returns the wrapped channel.
func (in *Instrumented) Unwrap() channels.Channel { return in.ch }

// ClassOf returns the failure class of a send error as counted in
// courrier_messages_failed_total.
func ClassOf(ce *channels.Error) string {
	switch {
	case ce.AddressRejected:
		return ClassAddressRejected
	case ce.Class == channels.Permanent:
		return ClassPermanent
	case ce.Class == channels.Throttled:
		return ClassThrottled
	}
	return ClassTransient
}

// ProviderState is one provider's circuit state, as /readyz shows it.
type ProviderState struct {
	Channel  string `json:"channel"`
	Provider string `json:"provider"`
	Up       bool   `json:"up"`
}

type health struct {
	mu   sync.Mutex
	list []*Instrumented
}

func (h *health) add(in *Instrumented) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.list = append(h.list, in)
}

// Providers returns the circuit state of every instrumented provider.
func (m *Metrics) Providers() []ProviderState {
	m.health.mu.Lock()
	defer m.health.mu.Unlock()
	out := make([]ProviderState, 0, len(m.health.list))
	for _, in := range m.health.list {
		out = append(out, ProviderState{Channel: in.channel, Provider: in.provider, Up: in.Up()})
	}
	return out
}
