// Package telemetry is courrier's operational instrumentation: Prometheus
// metrics (client_golang) and OpenTelemetry traces.
//
// Metrics come from three places, chosen so that a scrape never queries the
// notices table:
//
//   - provider calls, counted live by a wrapper around each channels.Channel
//     (Instrument): attempts, acceptances, failures by class, call latency;
//   - the sealed ledger, read incrementally after a cursor kept in the
//     database (LedgerTail): delivered, bounced, complained, fallen back and
//     the notices' latency from creation to acceptance and to final outcome.
//     Each sealed event is counted once, by whichever serve process reads it;
//     sum the series over instances;
//   - gauges refreshed on an interval (Sampler): River queue depth and job
//     age, ledger seal lag, campaign progress, watchdog counts, stuck work.
package telemetry

import (
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Failure classes of a provider call, as counted in
// courrier_messages_failed_total{class}.
const (
	ClassTransient       = "transient"
	ClassPermanent       = "permanent"
	ClassThrottled       = "throttled"
	ClassAddressRejected = "address_rejected"
)

// LatencyBuckets are the buckets, in seconds, of the notice latency
// histograms: from a second to 30 days, with the promises' 1, 5, 10 and 15
// days as bucket bounds.
var LatencyBuckets = []float64{
	1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600,
	1 * 86400, 2 * 86400, 3 * 86400, 5 * 86400, 10 * 86400, 15 * 86400, 30 * 86400,
}

// Metrics holds courrier's Prometheus metrics in a registry of their own (one
// per process; tests make one each).
type Metrics struct {
	Registry *prometheus.Registry

	attempted        *prometheus.CounterVec
	accepted         *prometheus.CounterVec
	failed           *prometheus.CounterVec
	providerDuration *prometheus.HistogramVec
	providerUp       *prometheus.GaugeVec

	ledgerEvents   *prometheus.CounterVec
	delivered      *prometheus.CounterVec
	bounced        *prometheus.CounterVec
	complained     *prometheus.CounterVec
	fallenBack     *prometheus.CounterVec
	noticeAccepted *prometheus.HistogramVec
	noticeFinal    *prometheus.HistogramVec

	riverJobs       *prometheus.GaugeVec
	riverOldest     *prometheus.GaugeVec
	unsealed        prometheus.Gauge
	sealLag         prometheus.Gauge
	lastSeal        prometheus.Gauge
	campaignNotices *prometheus.GaugeVec
	campaignTarget  *prometheus.GaugeVec
	jobOutcomes     *prometheus.CounterVec
	sampleErrors    prometheus.Counter
	lastSample      prometheus.Gauge

	// Failures reported by the parts that meet them (ledger signing,
	// timestamping, print handover): Fail("tsa") etc.
	failures *prometheus.CounterVec

	health     health
	stuck      *stuckGauges // nil until RegisterStuck
	collectors []prometheus.Collector
}

// New returns the metrics, registered with Go runtime and process
// collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{Registry: r}
	f := func(c prometheus.Collector) { r.MustRegister(c); m.collectors = append(m.collectors, c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cp := []string{"channel", "provider"}

	m.attempted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courrier_messages_attempted_total",
		Help: "Messages handed to a provider (each call, retries included)."}, cp)
	m.accepted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courrier_messages_accepted_total",
		Help: "Messages the provider accepted."}, cp)
	m.failed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courrier_messages_failed_total",
		Help: "Provider calls that failed, by class: transient, permanent, throttled, address_rejected."},
		append(cp, "class"))
	m.providerDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "courrier_provider_call_duration_seconds",
		Help:    "Duration of provider calls (SMTP transaction, Twilio request, outbox write), by outcome.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, append(cp, "outcome"))
	m.providerUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "courrier_provider_up",
		Help: "1 while the provider answers, 0 after consecutive transient failures (circuit open)."}, cp)

	m.ledgerEvents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courrier_ledger_events_total",
		Help: "Sealed ledger events, by channel, provider and event (sending, sent, delivered, retry, failed, receipts)."},
		append(cp, "event"))
	m.delivered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courrier_messages_delivered_total",
		Help: "Delivered events in the sealed ledger (SMTP acceptance, outbox, print handover, delivery receipts)."}, cp)
	m.bounced = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courrier_messages_bounced_total",
		Help: "Bounced events in the sealed ledger."}, cp)
	m.complained = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courrier_messages_complained_total",
		Help: "Complaint (abuse report) events in the sealed ledger."}, cp)
	m.fallenBack = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courrier_messages_fallen_back_total",
		Help: "First attempts on a channel after another channel of the notice's route failed, by the new channel."}, cp)
	m.noticeAccepted = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "courrier_notice_accepted_seconds",
		Help:    "Time from a notice's creation to a provider's acceptance of it, by kind.",
		Buckets: LatencyBuckets}, []string{"kind"})
	m.noticeFinal = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "courrier_notice_final_seconds",
		Help:    "Time from a notice's creation to a final outcome of a delivery (delivered, undelivered, failed, bounced), by kind.",
		Buckets: LatencyBuckets}, []string{"kind", "outcome"})

	m.riverJobs = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "courrier_river_jobs",
		Help: "Unfinished River jobs by queue, kind and state, at the last sample."}, []string{"queue", "kind", "state"})
	m.riverOldest = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "courrier_river_oldest_job_age_seconds",
		Help: "Age of the oldest unfinished River job by queue, kind and state (available: since scheduled; running: since attempted)."},
		[]string{"queue", "kind", "state"})
	m.unsealed = prometheus.NewGauge(prometheus.GaugeOpts{Name: "courrier_ledger_unsealed_events",
		Help: "Ledger events not yet sealed into the hash chain."})
	m.sealLag = prometheus.NewGauge(prometheus.GaugeOpts{Name: "courrier_ledger_seal_lag_seconds",
		Help: "Age of the oldest unsealed ledger event (0 when everything is sealed)."})
	m.lastSeal = prometheus.NewGauge(prometheus.GaugeOpts{Name: "courrier_ledger_last_seal_timestamp_seconds",
		Help: "Unix time of the last ledger seal (0: never sealed)."})
	m.campaignNotices = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "courrier_campaign_notices",
		Help: "Notices of running or paused campaigns by state."}, []string{"campaign", "state"})
	m.campaignTarget = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "courrier_campaign_targeted",
		Help: "Audience members walked by the fan-out of running or paused campaigns, and the audience estimate."},
		[]string{"campaign", "measure"})
	m.jobOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courrier_river_job_outcomes_total",
		Help: "Jobs worked by this process, by queue, kind and outcome: ok, error, discarded (error on the last attempt), cancel, snooze, panic."},
		[]string{"queue", "kind", "outcome"})
	m.sampleErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "courrier_telemetry_sample_errors_total",
		Help: "Failed refreshes of the sampled gauges (database unreachable or slow)."})
	m.lastSample = prometheus.NewGauge(prometheus.GaugeOpts{Name: "courrier_telemetry_last_sample_timestamp_seconds",
		Help: "Unix time of the last successful refresh of the sampled gauges."})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courrier_operation_failures_total",
		Help: "Failures of background operations: seal, signing (checkpoint key), tsa (RFC 3161 timestamp), certificate, print_handover."},
		[]string{"operation"})

	for _, c := range []prometheus.Collector{m.attempted, m.accepted, m.failed, m.providerDuration, m.providerUp,
		m.ledgerEvents, m.delivered, m.bounced, m.complained, m.fallenBack, m.noticeAccepted, m.noticeFinal,
		m.riverJobs, m.riverOldest, m.jobOutcomes, m.unsealed, m.sealLag, m.lastSeal, m.campaignNotices, m.campaignTarget,
		m.sampleErrors, m.lastSample, m.failures} {
		f(c)
	}
	for _, op := range Operations {
		m.failures.WithLabelValues(op)
	}
	return m
}

