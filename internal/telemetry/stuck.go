package telemetry

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// StuckWork is work held by a process that is gone (jobs.StuckWork): jobs
// still running after the rescue delay, deliveries still sending after the
// lease, and since when.
type StuckWork struct {
	Jobs, Sending int64
	Since         time.Time
}

type stuckGauges struct {
	read   func(context.Context, *pgxpool.Pool) (StuckWork, error)
	work   *prometheus.GaugeVec
	oldest prometheus.Gauge
}

// RegisterStuck exports the work held by dead processes, read by the
// sampler at each pass: courrier_stuck_work{what="jobs"|"sending"} and
// courrier_stuck_work_oldest_seconds. Non-zero values that last longer than
// the rescue delay plus River's rescuer interval mean no rescuer runs.
func (m *Metrics) RegisterStuck(read func(context.Context, *pgxpool.Pool) (StuckWork, error)) {
	g := &stuckGauges{read: read,
		work: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "courrier_stuck_work",
			Help: "Work held by a process that is gone: delivery jobs running past the rescue delay (jobs), deliveries sending past the lease (sending)."},
			[]string{"what"}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{Name: "courrier_stuck_work_oldest_seconds",
			Help: "Age of the oldest stuck job or delivery (0 when none)."}),
	}
	for _, c := range []prometheus.Collector{g.work, g.oldest} {
		m.Registry.MustRegister(c)
		m.collectors = append(m.collectors, c)
	}
	g.work.WithLabelValues("jobs").Set(0)
	g.work.WithLabelValues("sending").Set(0)
	m.stuck = g
}

func (m *Metrics) sampleStuck(ctx context.Context, pool *pgxpool.Pool) error {
	if m.stuck == nil {
		return nil
	}
	s, err := m.stuck.read(ctx, pool)
	if err != nil {
		return err
	}
	m.stuck.work.WithLabelValues("jobs").Set(float64(s.Jobs))
	m.stuck.work.WithLabelValues("sending").Set(float64(s.Sending))
	age := 0.0
	if !s.Since.IsZero() {
		age = max(0, time.Since(s.Since).Seconds())
	}
	m.stuck.oldest.Set(age)
	return nil
}
