// Package bench measures courrier end to end against River's own ceiling:
// the same River settings work no-op jobs, then a general mailing is fanned
// out and delivered over SMTP and over a Twilio-shaped API, with the ledger
// recorded, and the compliance reports run over the result.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/templates"
)

// Options configure a run. Zero values take the defaults.
type Options struct {
	Recipients    int           // default 100,000
	BatchSize     int           // notices per deliver_batch job (default 200)
	FanoutBatch   int           // recipients per fan-out transaction (default 5,000)
	Workers       int           // River MaxWorkers of the default queue (default 200)
	BulkWorkers   int           // River MaxWorkers of the bulk queue (default 4)
	FetchCooldown time.Duration // default 1ms
	SMTPConns     int           // SMTP connections (default 32)
	Phases        []string      // subset of import, river, fanout, email, sms, mixed, letters, compliance, bounces, reports (default all but mixed and reports)
	// HistoryEvents is the number of ledger events of the reports phase's
	// seeded history (default 10 per beneficiary).
	HistoryEvents int64
	// Processes is the number of processes working the end-to-end phases,
	// this one included (default 1). Each extra one is started with
	// SpawnWorker and works the same queues on the same database.
	Processes int
	// SpawnWorker starts one more worker process (see RunWorker) delivering
	// to the given sinks. Its stop function ends it and returns the CPU
	// time it used.
	SpawnWorker func(ctx context.Context, smtpURL, twilioURL string) (stop func() (time.Duration, error), err error)
	// AckRate is the number of single acknowledgements per second enqueued
	// during the mixed phase's mailing (default 20).
	AckRate  int
	Progress io.Writer // progress lines (nil: none)
	Logger   *slog.Logger
	// Compliance, when set, runs each compliance report over the ledger and
	// returns the seconds each took, keyed by rule.
	Compliance func(ctx context.Context, pool *pgxpool.Pool) (map[string]float64, error)
}

