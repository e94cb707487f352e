//go:build fault

package faults

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/internal/pglocal"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/migrations"
)

// full is the long form (FAULT_FULL=1): more messages, every scenario.
var full = os.Getenv("FAULT_FULL") != ""

// ---- capturing SMTP server ----

// capture is an SMTP relay that counts messages per notice (from the
// Message-ID courrier gives each message, n<notice>.d<delivery>@…), answers 421
// to a fraction of DATA commands, and can be taken down and brought back.
type capture struct {
	mu       sync.Mutex
	counts   map[int64]int
	refused  map[string]bool
	last     time.Time
	starts   []time.Time // when the DATA of each accepted message began
	fail421  float64
	latency  time.Duration
	addr     string
	srv      *smtp.Server
	rejected int
}

func newCapture(t *testing.T) *capture {
	c := &capture{counts: map[int64]int{}, refused: map[string]bool{}, latency: 5 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c.addr = ln.Addr().String()
	c.serve(ln)
	t.Cleanup(c.down)
	return c
}

func (c *capture) serve(ln net.Listener) {
	srv := smtp.NewServer(c)
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	c.mu.Lock()
	c.srv = srv
	c.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (c *capture) down() {
	c.mu.Lock()
	srv := c.srv
	c.srv = nil
	c.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (c *capture) up(t *testing.T) {
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", c.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err)
	c.serve(ln)
}

func (c *capture) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{c: c}, nil }

type session struct {
	c  *capture
	to []string
}

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, strings.ToLower(to))
	return nil
}
func (s *session) Data(r io.Reader) error {
	began := time.Now()
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, m.Body); err != nil {
		return err
	}
	var notice int64
	_, _ = fmt.Sscanf(strings.Trim(m.Header.Get("Message-Id"), "<>"), "n%d.", &notice)
	time.Sleep(s.c.latency)
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	// A fraction of beneficiaries get 421 on their first message (the relay
	// is busy); the retry goes through.
	if s.c.fail421 > 0 && len(s.to) > 0 && !s.c.refused[s.to[0]] && rand.Float64() < s.c.fail421 {
		s.c.refused[s.to[0]] = true
		s.c.rejected++
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "try again later"}
	}
	s.c.counts[notice]++
	s.c.last = time.Now()
	s.c.starts = append(s.c.starts, began)
	return nil
}
func (s *session) Reset()        { s.to = nil }
func (s *session) Logout() error { return nil }

func (c *capture) startsCopy() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.starts...)
}

func (c *capture) received() (distinct, total int, last time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.counts {
		distinct++
		total += n
	}
	return distinct, total, c.last
}

// ---- the world: PostgreSQL and the binary ----

type world struct {
	bin       string
	ledgerKey string // the ledger signing key every serve of the suite uses
	pg        *pglocal.Server
	pgOpts    *pglocal.Options
	port      int
	dir       string
}

var (
	worldOnce sync.Once
	theWorld  *world
	worldErr  error
)

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func setupWorld(t *testing.T) *world {
	worldOnce.Do(func() {
		dir, err := os.MkdirTemp("/tmp", "courrier-faults-")
		if err != nil {
			worldErr = err
			return
		}
		_ = os.Chmod(dir, 0o755)
		w := &world{dir: dir, bin: filepath.Join(dir, "courrier")}
		if w.ledgerKey, _, worldErr = ledger.GenerateKey("courrier-faults"); worldErr != nil {
			return
		}
		build := exec.Command("go", "build", "-o", w.bin, "github.com/courrier-dev/courrier/cmd/courrier")
		if out, err := build.CombinedOutput(); err != nil {
			worldErr = fmt.Errorf("build courrier: %v\n%s", err, out)
			return
		}
		w.port = freePort(t)
		w.pgOpts = &pglocal.Options{DataDir: filepath.Join(dir, "pg"), TCPPort: w.port,
			Settings: map[string]string{"fsync": "off", "max_connections": "300"}}
		if w.pg, worldErr = pglocal.Start(context.Background(), w.pgOpts); worldErr != nil {
			return
		}
		theWorld = w
	})
	require.NoError(t, worldErr)
	return theWorld
}

func (w *world) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", w.port, db)
}

// ---- one scenario ----

// smsInFlight is COURRIER_SMS_IN_FLIGHT of every serve of the suite, and
// smtpConns its SMTP_CONNECTIONS: a crash may resend at most that many.
const (
	smsInFlight = 4
	smtpConns   = 4
)

type scenario struct {
	t       *testing.T
	w       *world
	db      string
	pool    *pgxpool.Pool
	smtp    *capture
	sms     *twilioServer
	n       int
	serve   *proc   // the last serve started
	procs   []*proc // every serve started
	logs    *os.File
	id      int64
	started time.Time
	// embedded: serve runs its own PostgreSQL on this data directory
	// (COURRIER_DATA_DIR, no DATABASE_URL).
	dataDir string
}

