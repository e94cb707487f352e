package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels/bounce"
	"github.com/courrier-dev/courrier/internal/bouncetest"
	"github.com/courrier-dev/courrier/internal/pgtest"
)

func benchRecorder(b *testing.B) (*Bounces, *bounce.VERP) {
	pool := pgtest.New(b)
	client, err := NewInsertClient(pool, nil)
	require.NoError(b, err)
	verp, err := bounce.NewVERP("bounces", "bounce.caf.example", []byte("a bounce secret for benchmarks"))
	require.NoError(b, err)
	return &Bounces{Pool: pool, VERP: verp, Fallback: FallbackAfterReceipt(client), FallbackMany: FallbackMany(client),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, verp
}

// BenchmarkBounceSMTP: DSNs through the SMTP listener, 20 relay sessions
// (Postfix's default_destination_concurrency_limit),
// each a hard bounce with its full effect (ledger, address, fallback job).
func BenchmarkBounceSMTP(b *testing.B) {
	rec, verp := benchRecorder(b)
	ctx := context.Background()
	ids, err := bouncetest.SeedDeliveries(ctx, rec.Pool, b.N, "bench-smtp-")
	require.NoError(b, err)
	srv, err := bounce.NewServer(bounce.ServerConfig{VERP: verp, Handler: rec.Handle, Logger: rec.Logger})
	require.NoError(b, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	b.ReportAllocs()
	b.ResetTimer()
	require.NoError(b, bouncetest.SendDSNs(l.Addr().String(), verp.Address, ids, 20))
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "dsn/s")
	require.EqualValues(b, b.N, rec.Applied.Load())
}

// BenchmarkBounceIMAP: DSNs read from an IMAP mailbox by the poller.
func BenchmarkBounceIMAP(b *testing.B) {
	rec, verp := benchRecorder(b)
	ctx := context.Background()
	ids, err := bouncetest.SeedDeliveries(ctx, rec.Pool, b.N, "bench-imap-")
	require.NoError(b, err)
	srv, err := bouncetest.NewIMAPServer()
	require.NoError(b, err)
	defer srv.Close()
	for _, id := range ids {
		require.NoError(b, srv.Append("INBOX", bouncetest.DSN(verp.Address(id), "x@exemple.fr", "5.1.1", "550 5.1.1 user unknown", []byte("Subject: x\r\n"))))
	}
	p, err := bounce.NewPoller(bounce.IMAPConfig{Addr: srv.Addr, Security: "none", Username: srv.Username, Password: srv.Password,
		Handler: rec.Handle, Logger: rec.Logger, Timeout: time.Minute})
	require.NoError(b, err)

	b.ReportAllocs()
	b.ResetTimer()
	n, err := p.PollOnce(ctx)
	b.StopTimer()
	require.NoError(b, err)
	require.Equal(b, b.N, n, fmt.Sprint("failed ", p.Failed.Load()))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "dsn/s")
	require.EqualValues(b, b.N, rec.Applied.Load())
}
