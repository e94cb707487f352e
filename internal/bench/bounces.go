package bench

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/courrier-dev/courrier/channels/bounce"
	"github.com/courrier-dev/courrier/internal/bouncetest"
	"github.com/courrier-dev/courrier/jobs"
)

// bounces measures the bounce intakes: DSNs through the SMTP listener
// (SMTPConns relay sessions) and through the IMAP poller, each a hard
// bounce with its whole effect (ledger event, address undeliverable,
// fallback job). Each intake gets half of Recipients (at least 1,000).
func (b *runner) bounces(ctx context.Context) error {
	n := max(b.opts.Recipients/2, 1000)
	verp, err := bounce.NewVERP("bounces", "bounce.bench.example", []byte("courrier bench bounce secret"))
	if err != nil {
		return err
	}
	client, err := jobs.NewInsertClient(b.pool, b.opts.Logger)
	if err != nil {
		return err
	}
	rec := &jobs.Bounces{Pool: b.pool, VERP: verp, Fallback: jobs.FallbackAfterReceipt(client), FallbackMany: jobs.FallbackMany(client), Logger: b.opts.Logger}

	// SMTP listener.
	ids, err := bouncetest.SeedDeliveries(ctx, b.pool, n, "bounce-smtp-")
	if err != nil {
		return fmt.Errorf("seed deliveries: %w", err)
	}
	srv, err := bounce.NewServer(bounce.ServerConfig{VERP: verp, Handler: rec.Handle, Logger: b.opts.Logger})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	b.progress("bounces over SMTP: %d DSNs", n)
	resetPeakRSS()
	b.startPhase()
	start := time.Now()
	sessions := max(b.opts.SMTPConns, 20) // Postfix's default_destination_concurrency_limit
	if err := bouncetest.SendDSNs(l.Addr().String(), verp.Address, ids, sessions); err != nil {
		return fmt.Errorf("send DSNs: %w", err)
	}
	secs := time.Since(start).Seconds()
	b.progressDone()
	if got := rec.Applied.Load(); got != int64(n) {
		return fmt.Errorf("bounces over SMTP: %d of %d recorded", got, n)
	}
	b.record(ctx, Phase{Name: "bounces over SMTP (DSN → ledger)", Count: n, Seconds: secs,
		Note: fmt.Sprintf("%d relay sessions", sessions)})

	// IMAP poller.
	ids, err = bouncetest.SeedDeliveries(ctx, b.pool, n, "bounce-imap-")
	if err != nil {
		return fmt.Errorf("seed deliveries: %w", err)
	}
	mbox, err := bouncetest.NewIMAPServer()
	if err != nil {
		return err
	}
	defer mbox.Close()
	for _, id := range ids {
		dsn := bouncetest.DSN(verp.Address(id), "x@exemple.fr", "5.1.1", "550 5.1.1 user unknown", []byte("Subject: x\r\n"))
		if err := mbox.Append("INBOX", dsn); err != nil {
			return err
		}
	}
	poller, err := bounce.NewPoller(bounce.IMAPConfig{Addr: mbox.Addr, Security: "none", Username: mbox.Username,
		Password: mbox.Password, Handler: rec.Handle, Logger: b.opts.Logger, Timeout: time.Minute})
	if err != nil {
		return err
	}
	b.progress("bounces over IMAP: %d DSNs", n)
	resetPeakRSS()
	b.startPhase()
	start = time.Now()
	got, err := poller.PollOnce(ctx)
	secs = time.Since(start).Seconds()
	b.progressDone()
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	if got != n {
		return fmt.Errorf("bounces over IMAP: %d of %d recorded", got, n)
	}
	b.record(ctx, Phase{Name: "bounces over IMAP (DSN → ledger)", Count: n, Seconds: secs,
		Note: "one poll, 200 messages per FETCH, 32 recorded at once; the in-memory IMAP server runs in this process"})
	b.rep.Checks = append(b.rep.Checks, fmt.Sprintf("bounces: %d DSNs over SMTP and %d over IMAP, each recorded once (%d forged, %d duplicates)",
		n, n, rec.Forged.Load(), rec.Duplicate.Load()))
	return nil
}