func (o *Options) defaults() {
	if o.Recipients <= 0 {
		o.Recipients = 100_000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 200
	}
	if o.FanoutBatch <= 0 {
		o.FanoutBatch = 5_000
	}
	if o.Workers <= 0 {
		o.Workers = 200
	}
	if o.BulkWorkers <= 0 {
		o.BulkWorkers = 4
	}
	if o.FetchCooldown <= 0 {
		o.FetchCooldown = time.Millisecond
	}
	if o.SMTPConns <= 0 {
		o.SMTPConns = 32
	}
	if o.Processes <= 0 {
		o.Processes = 1
	}
	if o.AckRate <= 0 {
		o.AckRate = 20
	}
	if o.HistoryEvents <= 0 {
		o.HistoryEvents = 10 * int64(o.Recipients)
	}
	if len(o.Phases) == 0 {
		o.Phases = []string{"import", "river", "fanout", "email", "sms", "letters", "compliance", "bounces"}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

func (o *Options) wants(phase string) bool {
	for _, p := range o.Phases {
		if p == phase {
			return true
		}
	}
	return false
}

// Phase is one measured phase.
type Phase struct {
	Name      string  `json:"name"`
	Count     int     `json:"count"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	P50Millis float64 `json:"p50_enqueue_to_sent_ms,omitempty"`
	P99Millis float64 `json:"p99_enqueue_to_sent_ms,omitempty"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
	DBSizeMB  float64 `json:"db_size_mb"`
	// CPU time spent during the phase, in microseconds per item: by this
	// process (courrier and the in-process sinks) and by the rest of the
	// machine (PostgreSQL, mostly).
	CPUSelfMicros  float64 `json:"cpu_self_us_per_item,omitempty"`
	CPUOtherMicros float64 `json:"cpu_other_us_per_item,omitempty"`
	// WALBytes is the PostgreSQL write-ahead log written during the phase,
	// per item (the whole cluster's WAL: the benchmark is alone on it).
	WALBytes float64 `json:"wal_bytes_per_item,omitempty"`
	// CPUPostgresMicros is the CPU time of the PostgreSQL server's own
	// processes per item (0 when the server is not on this machine), and
	// CommitsPerItem the transactions committed in the benchmark's
	// database per item: both hold on a machine busy with other work.
	CPUPostgresMicros float64 `json:"cpu_postgres_us_per_item,omitempty"`
	CommitsPerItem    float64 `json:"commits_per_item,omitempty"`
	Note              string  `json:"note,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	StartedAt  time.Time          `json:"started_at"`
	Machine    string             `json:"machine"`
	Settings   map[string]string  `json:"settings"`
	Phases     []Phase            `json:"phases"`
	Ratios     map[string]float64 `json:"ratios_to_river_baseline"`
	Compliance map[string]float64 `json:"compliance_seconds,omitempty"`
	// Checks are correctness checks of the run; a failed one is an error.
	Checks []string `json:"checks"`
}

// Run performs the benchmark on pool, which must be a freshly migrated,
// otherwise empty database.
func Run(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Report, error) {
	opts.defaults()
	rep := &Report{
		StartedAt: time.Now().UTC(),
		Machine:   fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()),
		Settings: map[string]string{
			"recipients": strconv.Itoa(opts.Recipients), "batch_size": strconv.Itoa(opts.BatchSize),
			"fanout_batch": strconv.Itoa(opts.FanoutBatch), "max_workers": strconv.Itoa(opts.Workers), "bulk_workers": strconv.Itoa(opts.BulkWorkers),
			"fetch_cooldown": opts.FetchCooldown.String(), "smtp_connections": strconv.Itoa(opts.SMTPConns),
			"pool_max_conns": strconv.Itoa(int(pool.Config().MaxConns)), "processes": strconv.Itoa(opts.Processes),
		},
		Ratios: map[string]float64{},
	}
	b := &runner{pool: pool, opts: opts, rep: rep}
	// The evidence must be durable: say how the server commits.
	for _, setting := range []string{"synchronous_commit", "wal_level", "shared_buffers"} {
		var v string
		if err := pool.QueryRow(ctx, "SELECT current_setting($1)", setting).Scan(&v); err == nil {
			rep.Settings["pg_"+setting] = v
		}
	}

	if err := b.seedRecipients(ctx); err != nil {
		return nil, err
	}
	if opts.wants("import") {
		if err := b.importCSV(ctx); err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
	}
	if opts.wants("river") {
		if err := b.riverBaseline(ctx); err != nil {
			return nil, fmt.Errorf("river baseline: %w", err)
		}
	}
	if opts.wants("fanout") {
		if err := b.fanoutOnly(ctx); err != nil {
			return nil, fmt.Errorf("fan-out: %w", err)
		}
	}
	if opts.wants("email") {
		if err := b.endToEnd(ctx, "email", 0); err != nil {
			return nil, fmt.Errorf("end to end email: %w", err)
		}
	}
	if opts.wants("sms") {
		if err := b.endToEnd(ctx, "sms", 0); err != nil {
			return nil, fmt.Errorf("end to end sms: %w", err)
		}
	}
	if opts.wants("mixed") {
		if err := b.endToEnd(ctx, "email", opts.AckRate); err != nil {
			return nil, fmt.Errorf("mixed: %w", err)
		}
	}
	if opts.wants("letters") {
		if err := b.lettersPhase(ctx); err != nil {
			return nil, fmt.Errorf("letters: %w", err)
		}
	}
	if opts.wants("compliance") && opts.Compliance != nil {
		secs, err := opts.Compliance(ctx, pool)
		if err != nil {
			return nil, fmt.Errorf("compliance: %w", err)
		}
		rep.Compliance = secs
	}
	if opts.wants("bounces") {
		if err := b.bounces(ctx); err != nil {
			return nil, fmt.Errorf("bounces: %w", err)
		}
	}
	if opts.wants("reports") {
		if err := b.reportsPhase(ctx); err != nil {
			return nil, fmt.Errorf("reports: %w", err)
		}
	}
	if base := b.phase("river baseline (no-op jobs)"); base != nil && base.PerSecond > 0 {
		for _, p := range rep.Phases {
			if strings.HasPrefix(p.Name, "end to end") {
				rep.Ratios[p.Name] = p.PerSecond / base.PerSecond
			}
		}
	}
	return rep, nil
}

type runner struct {
	pool     *pgxpool.Pool
	opts     Options
	rep      *Report
	cpuStart cpuSample     // taken at the start of the current phase
	walStart string        // pg_current_wal_lsn() at the start of the current phase
	childCPU time.Duration // CPU of the extra worker processes in the current phase
	pgStart  pgSample      // PostgreSQL's CPU and commits at the start of the current phase
}

// cpuSample is the machine's busy CPU time and this process's CPU time.
type cpuSample struct {
	busy, self time.Duration
	ok         bool
}

// readCPU reads /proc/stat (all CPUs, busy = everything but idle and
// iowait) and this process's rusage.
func readCPU() cpuSample {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return cpuSample{}
	}
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuSample{}
	}
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpuSample{busy: time.Duration(busy) * 10 * time.Millisecond, self: self, ok: true} // USER_HZ = 100
}

// startPhase marks the start of a measured phase.
func (b *runner) startPhase() {
	b.walStart, b.childCPU = "", 0
	_ = b.pool.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&b.walStart)
	b.cpuStart = readCPU()
	b.pgStart = samplePG(context.Background(), b.pool)
}

// walSince returns the WAL bytes written since the phase started.
func (b *runner) walSince(ctx context.Context) float64 {
	if b.walStart == "" {
		return 0
	}
	var n float64
	if err := b.pool.QueryRow(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8", b.walStart).Scan(&n); err != nil {
		return 0
	}
	return n
}

func (b *runner) phase(name string) *Phase {
	for i := range b.rep.Phases {
		if b.rep.Phases[i].Name == name {
			return &b.rep.Phases[i]
		}
	}
	return nil
}

func (b *runner) progress(format string, args ...any) {
	if b.opts.Progress != nil {
		fmt.Fprintf(b.opts.Progress, "\r\033[K"+format, args...)
	}
}

func (b *runner) progressDone() {
	if b.opts.Progress != nil {
		fmt.Fprint(b.opts.Progress, "\r\033[K")
	}
}

func (b *runner) record(ctx context.Context, p Phase) {
	if p.Seconds > 0 {
		p.PerSecond = float64(p.Count) / p.Seconds
	}
	if b.cpuStart.ok && p.Count > 0 {
		now := readCPU()
		self := now.self - b.cpuStart.self + b.childCPU
		other := (now.busy - b.cpuStart.busy) - self
		p.CPUSelfMicros = self.Seconds() * 1e6 / float64(p.Count)
		p.CPUOtherMicros = max(0, other.Seconds()*1e6/float64(p.Count))
	}
	if p.Count > 0 {
		p.WALBytes = b.walSince(ctx) / float64(p.Count)
		pg := samplePG(ctx, b.pool)
		if pg.cpuOK && b.pgStart.cpuOK {
			p.CPUPostgresMicros = (pg.cpu - b.pgStart.cpu).Seconds() * 1e6 / float64(p.Count)
		}
		p.CommitsPerItem = float64(pg.commits-b.pgStart.commits) / float64(p.Count)
	}
	p.PeakRSSMB = peakRSSMB()
	var size int64
	_ = b.pool.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&size)
	p.DBSizeMB = float64(size) / (1 << 20)
	b.rep.Phases = append(b.rep.Phases, p)
}

// seedRecipients creates N beneficiaries with an email and a mobile.
func (b *runner) seedRecipients(ctx context.Context) error {
	b.startPhase()
	start := time.Now()
	const chunk = 50_000
	for from := 1; from <= b.opts.Recipients; from += chunk {
		to := min(from+chunk-1, b.opts.Recipients)
		if _, err := b.pool.Exec(ctx, `
			INSERT INTO recipients (ref, civility, given_name, family_name, email, phone, phone_type,
			    address_line1, postal_code, city, benefits, joined_at)
			SELECT 'B' || lpad(g::text, 9, '0'), CASE WHEN g % 2 = 0 THEN 'Mme' ELSE 'M.' END,
			       'Prénom' || g, 'Nom' || g, 'allocataire' || g || '@exemple.fr',
			       '+336' || lpad((g % 100000000)::text, 8, '0'), 'mobile',
			       g || ' rue de la Paix', '75002', 'Paris', ARRAY['AF'], now() - interval '2 years'
			FROM generate_series($1::int, $2::int) AS g`, from, to); err != nil {
			return fmt.Errorf("seed recipients: %w", err)
		}
		b.progress("seeding beneficiaries: %d/%d", to, b.opts.Recipients)
	}
	b.progressDone()
	if _, err := b.pool.Exec(ctx, "ANALYZE recipients"); err != nil {
		return err
	}
	b.record(ctx, Phase{Name: "seed beneficiaries", Count: b.opts.Recipients, Seconds: time.Since(start).Seconds()})
	return nil
}

// importCSV imports N new beneficiaries from a CSV file as a French
// spreadsheet exports it (BOM, ";" separator, French headers), through the
// same code as `courrier import recipients`, then removes them.
func (b *runner) importCSV(ctx context.Context) error {
	n := b.opts.Recipients
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 64<<10)
		w.WriteString("\ufeffnumero_allocataire;civilite;prenom;nom;email;telephone;adresse;code_postal;ville;prestations\n")
		for i := 1; i <= n; i++ {
			fmt.Fprintf(w, "I%09d;Mme;Élodie;Lefèbvre-%d;elodie.%d@exemple.fr;06 %02d %02d %02d %02d;%d rue de la République;69003;Lyon;AF|APL\n",
				i, i, i, i/1000000%100, i/10000%100, i/100%100, i%100, i%200+1)
		}
		pw.CloseWithError(w.Flush())
	}()
	b.startPhase()
	start := time.Now()
	sum, err := recipients.Import(ctx, b.pool, pr, recipients.ImportOpts{Actor: "bench"})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if sum.Inserted != n || sum.Rejected != 0 {
		return fmt.Errorf("imported %d of %d rows (%d rejected)", sum.Inserted, n, sum.Rejected)
	}
	b.record(ctx, Phase{Name: "CSV import (new beneficiaries)", Count: n, Seconds: secs})
	_, err = b.pool.Exec(ctx, "DELETE FROM recipients WHERE ref LIKE 'I%'")
	return err
}

// noopArgs is the River baseline's job.
type noopArgs struct{}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

func (b *runner) riverConfig(workers *river.Workers) *river.Config {
	return &river.Config{
		Logger:            jobs.QuietLogger(b.opts.Logger, slog.LevelWarn),
		FetchCooldown:     b.opts.FetchCooldown,
		FetchPollInterval: 50 * time.Millisecond,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: b.opts.Workers},
			jobs.QueueBulk:     {MaxWorkers: b.opts.BulkWorkers},
		},
		Workers: workers,
	}
}

// riverBaseline inserts N no-op jobs (COPY) and works them with the same
// client settings as the end-to-end phases.
func (b *runner) riverBaseline(ctx context.Context) error {
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{})
	client, err := river.NewClient(riverpgxv5.New(b.pool), b.riverConfig(workers))
	if err != nil {
		return err
	}
	n := b.opts.Recipients
	b.startPhase()
	start := time.Now()
	params := make([]river.InsertManyParams, 0, 10_000)
	for done := 0; done < n; {
		params = params[:0]
		for i := 0; i < 10_000 && done < n; i++ {
			params = append(params, river.InsertManyParams{Args: noopArgs{}})
			done++
		}
		if _, err := client.InsertManyFast(ctx, params); err != nil {
			return err
		}
	}
	insertSecs := time.Since(start).Seconds()
	b.record(ctx, Phase{Name: "river InsertManyFast (no-op jobs)", Count: n, Seconds: insertSecs})

	completed := make(chan struct{}, 1)
	events, cancel := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: n + 1000, Kinds: []river.EventKind{river.EventKindJobCompleted}})
	defer cancel()
	go func() {
		seen := 0
		for range events {
			seen++
			if seen == n {
				completed <- struct{}{}
				return
			}
		}
	}()
	b.startPhase()
	start = time.Now()
	if err := client.Start(ctx); err != nil {
		return err
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-completed:
			break wait
		case <-ctx.Done():
			_ = client.Stop(context.Background())
			return ctx.Err()
		case <-tick.C:
			b.progress("river baseline: %.1fs", time.Since(start).Seconds())
		}
	}
	secs := time.Since(start).Seconds()
	b.progressDone()
	stopCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if err := client.Stop(stopCtx); err != nil {
		return err
	}
	b.record(ctx, Phase{Name: "river baseline (no-op jobs)", Count: n, Seconds: secs,
		Note: fmt.Sprintf("MaxWorkers %d, FetchCooldown %s", b.opts.Workers, b.opts.FetchCooldown)})
	_, err = b.pool.Exec(ctx, "DELETE FROM river_job WHERE kind = 'bench_noop'")
	return err
}

// deps builds the delivery dependencies with the sinks as providers.
func (b *runner) deps(smtpURL, twilioURL string) (*jobs.Deps, func(), error) {
	tpl, err := templates.Load(nil)
	if err != nil {
		return nil, nil, err
	}
	if err := tpl.SaveAll(context.Background(), b.pool); err != nil {
		return nil, nil, err
	}
	email, err := channels.NewEmail(channels.EmailConfig{URL: smtpURL, From: "Caf <ne-pas-repondre@caf.example.fr>", Connections: b.opts.SMTPConns})
	if err != nil {
		return nil, nil, err
	}
	sms, err := channels.NewSMS(channels.SMSConfig{AccountSID: "AC00000000000000000000000000000000", AuthToken: "benchtoken",
		From: "CAF", APIBaseURL: twilioURL, StatusCallbackBase: "https://courrier.example.fr"})
	if err != nil {
		return nil, nil, err
	}
	deps := &jobs.Deps{
		Pool: b.pool, Templates: tpl, Routes: channels.DefaultRoutes(), Logger: jobs.QuietLogger(b.opts.Logger, slog.LevelWarn),
		Channels:         map[channels.Name]channels.Channel{channels.Email: email, channels.SMS: sms},
		BatchParallelism: b.opts.SMTPConns,
		// As serve does (SMTP_CONNECTIONS, COURRIER_SMS_IN_FLIGHT): at most
		// one unrecorded acceptance per connection / SMS sender, the
		// duplicate bound of a crash.
		InFlight: map[channels.Name]int{channels.Email: b.opts.SMTPConns, channels.SMS: b.opts.SMTPConns},
	}
	return deps, func() { _ = email.Close() }, nil
}

// mailing describes the campaign of a phase.
type mailing struct {
	name       string
	kind       campaigns.Kind
	noticeKind notices.Kind
	data       map[string]any
}

var (
	generalMailing = mailing{"bench general mailing", campaigns.GeneralMailing, notices.GeneralInformation,
		map[string]any{"period": "printemps 2027"}}
	smsReminder = mailing{"bench reminder", campaigns.Reminder, notices.ReminderGeneric, nil}
)

// startCampaign creates, approves (a second operator) and starts a campaign
// to every beneficiary, as an operator would: the fan-out job does the rest.
func (b *runner) startCampaign(ctx context.Context, client *river.Client[pgx.Tx], m mailing, tpl *templates.Set) (int64, error) {
	cfg := &campaigns.Config{Templates: tpl, ApprovalThreshold: 1 << 30}
	data := m.data
	if data == nil {
		data = templates.SampleData(string(m.noticeKind))
	}
	c, _, err := campaigns.Create(ctx, b.pool, campaigns.New{
		Name: m.name + " " + time.Now().Format(time.RFC3339Nano), Kind: m.kind, NoticeKind: m.noticeKind,
		Data: data, CreatedBy: "bench-operator-1", ApprovedBy: "bench-operator-2", Reason: "benchmark",
	}, cfg)
	if err != nil {
		return 0, fmt.Errorf("create campaign: %w", err)
	}
	if _, err := jobs.StartCampaign(ctx, b.pool, client, c.ID, "bench-operator-1", cfg); err != nil {
		return 0, fmt.Errorf("start campaign: %w", err)
	}
	return c.ID, nil
}

func (b *runner) campaignDeps() *jobs.CampaignDeps {
	return &jobs.CampaignDeps{BatchSize: b.opts.FanoutBatch, JobSize: b.opts.BatchSize, Logger: jobs.QuietLogger(b.opts.Logger, slog.LevelWarn),
		Calendar: &campaigns.Calendar{}}
}

// fanoutOnly measures the fan-out of a general mailing (notices and
// deliver_batch jobs created) with no delivery worker running; the
// mailing is then removed.
func (b *runner) fanoutOnly(ctx context.Context) error {
	tpl, err := templates.Load(nil)
	if err != nil {
		return err
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &jobs.FanoutWorker{Deps: func() *jobs.CampaignDeps {
		d := b.campaignDeps()
		d.Pool = b.pool
		return d
	}()}); err != nil {
		return err
	}
	cfg := b.riverConfig(workers)
	cfg.FetchOnlyKnownKinds = true // leave the deliver_batch jobs alone
	cfg.SkipUnknownJobCheck = true // …which this client inserts without working them
	client, err := river.NewClient(riverpgxv5.New(b.pool), cfg)
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	}()
	resetPeakRSS()
	b.startPhase()
	start := time.Now()
	id, err := b.startCampaign(ctx, client, generalMailing, tpl)
	if err != nil {
		return err
	}
	var n int
	for {
		var done bool
		if err := b.pool.QueryRow(ctx, `SELECT fanout_done_at IS NOT NULL, targeted FROM campaigns WHERE id = $1`, id).Scan(&done, &n); err != nil {
			return err
		}
		if done {
			break
		}
		b.progress("fan-out: %d/%d, %.1fs", n, b.opts.Recipients, time.Since(start).Seconds())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	secs := time.Since(start).Seconds()
	b.progressDone()
	var created, jobsN int
	if err := b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM notices WHERE campaign_id = $1),
		(SELECT count(*) FROM river_job WHERE kind = 'deliver_batch')`, id).Scan(&created, &jobsN); err != nil {
		return err
	}
	b.record(ctx, Phase{Name: "fan-out only (notices + jobs)", Count: created, Seconds: secs,
		Note: fmt.Sprintf("%d deliver_batch jobs", jobsN)})
	if created != b.opts.Recipients {
		return fmt.Errorf("fan-out created %d notices for %d beneficiaries", created, b.opts.Recipients)
	}
	// Leave no trace for the next phases.
	if _, err := b.pool.Exec(ctx, "DELETE FROM river_job WHERE kind = 'deliver_batch'"); err != nil {
		return err
	}
	// A notice's creation is a ledger event: it cannot be deleted, only
	// cancelled (it is never delivered, so no report counts it).
	_, err = b.pool.Exec(ctx, "UPDATE notices SET state = 'cancelled', state_reason = 'bench: fan-out only' WHERE campaign_id = $1", id)
	return err
}

// endToEnd fans a mailing out with the workers running and measures until
// every message is accepted by the sink and recorded in the ledger.
//
// With ackRate > 0 (the mixed phase), single acknowledgement notices are
// enqueued at that rate on the transactional path while the mailing runs,
// and their enqueue→accepted delays are reported.
func (b *runner) endToEnd(ctx context.Context, channel string, ackRate int) error {
	smtpSink, err := StartSMTPSink()
	if err != nil {
		return err
	}
	defer smtpSink.Close()
	twilio, err := StartTwilioSink()
	if err != nil {
		return err
	}
	defer twilio.Close()
	deps, closeDeps, err := b.deps(smtpSink.URL(), twilio.URL)
	if err != nil {
		return err
	}
	defer closeDeps()
	workers := river.NewWorkers()
	if err := jobs.AddWorkers(workers, deps); err != nil {
		return err
	}
	if err := jobs.AddCampaignWorkers(workers, b.pool, b.campaignDeps()); err != nil {
		return err
	}
	client, err := river.NewClient(riverpgxv5.New(b.pool), b.riverConfig(workers))
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	}()

	var children []func() (time.Duration, error)
	stopChildren := func() (time.Duration, error) {
		var total time.Duration
		var firstErr error
		for _, stop := range children {
			cpu, err := stop()
			total += cpu
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}
		children = nil
		return total, firstErr
	}
	defer func() { _, _ = stopChildren() }()
	for i := 1; i < b.opts.Processes; i++ {
		if b.opts.SpawnWorker == nil {
			return fmt.Errorf("%d processes asked but no way to start a worker process", b.opts.Processes)
		}
		stop, err := b.opts.SpawnWorker(ctx, smtpSink.URL(), twilio.URL)
		if err != nil {
			return fmt.Errorf("start worker process %d: %w", i+1, err)
		}
		children = append(children, stop)
	}

	m, sink, target := generalMailing, smtpSink.Accepted, "delivered"
	if channel == "sms" {
		m, sink, target = smsReminder, twilio.Accepted, "sent"
	}
	n := b.opts.Recipients
	resetPeakRSS()
	b.startPhase()
	start := time.Now()
	id, err := b.startCampaign(ctx, client, m, deps.Templates)
	if err != nil {
		return err
	}
	var acks *ackStream
	if ackRate > 0 {
		if acks, err = b.startAcks(ctx, client, ackRate); err != nil {
			return err
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var recorded int
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if sink() >= int64(n) {
			if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM notices WHERE campaign_id = $1 AND state = $2`,
				id, target).Scan(&recorded); err != nil {
				return err
			}
			if recorded == n {
				break
			}
		}
		// A job that failed means the run cannot finish: say why instead of waiting.
		var failure string
		if err := b.pool.QueryRow(ctx, `SELECT coalesce((SELECT kind || ': ' || (errors[array_length(errors, 1)] ->> 'error')
			FROM river_job WHERE kind IN ('fanout', 'deliver_batch', 'deliver') AND errors IS NOT NULL LIMIT 1), '')`).Scan(&failure); err != nil {
			return err
		}
		if failure != "" {
			return fmt.Errorf("a job failed: %s", failure)
		}
		b.progress("end to end %s: %d/%d accepted by the sink, %.1fs", channel, sink(), n, time.Since(start).Seconds())
	}
	secs := time.Since(start).Seconds()
	b.progressDone()
	if acks != nil {
		if err := acks.stop(ctx); err != nil {
			return err
		}
	}
	childCPU, err := stopChildren()
	if err != nil {
		return err
	}
	b.childCPU = childCPU

	var p50, p99 float64
	if err := b.pool.QueryRow(ctx, `
		SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.sent_at - n.created_at)), 0) * 1000,
		       coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM d.sent_at - n.created_at)), 0) * 1000
		FROM notices n JOIN deliveries d ON d.notice_id = n.id
		WHERE n.campaign_id = $1`, id).Scan(&p50, &p99); err != nil {
		return err
	}
	accepted := sink()
	if acks != nil {
		accepted -= int64(len(acks.ids)) // the acknowledgements went to the same sink
	}
	check, err := b.check(ctx, id, channel, accepted)
	if err != nil {
		return err
	}
	b.rep.Checks = append(b.rep.Checks, check)
	name := "end to end " + channel
	if acks != nil {
		name = "mixed: mailing by " + channel
	}
	var clients int
	if err := b.pool.QueryRow(ctx, `SELECT count(DISTINCT attempted_by[array_length(attempted_by, 1)]) FROM river_job
		WHERE kind = 'deliver_batch' AND finalized_at >= $1`, start).Scan(&clients); err != nil {
		return err
	}
	b.record(ctx, Phase{Name: name, Count: n, Seconds: secs, P50Millis: p50, P99Millis: p99,
		Note: fmt.Sprintf("%d SMTP connections opened; batches worked by %d River clients", smtpSink.Connections(), clients)})
	if acks != nil {
		p, err := acks.phase(ctx, ackRate)
		if err != nil {
			return err
		}
		b.rep.Phases = append(b.rep.Phases, p)
	}
	return nil
}

// check verifies that every notice was delivered exactly once and that the
// ledger agrees with the sink.
func (b *runner) check(ctx context.Context, campaign int64, channel string, accepted int64) (string, error) {
	var notices, deliveries, attempts, events int
	if err := b.pool.QueryRow(ctx, `
		SELECT count(DISTINCT n.id), count(d.id), coalesce(sum(d.attempt), 0),
		       (SELECT count(*) FROM delivery_events e JOIN notices n2 ON n2.id = e.notice_id WHERE n2.campaign_id = $1)
		FROM notices n JOIN deliveries d ON d.notice_id = n.id AND d.channel = $2
		WHERE n.campaign_id = $1`, campaign, channel).Scan(&notices, &deliveries, &attempts, &events); err != nil {
		return "", err
	}
	n := b.opts.Recipients
	if notices != n || deliveries != n || attempts != n || accepted != int64(n) {
		return "", fmt.Errorf("campaign %d: %d notices, %d deliveries, %d attempts, sink accepted %d, for %d beneficiaries",
			campaign, notices, deliveries, attempts, accepted, n)
	}
	return fmt.Sprintf("campaign %d (%s): %d notices, each delivered once (%d attempts, sink accepted %d), %d ledger events",
		campaign, channel, notices, attempts, accepted, events), nil
}

// peakRSSMB reads the process's peak resident set size.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// resetPeakRSS starts a new peak RSS measurement (Linux clear_refs).
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}
