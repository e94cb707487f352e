package telemetry

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// TracingEnabled reports whether the standard OTEL_* variables ask for
// traces: an OTLP endpoint is set, and neither OTEL_SDK_DISABLED=true nor
// OTEL_TRACES_EXPORTER=none says otherwise.
func TracingEnabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// SetupTracing installs the global tracer provider: an OTLP/HTTP exporter
// configured by the standard OTEL_EXPORTER_OTLP_* variables (endpoint,
// headers, TLS, timeout), sampling by OTEL_TRACES_SAMPLER, resource by
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. When tracing is off it
// installs only the W3C propagator and returns a no-op shutdown.
func SetupTracing(ctx context.Context, getenv func(string) string, version string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !TracingEnabled(getenv) {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	tp := NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(serviceResource(ctx, version)))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

func serviceResource(ctx context.Context, version string) *resource.Resource {
	base := resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName("courrier"), semconv.ServiceVersion(version))
	env, err := resource.New(ctx, resource.WithFromEnv(), resource.WithHost(), resource.WithProcessPID())
	if err != nil {
		return base
	}
	r, err := resource.Merge(base, env)
	if err != nil {
		return base
	}
	return r
}

// NewTracerProvider returns an SDK tracer provider whose spans are scrubbed
// of personal data (see Scrubber) before any other processor sees them.
// Tests pass a tracetest exporter.
func NewTracerProvider(opts ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(Scrubber{})}, opts...)...)
}

// Scrubber rewrites the attributes that HTTP instrumentation copies from the
// request and that may carry a beneficiary's number or an unsubscribe
// token: path segments with digits or long tokens become "{id}" and query
// strings are dropped.
type Scrubber struct{}

var _ sdktrace.SpanProcessor = Scrubber{}

var scrubbed = map[attribute.Key]bool{"url.path": true, "http.target": true, "url.full": true, "http.url": true}

// OnStart implements sdktrace.SpanProcessor.
func (Scrubber) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	for _, kv := range s.Attributes() {
		switch {
		case scrubbed[kv.Key]:
			s.SetAttributes(attribute.String(string(kv.Key), ScrubPath(kv.Value.AsString())))
		case kv.Key == "url.query":
			s.SetAttributes(attribute.String("url.query", ""))
		}
	}
	if s.SpanKind() == trace.SpanKindServer {
		s.SetName(ScrubPath(s.Name()))
	}
}

// OnEnd implements sdktrace.SpanProcessor.
func (Scrubber) OnEnd(sdktrace.ReadOnlySpan) {}

// Shutdown implements sdktrace.SpanProcessor.
func (Scrubber) Shutdown(context.Context) error { return nil }

// ForceFlush implements sdktrace.SpanProcessor.
func (Scrubber) ForceFlush(context.Context) error { return nil }

// ScrubPath replaces the path segments of p that may identify someone or
// something (any digit, except an API version such as v1; or a token of 24
// characters or more) with {id}, and drops the query string.
func ScrubPath(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	parts := strings.Split(p, "/")
	for i, seg := range parts {
		if seg != "" && identifying(seg) {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}

func identifying(seg string) bool {
	if len(seg) >= 24 {
		return true
	}
	if len(seg) >= 2 && seg[0] == 'v' && strings.Trim(seg[1:], "0123456789") == "" {
		return false // API version
	}
	return strings.ContainsAny(seg, "0123456789")
}

// TraceID returns the id of the trace ctx belongs to, or "" outside a
// sampled trace.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}
