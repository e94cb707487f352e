package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/channels/bounce"
	"github.com/courrier-dev/courrier/httpapi"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/ledger"
)

// bounceSettings is the bounce configuration read from the environment; nil
// when nothing is configured.
type bounceSettings struct {
	verp          *bounce.VERP
	smtpAddr      string
	imap          *bounce.IMAPConfig
	mailgunKey    []byte
	quiet         time.Duration
	softThreshold int
	softWindow    time.Duration
	maxBytes      int64
}

// bounceSettings reads COURRIER_BOUNCE_* and MAILGUN_WEBHOOK_SIGNING_KEY.
func (e *Env) bounceSettings() (*bounceSettings, error) {
	secret, domain := e.Getenv("COURRIER_BOUNCE_SECRET"), e.Getenv("COURRIER_BOUNCE_DOMAIN")
	s := &bounceSettings{mailgunKey: []byte(e.Getenv("MAILGUN_WEBHOOK_SIGNING_KEY"))}
	if secret == "" && domain == "" && len(s.mailgunKey) == 0 {
		return nil, nil
	}
	var err error
	if secret != "" || domain != "" {
		if domain == "" || secret == "" {
			return nil, errors.New("COURRIER_BOUNCE_SECRET and COURRIER_BOUNCE_DOMAIN go together")
		}
		if s.verp, err = bounce.NewVERP(e.get("COURRIER_BOUNCE_LOCAL", "bounces"), domain, []byte(secret)); err != nil {
			return nil, fmt.Errorf("COURRIER_BOUNCE_*: %w", err)
		}
	}
	if s.quiet, err = e.duration("COURRIER_BOUNCE_QUIET", ledger.DefaultQuietPeriod); err != nil {
		return nil, err
	}
	if s.softThreshold, err = e.int("COURRIER_SOFT_BOUNCE_THRESHOLD", 3); err != nil {
		return nil, err
	}
	if s.softWindow, err = e.duration("COURRIER_SOFT_BOUNCE_WINDOW", 7*24*time.Hour); err != nil {
		return nil, err
	}
	maxBytes, err := e.int("COURRIER_BOUNCE_MAX_BYTES", 1<<20)
	if err != nil {
		return nil, err
	}
	s.maxBytes = int64(maxBytes)
	s.smtpAddr = e.Getenv("COURRIER_BOUNCE_SMTP_ADDR")
	if raw := e.Getenv("COURRIER_BOUNCE_IMAP_URL"); raw != "" {
		if s.imap, err = parseIMAPURL(raw); err != nil {
			return nil, err
		}
		if s.imap.Interval, err = e.duration("COURRIER_BOUNCE_IMAP_INTERVAL", 30*time.Second); err != nil {
			return nil, err
		}
		s.imap.MaxMessageBytes = s.maxBytes
	}
	if s.verp == nil && (s.smtpAddr != "" || s.imap != nil) {
		return nil, errors.New("COURRIER_BOUNCE_SMTP_ADDR and COURRIER_BOUNCE_IMAP_URL need COURRIER_BOUNCE_SECRET and COURRIER_BOUNCE_DOMAIN")
	}
	return s, nil
}

// parseIMAPURL parses imaps://user:pass@host:993/INBOX?move=Processed
// (implicit TLS), imap://…?tls=starttls, or imap://…?tls=none (loopback).
func parseIMAPURL(raw string) (*bounce.IMAPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("COURRIER_BOUNCE_IMAP_URL is not a valid URL (expected imaps://user:pass@host:993/INBOX)")
	}
	cfg := &bounce.IMAPConfig{Mailbox: strings.TrimPrefix(u.Path, "/"), MoveTo: u.Query().Get("move")}
	port := "993"
	switch u.Scheme {
	case "imaps":
		cfg.Security = "tls"
	case "imap":
		port = "143"
		switch t := u.Query().Get("tls"); t {
		case "starttls", "none":
			cfg.Security = t
		default:
			return nil, errors.New("COURRIER_BOUNCE_IMAP_URL: imap:// needs ?tls=starttls (or ?tls=none on loopback); use imaps:// for implicit TLS")
		}
	default:
		return nil, fmt.Errorf("COURRIER_BOUNCE_IMAP_URL scheme %q: use imaps:// or imap://", u.Scheme)
	}
	if u.Hostname() == "" || u.User == nil {
		return nil, errors.New("COURRIER_BOUNCE_IMAP_URL needs a user and a host: imaps://user:pass@host:993/INBOX")
	}
	if u.Port() != "" {
		port = u.Port()
	}
	cfg.Addr = net.JoinHostPort(u.Hostname(), port)
	cfg.Username = u.User.Username()
	cfg.Password, _ = u.User.Password()
	return cfg, nil
}

// returnPath is the email channel's envelope sender function (nil without VERP).
func (s *bounceSettings) returnPath() func(int64) string {
	if s == nil || s.verp == nil {
		return nil
	}
	return s.verp.Address
}

// intake reports whether bounces can reach courrier at all: only then may
// silence count as evidence (presumed_delivered).
func (s *bounceSettings) intake() bool {
	return s != nil && (s.smtpAddr != "" || s.imap != nil || len(s.mailgunKey) > 0)
}