// proc is one serve process.
type proc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{} // closed when it exited
	err  error         // its exit status
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// seedSQL inserts n beneficiaries: one in three has a mobile phone and no
// email address (reached by SMS), the others an email address.
const seedSQL = `
	INSERT INTO recipients (ref, email, phone, postal_code, benefits, joined_at)
	SELECT 'F' || lpad(g::text, 7, '0'),
	       CASE WHEN g % 3 = 0 THEN NULL ELSE 'b' || g || '@exemple.fr' END,
	       CASE WHEN g % 3 = 0 THEN '+336' || lpad(g::text, 8, '0') END,
	       '75011', '{AF}', now()
	FROM generate_series(1, $1) g`

func newScenario(t *testing.T, name string, n int) *scenario {
	w := setupWorld(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, w.url("postgres"))
	require.NoError(t, err)
	_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	require.NoError(t, admin.Close(ctx))
	pool, err := pgxpool.New(ctx, w.url(name))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = migrations.Migrate(ctx, pool)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, seedSQL, n)
	require.NoError(t, err)
	s := bareScenario(t, w, name, n)
	s.pool = pool
	return s
}

func bareScenario(t *testing.T, w *world, name string, n int) *scenario {
	logs, err := os.Create(filepath.Join(w.dir, name+".log"))
	require.NoError(t, err)
	t.Cleanup(func() { logs.Close() })
	return &scenario{t: t, w: w, db: name, smtp: newCapture(t), sms: newTwilio(t), n: n, logs: logs}
}