// Operations are the background operations whose failures are counted by
// Fail; alerts expect each series to exist from the start.
var Operations = []string{"seal", "signing", "tsa", "certificate", "print_handover"}

// Fail counts one failure of a background operation (one of Operations).
func (m *Metrics) Fail(operation string) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(operation).Inc()
}

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry, Timeout: 10 * time.Second})
}

// WatchdogCounts are the deadline watchdog's figures, read at each scrape.
type WatchdogCounts struct {
	Escalations, Breaches, AcksAtRisk, AnswersAtRisk int64
}

// RegisterWatchdog exports the deadline watchdog's figures through read,
// called at each scrape (it reads counters in memory, never the database):
// courrier_watchdog_at_risk{rule, caf} and courrier_deadlines_missed_total.
// The caf label is empty until agencies exist.
func (m *Metrics) RegisterWatchdog(read func() WatchdogCounts) {
	c := &watchdogCollector{read: read}
	m.Registry.MustRegister(c)
	m.collectors = append(m.collectors, c)
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Names returns the name of every series family the metrics can export
// (histograms with their _bucket, _sum and _count series), for checks of
// dashboards and alert rules.
func (m *Metrics) Names() map[string]bool {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range m.collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	names := map[string]bool{}
	for d := range ch {
		if sm := fqName.FindStringSubmatch(d.String()); sm != nil {
			for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
				names[sm[1]+suffix] = true
			}
		}
	}
	return names
}

var (
	atRiskDesc = prometheus.NewDesc("courrier_watchdog_at_risk",
		"Notices or requests within the watchdog margin of a promise's deadline at its last pass, by compliance rule and Caf.",
		[]string{"rule", "caf"}, nil)
	missedDesc = prometheus.NewDesc("courrier_deadlines_missed_total",
		"Request deadlines found missed by the deadline watchdog.", []string{"caf"}, nil)
	escalatedDesc = prometheus.NewDesc("courrier_ack_escalations_total",
		"Acknowledgements escalated to their next channel by the deadline watchdog.", []string{"caf"}, nil)
)

type watchdogCollector struct{ read func() WatchdogCounts }

func (c *watchdogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- atRiskDesc
	ch <- missedDesc
	ch <- escalatedDesc
}

func (c *watchdogCollector) Collect(ch chan<- prometheus.Metric) {
	w := c.read()
	ch <- prometheus.MustNewConstMetric(atRiskDesc, prometheus.GaugeValue, float64(w.AcksAtRisk), "acknowledgement", "")
	ch <- prometheus.MustNewConstMetric(atRiskDesc, prometheus.GaugeValue, float64(w.AnswersAtRisk), "answer", "")
	ch <- prometheus.MustNewConstMetric(missedDesc, prometheus.CounterValue, float64(w.Breaches), "")
	ch <- prometheus.MustNewConstMetric(escalatedDesc, prometheus.CounterValue, float64(w.Escalations), "")
}
