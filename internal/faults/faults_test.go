//go:build fault

package faults

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
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
	return nil
}
func (s *session) Reset()        { s.to = nil }
func (s *session) Logout() error { return nil }

func (c *capture) received() (distinct, total int, last time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.counts {
		distinct++
		total += n
	}
	return distinct, total, c.last
}

// firstAfter waits for the first message received after t; it returns how
// long after t it came.
func (c *capture) firstAfter(t time.Time, timeout time.Duration) time.Duration {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, _, last := c.received(); last.After(t) {
			return last.Sub(t)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return -1
}

// ---- the world: PostgreSQL, the binary, Twilio ----

type world struct {
	bin       string
	ledgerKey string // the ledger signing key every serve of the suite uses
	pg        *pglocal.Server
	pgOpts    *pglocal.Options
	port      int
	dir       string
	twilio    *httptest.Server
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
		// A Twilio-shaped API: accepts every message (SMS routes are not
		// used by the campaign scenarios; the server proves the wiring).
		w.twilio = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusCreated)
			_, _ = fmt.Fprintf(rw, `{"sid":"SM%d","status":"queued"}`, time.Now().UnixNano())
		}))
		theWorld = w
	})
	require.NoError(t, worldErr)
	return theWorld
}

func (w *world) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", w.port, db)
}

// ---- one scenario ----

type scenario struct {
	t       *testing.T
	w       *world
	db      string
	pool    *pgxpool.Pool
	smtp    *capture
	n       int
	serve   *exec.Cmd
	logs    *os.File
	id      int64
	started time.Time
}

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
	_, err = pool.Exec(ctx, `
		INSERT INTO recipients (ref, email, postal_code, benefits, joined_at)
		SELECT 'F' || lpad(g::text, 7, '0'), 'b' || g || '@exemple.fr', '75011', '{AF}', now()
		FROM generate_series(1, $1) g`, n)
	require.NoError(t, err)
	logs, err := os.Create(filepath.Join(w.dir, name+".log"))
	require.NoError(t, err)
	t.Cleanup(func() { logs.Close() })
	return &scenario{t: t, w: w, db: name, pool: pool, smtp: newCapture(t), n: n, logs: logs}
}

// start launches a serve process.
func (s *scenario) start() {
	cmd := exec.Command(s.w.bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+s.w.url(s.db),
		ledger.KeyEnv+"="+s.w.ledgerKey,
		"SMTP_URL=smtp://"+s.smtp.addr+"?tls=none",
		"SMTP_CONNECTIONS=4",
		"TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000", "TWILIO_AUTH_TOKEN=secret",
		"TWILIO_FROM=+33700000000", "TWILIO_API_URL="+s.w.twilio.URL,
		"COURRIER_OUTBOX="+filepath.Join(s.w.dir, s.db+"-outbox"),
		"COURRIER_LOG_FORMAT=json", "COURRIER_LOG_LEVEL=warn",
		"COURRIER_FANOUT_JOB_SIZE=50",
	)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	require.NoError(s.t, cmd.Start())
	s.serve = cmd
	s.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
}

func (s *scenario) kill() {
	require.NoError(s.t, s.serve.Process.Signal(syscall.SIGKILL))
	_ = s.serve.Wait()
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

// waitReceived waits until at least k distinct beneficiaries got a message.
func (s *scenario) waitReceived(k int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if d, _, _ := s.smtp.received(); d >= k {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%s: fewer than %d messages after %s", s.db, k, timeout)
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
			return time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
	d, tot, _ := s.smtp.received()
	s.t.Fatalf("%s: campaign not done after %s (%d distinct, %d total received)", s.db, timeout, d, tot)
	return time.Time{}
}

// report counts, per beneficiary, the messages received against one each.
func (s *scenario) report(faultEnd time.Time, recovered time.Duration, done time.Time) (lost, dups int) {
	rows, err := s.pool.Query(context.Background(), `SELECT id FROM notices WHERE campaign_id = $1`, s.id)
	require.NoError(s.t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(s.t, err)
	require.Len(s.t, ids, s.n)
	s.smtp.mu.Lock()
	for _, id := range ids {
		switch c := s.smtp.counts[id]; {
		case c == 0:
			lost++
		case c > 1:
			dups += c - 1
		}
	}
	rejected := s.smtp.rejected
	s.smtp.mu.Unlock()
	line := fmt.Sprintf("%s: lost %d, duplicates %d, recovered in %.1f s (all %d delivered %.1f s after the fault; %d 421 answers)",
		s.db, lost, dups, recovered.Seconds(), s.n, done.Sub(faultEnd).Seconds(), rejected)
	fmt.Println(line)
	s.t.Log(line)
	return lost, dups
}

// ---- scenarios ----

func size(short, long int) int {
	if full {
		return long
	}
	return short
}

// SIGKILL serve three times mid-campaign, restarting it at once as
// systemd's Restart=always would.
func TestSigkillServe(t *testing.T) {
	s := newScenario(t, "sigkill", size(600, 5000))
	s.smtp.latency = 20 * time.Millisecond
	s.start()
	s.campaign()
	var end time.Time
	for i := 1; i <= 3; i++ {
		s.waitReceived(i*s.n/5, 5*time.Minute)
		s.kill()
		s.start()
		end = time.Now()
	}
	recovered := s.smtp.firstAfter(end, 3*time.Minute)
	done := s.waitDone(5 * time.Minute)
	lost, dups := s.report(end, recovered, done)
	require.Zero(t, lost)
	// At most one per SMTP connection (4) per crash.
	require.LessOrEqual(t, dups, 3*4)
	require.Less(t, done.Sub(end), 2*time.Minute+30*time.Second)
}

// SMTP answers 421 to 30 % of messages.
func TestSMTP421(t *testing.T) {
	s := newScenario(t, "smtp421", size(300, 3000))
	s.smtp.fail421 = 0.3
	s.start()
	s.campaign()
	done := s.waitDone(10 * time.Minute)
	lost, dups := s.report(s.started, 0, done)
	require.Zero(t, lost)
	require.Zero(t, dups)
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
	recovered := s.smtp.firstAfter(end, 5*time.Minute)
	done := s.waitDone(15 * time.Minute)
	lost, dups := s.report(end, recovered, done)
	require.Zero(t, lost)
	// A connection cut after the server took a message but before its reply
	// reached courrier is the one ambiguous case: the message is sent again.
	// The goal's bound: at most one per SMTP connection (SMTP_CONNECTIONS=4).
	require.LessOrEqual(t, dups, 4)
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
	recovered := s.smtp.firstAfter(end, 5*time.Minute)
	done := s.waitDone(15 * time.Minute)
	lost, dups := s.report(end, recovered, done)
	require.Zero(t, lost)
	require.LessOrEqual(t, dups, 4)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if theWorld != nil {
		if theWorld.twilio != nil {
			theWorld.twilio.Close()
		}
		_ = theWorld.pg.Stop()
		_ = os.RemoveAll(theWorld.dir)
	}
	os.Exit(code)
}