// start launches a serve process.
func (s *scenario) start() *proc {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(s.t))
	cmd := exec.Command(s.w.bin, "serve", "--addr", addr)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "COURRIER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if s.dataDir != "" {
		cmd.Env = append(cmd.Env, "COURRIER_DATA_DIR="+s.dataDir)
	} else {
		cmd.Env = append(cmd.Env, "DATABASE_URL="+s.w.url(s.db))
	}
	cmd.Env = append(cmd.Env,
		ledger.KeyEnv+"="+s.w.ledgerKey,
		"SMTP_URL=smtp://"+s.smtp.addr+"?tls=none",
		fmt.Sprintf("SMTP_CONNECTIONS=%d", smtpConns),
		"TWILIO_ACCOUNT_SID="+twilioSID, "TWILIO_AUTH_TOKEN="+twilioToken,
		"TWILIO_FROM=+33700000000", "TWILIO_API_URL="+s.sms.url(),
		fmt.Sprintf("COURRIER_SMS_IN_FLIGHT=%d", smsInFlight),
		// The general mailing goes by SMS to those with a mobile, by email
		// to the others, at any hour.
		"COURRIER_ROUTES=general_information=sms,email", "COURRIER_SMS_QUIET_HOURS=off",
		"COURRIER_OUTBOX="+filepath.Join(s.w.dir, s.db+"-outbox"),
		"COURRIER_LOG_FORMAT=json", "COURRIER_LOG_LEVEL=warn",
		"COURRIER_FANOUT_JOB_SIZE=50",
	)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	require.NoError(s.t, cmd.Start())
	p := &proc{cmd: cmd, addr: addr, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.serve = p
	s.procs = append(s.procs, p)
	s.t.Cleanup(func() {
		if !p.exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// healthy waits until p answers /healthz 200; false if it exited first.
func (s *scenario) healthy(p *proc, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if p.exited() {
			return false
		}
		if res, err := client.Get("http://" + p.addr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("%s: serve not healthy after %s", s.db, timeout)
	return false
}

func (s *scenario) kill(p *proc) {
	require.NoError(s.t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
}

// campaign creates and starts a general mailing to every beneficiary.
func (s *scenario) campaign() {
	ctx := context.Background()
	client, err := jobs.NewInsertClient(s.pool, nil)
	require.NoError(s.t, err)
	c, _, err := campaigns.Create(ctx, s.pool, campaigns.New{Kind: campaigns.GeneralMailing,
		Data: map[string]any{"period": "printemps 2027"}, CreatedBy: "alice"}, nil)
	require.NoError(s.t, err)
	_, err = campaigns.Approve(ctx, s.pool, c.ID, "bob")
	require.NoError(s.t, err)
	_, err = jobs.StartCampaign(ctx, s.pool, client, c.ID, "alice", nil)
	require.NoError(s.t, err)
	s.id, s.started = c.ID, time.Now()
}

// received counts the beneficiaries reached on either channel, and the last
// message received.
func (s *scenario) received() (distinct int, last time.Time) {
	d1, _, l1 := s.smtp.received()
	d2, _, l2 := s.sms.received()
	if l2.After(l1) {
		l1 = l2
	}
	return d1 + d2, l1
}

// waitReceived waits until at least k distinct beneficiaries got a message.
func (s *scenario) waitReceived(k int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if d, _ := s.received(); d >= k {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%s: fewer than %d messages after %s", s.db, k, timeout)
}

// firstAfter waits for the first message (email or SMS) sent after t, and
// returns how long after t it came. A message counts from when its SMTP
// DATA or its Twilio request began: one a killed process had already
// handed over before t is not a sign of recovery.
func (s *scenario) firstAfter(t time.Time, timeout time.Duration) time.Duration {
	return s.firstOf(t, timeout, func() [][]time.Time { return [][]time.Time{s.smtp.startsCopy(), s.sms.startsCopy()} })
}

// firstEmailAfter is firstAfter for email only (SMS go on during an SMTP
// outage).
func (s *scenario) firstEmailAfter(t time.Time, timeout time.Duration) time.Duration {
	return s.firstOf(t, timeout, func() [][]time.Time { return [][]time.Time{s.smtp.startsCopy()} })
}

func (s *scenario) firstOf(t time.Time, timeout time.Duration, sources func() [][]time.Time) time.Duration {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		first := time.Time{}
		for _, starts := range sources() {
			for _, at := range starts {
				if at.After(t) && (first.IsZero() || at.Before(first)) {
					first = at
				}
			}
		}
		if !first.IsZero() {
			return first.Sub(t)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return -1
}

// waitDone waits until no notice of the campaign is left to send and
// returns when that happened.
func (s *scenario) waitDone(timeout time.Duration) time.Time {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var open, total int
		err := s.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE state IN ('pending', 'sending')), count(*)
			FROM notices WHERE campaign_id = $1`, s.id).Scan(&open, &total)
		if err == nil && total == s.n && open == 0 {
			done := time.Now()
			s.completes(done)
			return done
		}
		time.Sleep(200 * time.Millisecond)
	}
	d, _ := s.received()
	s.t.Fatalf("%s: campaign not done after %s (%d beneficiaries reached)", s.db, timeout, d)
	return time.Time{}
}

// completes checks that the campaign is marked completed once its last
// notice is out, without waiting for the calendar's next pass (15 min).
func (s *scenario) completes(lastOut time.Time) {
	deadline := lastOut.Add(time.Minute)
	for time.Now().Before(deadline) {
		var state string
		err := s.pool.QueryRow(context.Background(), `SELECT state FROM campaigns WHERE id = $1`, s.id).Scan(&state)
		if err == nil && state == "completed" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("%s: campaign not completed a minute after its last notice went out", s.db)
}

// tally is what a scenario measured.
type tally struct {
	lost, dups       int // over both channels
	emailDups        int
	smsDups, smsSent int
}

// report counts, per beneficiary, the messages received on either channel
// against one each.
func (s *scenario) report(faultEnd time.Time, recovered time.Duration, done time.Time) tally {
	rows, err := s.pool.Query(context.Background(), `
		SELECT n.id, coalesce(r.phone, '') FROM notices n JOIN recipients r ON r.id = n.recipient_id
		WHERE n.campaign_id = $1`, s.id)
	require.NoError(s.t, err)
	type notice struct {
		id    int64
		phone string
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (notice, error) {
		var n notice
		return n, row.Scan(&n.id, &n.phone)
	})
	require.NoError(s.t, err)
	require.Len(s.t, list, s.n)
	var tl tally
	s.smtp.mu.Lock()
	s.sms.mu.Lock()
	for _, n := range list {
		email, sms := s.smtp.counts[n.id], 0
		if n.phone != "" {
			sms = s.sms.counts[n.phone]
			tl.smsSent++
		}
		switch c := email + sms; {
		case c == 0:
			tl.lost++
		case c > 1:
			tl.dups += c - 1
		}
		tl.emailDups += max(email-1, 0)
		tl.smsDups += max(sms-1, 0)
	}
	rejected := s.smtp.rejected
	s.sms.mu.Unlock()
	s.smtp.mu.Unlock()
	n429, n500 := s.sms.errorsAnswered()
	line := fmt.Sprintf("%s: lost %d, duplicates %d, recovered in %.1f s (all %d delivered %.1f s after the fault; "+
		"%d SMS, duplicates %d email + %d SMS; %d SMTP 421, %d Twilio 429, %d Twilio 500)",
		s.db, tl.lost, tl.dups, recovered.Seconds(), s.n, done.Sub(faultEnd).Seconds(),
		tl.smsSent, tl.emailDups, tl.smsDups, rejected, n429, n500)
	fmt.Println(line)
	s.t.Log(line)
	return tl
}

// bounded asserts the goal after crashes of serve: nothing lost, at most one
// duplicate per SMTP connection and per SMS in flight per crash.
func (s *scenario) bounded(tl tally, crashes int) {
	s.t.Logf("%s: bound %d email + %d SMS duplicates (%d crash(es) × %d SMTP connections, × %d SMS in flight)",
		s.db, crashes*smtpConns, crashes*smsInFlight, crashes, smtpConns, smsInFlight)
	require.Zero(s.t, tl.lost)
	require.LessOrEqual(s.t, tl.emailDups, crashes*smtpConns, "email duplicates")
	require.LessOrEqual(s.t, tl.smsDups, crashes*smsInFlight, "SMS duplicates")
}

// ---- scenarios ----

// parallel runs the short form's scenarios side by side: most of their
// time is spent waiting for River's rescue delay. Run them with
// -parallel 4. The full form runs them one at a time, so that its figures
// are not those of four campaigns sharing two cores.
func parallel(t *testing.T) {
	if !full {
		t.Parallel()
	}
}

func size(short, long int) int {
	if full {
		return long
	}
	return short
}

// SIGKILL serve three times mid-campaign, restarting it at once as
// systemd's Restart=always would.
func TestSigkillServe(t *testing.T) {
	parallel(t)
	s := newScenario(t, "sigkill", size(600, 5000))
	s.smtp.latency = 20 * time.Millisecond
	s.start()
	s.campaign()
	var end time.Time
	for i := 1; i <= 3; i++ {
		s.waitReceived(i*s.n/5, 5*time.Minute)
		s.kill(s.serve)
		end = time.Now()
		s.start()
	}
	recovered := s.firstAfter(end, 3*time.Minute)
	done := s.waitDone(5 * time.Minute)
	tl := s.report(end, recovered, done)
	require.Positive(t, tl.smsSent)
	s.bounded(tl, 3)
	require.Less(t, done.Sub(end), 2*time.Minute+30*time.Second)
}

// SMTP answers 421 to 30 % of messages; Twilio answers 429 to 10 % of
// requests and 500 to another 10 %.
func TestSMTP421(t *testing.T) {
	parallel(t)
	s := newScenario(t, "smtp421", size(300, 3000))
	s.smtp.fail421 = 0.3
	s.sms.fail429, s.sms.fail500 = 0.1, 0.1
	s.start()
	s.campaign()
	done := s.waitDone(10 * time.Minute)
	tl := s.report(s.started, 0, done)
	n429, n500 := s.sms.errorsAnswered()
	require.Positive(t, n429)
	require.Positive(t, n500)
	require.Zero(t, tl.lost)
	require.Zero(t, tl.dups)
}

// The SMTP server is down for 30 s mid-campaign.
func TestSMTPDown(t *testing.T) {
	if !full {
		t.Skip("full form only (FAULT_FULL=1)")
	}
	s := newScenario(t, "smtpdown", 3000)
	s.smtp.latency = 10 * time.Millisecond
	s.start()
	s.campaign()
	s.waitReceived(s.n/4, 5*time.Minute)
	s.smtp.down()
	time.Sleep(30 * time.Second)
	s.smtp.up(t)
	end := time.Now()
	recovered := s.firstEmailAfter(end, 5*time.Minute)
	done := s.waitDone(15 * time.Minute)
	tl := s.report(end, recovered, done)
	require.Zero(t, tl.lost)
	// A connection cut after the server took a message but before its reply
	// reached courrier is the one ambiguous case: the message is sent again.
	// The goal's bound: at most one per SMTP connection.
	require.LessOrEqual(t, tl.emailDups, smtpConns)
	require.Zero(t, tl.smsDups)
}

// PostgreSQL is stopped for 20 s mid-campaign.
func TestPostgresStopped(t *testing.T) {
	if !full {
		t.Skip("full form only (FAULT_FULL=1)")
	}
	s := newScenario(t, "pgstop", 3000)
	s.smtp.latency = 10 * time.Millisecond
	s.start()
	s.campaign()
	s.waitReceived(s.n/4, 5*time.Minute)
	s.pool.Reset()
	require.NoError(t, s.w.pg.Stop())
	time.Sleep(20 * time.Second)
	var err error
	s.w.pg, err = pglocal.Start(context.Background(), s.w.pgOpts)
	require.NoError(t, err)
	end := time.Now()
	recovered := s.firstAfter(end, 5*time.Minute)
	done := s.waitDone(15 * time.Minute)
	tl := s.report(end, recovered, done)
	s.bounded(tl, 1)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if theWorld != nil {
		_ = theWorld.pg.Stop()
		_ = os.RemoveAll(theWorld.dir)
	}
	os.Exit(code)
}