func (s *bounceSettings) periodicJobs() []*river.PeriodicJob {
	if !s.intake() {
		return nil
	}
	return jobs.BouncePeriodicJobs()
}

func (s *bounceSettings) addWorkers(w *river.Workers, pool *pgxpool.Pool, logger *slog.Logger) error {
	quiet := ledger.DefaultQuietPeriod
	if s != nil {
		quiet = s.quiet
	}
	return river.AddWorkerSafely(w, &jobs.PresumeWorker{Pool: pool, Quiet: quiet, Logger: logger})
}

// bounceMetrics writes the bounce intakes' counters into /metrics (set by
// wire; one recorder per process).
var bounceMetrics atomic.Pointer[bounceIntakes]

func writeBounceMetrics(w io.Writer) {
	b := bounceMetrics.Load()
	if b == nil {
		return
	}
	b.rec.WriteMetrics(w)
	fmt.Fprintln(w, "# HELP courrier_bounce_intake_messages Messages seen by the bounce intakes since start.")
	fmt.Fprintln(w, "# TYPE courrier_bounce_intake_messages counter")
	for name, c := range map[string]*bounce.Counters{"smtp": counters(b.smtp), "imap": pollerCounters(b.poller)} {
		if c == nil {
			continue
		}
		fmt.Fprintf(w, "courrier_bounce_intake_messages{intake=%q,outcome=\"recorded\"} %d\n", name, c.Received.Load())
		fmt.Fprintf(w, "courrier_bounce_intake_messages{intake=%q,outcome=\"failed\"} %d\n", name, c.Failed.Load())
		fmt.Fprintf(w, "courrier_bounce_intake_messages{intake=%q,outcome=\"forged\"} %d\n", name, c.Forged.Load())
		fmt.Fprintf(w, "courrier_bounce_intake_messages{intake=%q,outcome=\"refused\"} %d\n", name, c.Refused.Load())
	}
}

func counters(s *bounce.Server) *bounce.Counters {
	if s == nil {
		return nil
	}
	return &s.Counters
}

func pollerCounters(p *bounce.Poller) *bounce.Counters {
	if p == nil {
		return nil
	}
	return &p.Counters
}

// bounceIntakes are the running bounce intakes of serve.
type bounceIntakes struct {
	s      *bounceSettings
	rec    *jobs.Bounces
	smtp   *bounce.Server
	poller *bounce.Poller
	logger *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	addr   string // the SMTP listener's, once started
}

// wire builds the recorder and the intakes, and mounts the webhook.
func (s *bounceSettings) wire(api *httpapi.Server, pool *pgxpool.Pool, client *river.Client[pgx.Tx], logger *slog.Logger) (*bounceIntakes, error) {
	if !s.intake() {
		return nil, nil
	}
	b := &bounceIntakes{s: s, logger: logger, rec: &jobs.Bounces{
		Pool: pool, VERP: s.verp, Fallback: jobs.FallbackAfterReceipt(client), FallbackMany: jobs.FallbackMany(client),
		SoftThreshold: s.softThreshold, SoftWindow: s.softWindow, Logger: logger,
	}}
	var err error
	if s.smtpAddr != "" {
		if b.smtp, err = bounce.NewServer(bounce.ServerConfig{VERP: s.verp, Handler: b.rec.Handle,
			MaxMessageBytes: s.maxBytes, Logger: logger}); err != nil {
			return nil, err
		}
	}
	if s.imap != nil {
		cfg := *s.imap
		cfg.Handler, cfg.Logger = b.rec.Handle, logger
		if b.poller, err = bounce.NewPoller(cfg); err != nil {
			return nil, err
		}
	}
	bounceMetrics.Store(b)
	if len(s.mailgunKey) > 0 {
		api.Handle("POST /webhooks/mailgun", &httpapi.MailgunWebhook{SigningKey: s.mailgunKey, Record: b.rec.Record, Logger: logger})
	}
	return b, nil
}

// start listens on COURRIER_BOUNCE_SMTP_ADDR and starts polling the mailbox.
func (b *bounceIntakes) start(ctx context.Context) error {
	if b == nil {
		return nil
	}
	ctx, b.cancel = context.WithCancel(ctx)
	b.done = make(chan struct{})
	var l net.Listener
	if b.smtp != nil {
		var err error
		if l, err = net.Listen("tcp", b.s.smtpAddr); err != nil {
			return fmt.Errorf("COURRIER_BOUNCE_SMTP_ADDR: %w", err)
		}
		b.addr = l.Addr().String()
		b.logger.Info("bounce listener", "addr", b.addr, "domain", b.s.verp.Domain)
	}
	go func() {
		defer close(b.done)
		if b.poller != nil {
			go func() { _ = b.poller.Run(ctx) }()
		}
		if l != nil {
			if err := b.smtp.Serve(l); err != nil {
				b.logger.Error("bounce listener stopped", "error", err)
			}
		}
		<-ctx.Done()
	}()
	return nil
}

// stop stops the intakes, letting messages in progress finish.
func (b *bounceIntakes) stop(ctx context.Context) {
	if b == nil || b.cancel == nil {
		return
	}
	b.cancel()
	if b.smtp != nil {
		_ = b.smtp.Shutdown(ctx)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
	}
}
