package telemetry

import (
	"bytes"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// RegisterText exports, at each scrape, the metrics that write prints in
// the Prometheus text format: the bridge for parts that keep their own
// counters (the bounce intakes) until they move to client_golang. Counters
// and gauges are re-exported as such, anything else as untyped; a series
// that collides with a registered one fails the scrape, as it should.
func (m *Metrics) RegisterText(write func(io.Writer)) {
	m.Registry.MustRegister(&textCollector{write: write})
}

type textCollector struct{ write func(io.Writer) }

// Describe sends nothing: the collector is unchecked, its series are only
// known once written.
func (c *textCollector) Describe(chan<- *prometheus.Desc) {}

func (c *textCollector) Collect(ch chan<- prometheus.Metric) {
	var buf bytes.Buffer
	c.write(&buf)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewDesc("courrier_text_metrics", "text metrics bridge", nil, nil), err)
		return
	}
	for name, f := range fams {
		for _, mt := range f.GetMetric() {
			var names, values []string
			for _, l := range mt.GetLabel() {
				names = append(names, l.GetName())
				values = append(values, l.GetValue())
			}
			desc := prometheus.NewDesc(name, f.GetHelp(), names, nil)
			var typ prometheus.ValueType
			var v float64
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				typ, v = prometheus.CounterValue, mt.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				typ, v = prometheus.GaugeValue, mt.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				typ, v = prometheus.UntypedValue, mt.GetUntyped().GetValue()
			default:
				continue // histograms and summaries are written with client_golang
			}
			if pm, err := prometheus.NewConstMetric(desc, typ, v, values...); err == nil {
				ch <- pm
			}
		}
	}
}
