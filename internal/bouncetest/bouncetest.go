// Package bouncetest provides the parts that bounce tests and `courrier
// bench` talk to: an SMTP relay that accepts every message and then, like
// a real MTA that cannot deliver, returns an RFC 3464 report to the
// message's return path; an in-memory IMAP server (go-imap's
// imapmemserver); and a DSN generator.
package bouncetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DSN returns an RFC 3464 report, as Postfix writes it, telling returnPath
// that the message to rcpt failed with status and diagnostic. headers are
// the original message's headers, quoted as text/rfc822-headers.
func DSN(returnPath, rcpt, status, diagnostic string, headers []byte) []byte {
	var b bytes.Buffer
	const boundary = "relay-dsn.4B1C2601A/relay.test"
	fmt.Fprintf(&b, "From: MAILER-DAEMON@relay.test (Mail Delivery System)\r\n"+
		"To: %s\r\nSubject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n",
		returnPath, boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"+
		"This is the mail system at host relay.test.\r\n\r\nYour message could not be delivered.\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: message/delivery-status\r\n\r\n"+
		"Reporting-MTA: dns; relay.test\r\nX-Postfix-Queue-ID: 4B1C2601A\r\n\r\n"+
		"Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: %s\r\nRemote-MTA: dns; mx.unreachable.test\r\n"+
		"Diagnostic-Code: smtp; %s\r\n\r\n", boundary, rcpt, status, diagnostic)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary)
	b.Write(bytes.ReplaceAll(bytes.ReplaceAll(headers, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n")))
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return b.Bytes()
}

// Relay is an SMTP relay that accepts every message (250) and then, as
// its next hop is unreachable, sends a DSN to the message's return path at
// BounceAddr, retrying while it answers 4xx.
type Relay struct {
	Addr       string
	BounceAddr string
	mu         sync.Mutex
	status     func(rcpt string) (status, diagnostic string)
	pending    sync.WaitGroup
	srv        *gosmtp.Server
	Done       chan Sent // one value per DSN handed over (or given up), buffered
}

// Sent is a DSN the relay delivered (Err nil) or gave up on.
type Sent struct {
	ReturnPath string
	DSN        []byte
	Err        error
}

// NewRelay starts a relay on 127.0.0.1; Close stops it.
func NewRelay(bounceAddr string) (*Relay, error) {
	r := &Relay{BounceAddr: bounceAddr, Done: make(chan Sent, 1024)}
	r.srv = gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &relaySession{r: r}, nil }))
	r.srv.Domain = "relay.test"
	r.srv.AllowInsecureAuth = true
	r.srv.ReadTimeout, r.srv.WriteTimeout = 30*time.Second, 30*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.Addr = l.Addr().String()
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

// SetStatus sets the DSN status for each recipient (default 5.1.1 for
// all); an empty status means the message was delivered: no DSN.
func (r *Relay) SetStatus(f func(rcpt string) (status, diagnostic string)) {
	r.mu.Lock()
	r.status = f
	r.mu.Unlock()
}

// Close stops the relay after the DSNs in flight.
func (r *Relay) Close() error {
	err := r.srv.Close()
	r.pending.Wait()
	return err
}

// SetBounceAddr sets where DSNs go (for a listener started after the relay).
func (r *Relay) SetBounceAddr(addr string) {
	r.mu.Lock()
	r.BounceAddr = addr
	r.mu.Unlock()
}

// Resend delivers a DSN again (a duplicate, as an MTA retrying would).
func (r *Relay) Resend(s Sent) error { return Deliver(r.BounceAddr, s.ReturnPath, s.DSN, 1) }

type relaySession struct {
	r    *Relay
	from string
	to   []string
}

func (s *relaySession) Reset()        { s.from, s.to = "", nil }
func (s *relaySession) Logout() error { return nil }
func (s *relaySession) Mail(from string, _ *gosmtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *relaySession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *relaySession) Data(rd io.Reader) error {
	raw, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	headers := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		headers = raw[:i+2]
	}
	from, to := s.from, append([]string(nil), s.to...)
	if from == "" {
		return nil // never bounce a bounce
	}
	r := s.r
	r.mu.Lock()
	statusOf, bounceAddr := r.status, r.BounceAddr
	r.mu.Unlock()
	r.pending.Add(1)
	go func() {
		defer r.pending.Done()
		for _, rcpt := range to {
			status, diag := "5.1.1", "550 5.1.1 <"+rcpt+">: Recipient address rejected: User unknown"
			if statusOf != nil {
				if status, diag = statusOf(rcpt); status == "" {
					continue
				}
			}
			dsn := DSN(from, rcpt, status, diag, headers)
			err := Deliver(bounceAddr, from, dsn, 500)
			r.Done <- Sent{ReturnPath: from, DSN: dsn, Err: err}
		}
	}()
	return nil
}

