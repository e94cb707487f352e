package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/courrier-dev/courrier/channels"
)

// scripted is a channel that answers with the errors it is given, in order
// (nil: accepted).
type scripted struct{ errs []error }

func (s *scripted) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	err := s.errs[0]
	s.errs = s.errs[1:]
	if err != nil {
		return channels.Receipt{}, err
	}
	return channels.Receipt{Provider: "test", MessageID: "m1", Delivered: true}, nil
}

func TestInstrumentCountsByClassAndOpensTheCircuit(t *testing.T) {
	t.Parallel()
	m := New()
	transient := channels.TransientError("451", "try later")
	ch := &scripted{errs: []error{nil, &channels.Error{Class: channels.Permanent, Code: "550", AddressRejected: true},
		&channels.Error{Class: channels.Throttled, Code: "20429"}, channels.PermanentError("554", "policy"),
		transient, transient, transient, transient, errors.New("connection reset"), nil}}
	in := m.Instrument(ch, channels.Email, "smtp")
	send := func() error { _, err := in.Send(context.Background(), channels.Message{NoticeID: 1}); return err }

	for range 4 {
		_ = send()
	}
	require.Equal(t, 1.0, testutil.ToFloat64(m.accepted.WithLabelValues("email", "smtp")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.failed.WithLabelValues("email", "smtp", ClassAddressRejected)))
	require.Equal(t, 1.0, testutil.ToFloat64(m.failed.WithLabelValues("email", "smtp", ClassThrottled)))
	require.Equal(t, 1.0, testutil.ToFloat64(m.failed.WithLabelValues("email", "smtp", ClassPermanent)))
	require.True(t, in.Up())

	for range 5 { // four 451s and an unclassified network error: transient
		_ = send()
	}
	require.Equal(t, 5.0, testutil.ToFloat64(m.failed.WithLabelValues("email", "smtp", ClassTransient)))
	require.False(t, in.Up())
	require.Equal(t, 0.0, testutil.ToFloat64(m.providerUp.WithLabelValues("email", "smtp")))
	require.Equal(t, []ProviderState{{Channel: "email", Provider: "smtp", Up: false}}, m.Providers())

	require.NoError(t, send()) // one acceptance closes it
	require.True(t, in.Up())
	require.Equal(t, 10.0, testutil.ToFloat64(m.attempted.WithLabelValues("email", "smtp")))
	require.Equal(t, "smtp", in.Provider())
}

func TestScrubPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/v1/recipients/1234567":                      "/v1/recipients/{id}",
		"/v1/notices/42?x=lea@exemple.fr":             "/v1/notices/{id}",
		"/unsubscribe/AbCdEfGhIjKlMnOpQrStUvWxYz_-12": "/unsubscribe/{id}",
		"/v1/events/rights":                           "/v1/events/rights",
		"/v2/requests/REQ-1/answer":                   "/v2/requests/{id}/answer",
		"/riverui/":                                   "/riverui/",
	} {
		require.Equal(t, want, ScrubPath(in), in)
	}
}

// TestScrubberRewritesRequestAttributes: a server span started with the
// request's path and query keeps neither.
func TestScrubberRewritesRequestAttributes(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := NewTracerProvider(sdktrace.WithSyncer(exp))
	_, span := tp.Tracer("t").Start(context.Background(), "GET /v1/recipients/1234567",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("url.path", "/v1/recipients/1234567"), attribute.String("url.query", "email=lea@exemple.fr")))
	span.End()
	got := exp.GetSpans()
	require.Len(t, got, 1)
	require.Equal(t, "GET /v1/recipients/{id}", got[0].Name)
	attrs := map[attribute.Key]string{}
	for _, a := range got[0].Attributes {
		attrs[a.Key] = a.Value.AsString()
	}
	require.Equal(t, "/v1/recipients/{id}", attrs["url.path"])
	require.Empty(t, attrs["url.query"])
}

func TestTracingEnabled(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	require.False(t, TracingEnabled(env()))
	require.True(t, TracingEnabled(env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")))
	require.True(t, TracingEnabled(env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces")))
	require.False(t, TracingEnabled(env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", "OTEL_SDK_DISABLED", "true")))
	require.False(t, TracingEnabled(env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", "OTEL_TRACES_EXPORTER", "none")))
}

// TestRegisterText: metrics written in the text format by a part that keeps
// its own counters are served with the others.
func TestRegisterText(t *testing.T) {
	t.Parallel()
	m := New()
	m.RegisterText(func(w io.Writer) {
		fmt.Fprintln(w, "# HELP courrier_bounce_reports Bounce reports by outcome.")
		fmt.Fprintln(w, "# TYPE courrier_bounce_reports counter")
		fmt.Fprintln(w, `courrier_bounce_reports{outcome="applied"} 3`)
		fmt.Fprintln(w, `courrier_bounce_reports{outcome="forged"} 1`)
	})
	n, err := testutil.GatherAndCount(m.Registry, "courrier_bounce_reports")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.NoError(t, testutil.GatherAndCompare(m.Registry, strings.NewReader(`# HELP courrier_bounce_reports Bounce reports by outcome.
# TYPE courrier_bounce_reports counter
courrier_bounce_reports{outcome="applied"} 3
courrier_bounce_reports{outcome="forged"} 1
`), "courrier_bounce_reports"))
}