// Deliver sends msg with a null return path to rcpt at addr, retrying up
// to attempts times, 10 ms apart, while the server answers 4xx.
func Deliver(addr, rcpt string, msg []byte, attempts int) error {
	var err error
	for range attempts {
		if err = deliverOnce(addr, rcpt, msg); err == nil {
			return nil
		}
		var te *textproto.Error
		if !errors.As(err, &te) || te.Code/100 != 4 {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

func deliverOnce(addr, rcpt string, msg []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := transaction(c, rcpt, msg); err != nil {
		return err
	}
	return c.Quit()
}

// IMAPServer is go-imap's in-memory IMAP server on 127.0.0.1, with one
// user and an INBOX.
type IMAPServer struct {
	Addr               string
	Username, Password string
	User               *imapmemserver.User
	srv                *imapserver.Server
}

// NewIMAPServer starts an in-memory IMAP server; Close stops it.
func NewIMAPServer() (*IMAPServer, error) {
	s := &IMAPServer{Username: "bounces", Password: "imap-test-password"}
	mem := imapmemserver.New()
	s.User = imapmemserver.NewUser(s.Username, s.Password)
	if err := s.User.Create("INBOX", nil); err != nil {
		return nil, err
	}
	if err := s.User.Create("Processed", nil); err != nil {
		return nil, err
	}
	mem.AddUser(s.User)
	s.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       discard{},
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Addr = l.Addr().String()
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// Append puts msg into mailbox.
func (s *IMAPServer) Append(mailbox string, msg []byte) error {
	_, err := s.User.Append(mailbox, literal{Reader: bytes.NewReader(msg), n: int64(len(msg))}, &imap.AppendOptions{})
	return err
}

// Status returns how many messages mailbox holds and how many are unseen.
func (s *IMAPServer) Status(mailbox string) (messages, unseen uint32, err error) {
	d, err := s.User.Status(mailbox, &imap.StatusOptions{NumMessages: true, NumUnseen: true})
	if err != nil {
		return 0, 0, err
	}
	return *d.NumMessages, *d.NumUnseen, nil
}

// Close stops the server.
func (s *IMAPServer) Close() error { return s.srv.Close() }

type literal struct {
	*bytes.Reader
	n int64
}

func (l literal) Size() int64 { return l.n }

type discard struct{}

func (discard) Printf(string, ...any) {}

// SeedDeliveries creates n beneficiaries, each with one rights notice
// delivered by email (accepted by the relay), and returns the delivery ids.
func SeedDeliveries(ctx context.Context, pool *pgxpool.Pool, n int, prefix string) ([]int64, error) {
	rows, err := pool.Query(ctx, `
		WITH r AS (
			INSERT INTO recipients (ref, email)
			SELECT $2 || g, 'bounce' || g || '@exemple.fr' FROM generate_series(1, $1) g
			RETURNING id, ref
		), n AS (
			INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, channel, sent_at, delivered_at)
			SELECT id, 'rights_opened', 'rights_opened', 'bounce-bench-' || ref, 'delivered', 'email', now(), now() FROM r
			RETURNING id, recipient_id
		)
		INSERT INTO deliveries (notice_id, channel, provider, address, provider_message_id, state, attempt, sent_at, final_at)
		SELECT n.id, 'email', 'smtp', 'bounce' || substr(r.ref, length($2) + 1) || '@exemple.fr',
		       '<n' || n.id || '@bench.example>', 'delivered', 1, now(), now()
		FROM n JOIN r ON r.id = n.recipient_id
		RETURNING id`, n, prefix)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// SendDSNs sends one DSN per delivery id to the listener at addr over conns
// parallel SMTP sessions, as a relay does (several messages per session).
func SendDSNs(addr string, returnPath func(int64) string, ids []int64, conns int) error {
	if conns <= 0 {
		conns = 8
	}
	work := make(chan int64)
	errc := make(chan error, conns)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(addr)
			if err != nil {
				errc <- err
				for range work {
				}
				return
			}
			defer c.Close()
			for id := range work {
				if err == nil {
					err = sendOne(c, returnPath(id), DSN(returnPath(id), "x@exemple.fr", "5.1.1", "550 5.1.1 user unknown", []byte("Subject: x\r\n")))
				}
			}
			if err != nil {
				errc <- err
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	close(errc)
	return <-errc
}

func sendOne(c *smtp.Client, rcpt string, msg []byte) error {
	if err := c.Reset(); err != nil {
		return err
	}
	return transaction(c, rcpt, msg)
}

// transaction sends msg to rcpt with a null return path, as a DSN is sent.
func transaction(c *smtp.Client, rcpt string, msg []byte) error {
	if err := c.Mail(""); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	return w.Close()
}
