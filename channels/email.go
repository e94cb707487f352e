package channels

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"
	mailsmtp "github.com/wneessen/go-mail/smtp"
)

// EmailConfig configures the SMTP email channel.
type EmailConfig struct {
	// URL is SMTP_URL: smtp://user:pass@host:587 (STARTTLS required),
	// smtps://user:pass@host:465 (implicit TLS), or smtp://host:25?tls=none
	// for an explicitly insecure local relay.
	URL string
	// From and ReplyTo are addresses, optionally with a display name:
	// "Caf de Paris <ne-pas-repondre@caf.fr>". ReplyTo may be empty.
	From, ReplyTo string
	// Connections is the number of SMTP connections kept open (default 4).
	Connections int
	// IdleTimeout closes a connection unused for that long (default 30s):
	// servers drop idle clients, and a re-dial is cheaper than a failed send.
	IdleTimeout time.Duration
	// TLSConfig overrides the TLS settings (tests use it to trust their own
	// certificate). ServerName defaults to the URL's host.
	TLSConfig *tls.Config
	// ReturnPath, when set, gives each message its envelope sender (VERP,
	// see channels/bounce) so that bounces name their delivery; otherwise
	// the envelope sender is From.
	ReturnPath func(deliveryID int64) string
}

// SMTPSecurity is how the connection to the SMTP server is protected.
type SMTPSecurity int

// The SMTP security modes.
const (
	// SMTPStartTLS requires the server to offer STARTTLS (smtp://).
	SMTPStartTLS SMTPSecurity = iota
	// SMTPImplicitTLS speaks TLS from the first byte (smtps://).
	SMTPImplicitTLS
	// SMTPNoTLS sends in clear text (smtp://…?tls=none): a local relay only.
	SMTPNoTLS
)

func (s SMTPSecurity) String() string {
	switch s {
	case SMTPImplicitTLS:
		return "implicit-tls"
	case SMTPNoTLS:
		return "none"
	default:
		return "starttls"
	}
}

// SMTPSettings is a parsed SMTP_URL.
type SMTPSettings struct {
	Host     string
	Port     int
	Security SMTPSecurity
	Username string
	Password string
}

// ParseSMTPURL parses an SMTP_URL. The scheme is smtp (STARTTLS required,
// default port 587) or smtps (implicit TLS, default port 465); the only query
// parameter is tls=none, which allows clear text on smtp:// (default port 25)
// and is meant for a relay on the same host or network.
func ParseSMTPURL(raw string) (SMTPSettings, error) {
	var s SMTPSettings
	if strings.TrimSpace(raw) == "" {
		return s, errors.New("SMTP_URL is empty: expected smtp://user:pass@host:587 or smtps://user:pass@host:465")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse errors quote the URL, which holds the password.
		return s, errors.New("SMTP_URL is not a valid URL: expected smtp://user:pass@host:587 or smtps://user:pass@host:465")
	}
	defaultPort := 587
	switch u.Scheme {
	case "smtp":
		s.Security = SMTPStartTLS
	case "smtps":
		s.Security = SMTPImplicitTLS
		defaultPort = 465
	default:
		return s, fmt.Errorf("SMTP_URL scheme %q is not supported: use smtp:// (STARTTLS) or smtps:// (implicit TLS)", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return s, errors.New("SMTP_URL has no host: expected smtp://user:pass@host:587")
	}
	if u.Path != "" && u.Path != "/" {
		return s, fmt.Errorf("SMTP_URL must not have a path (got %q)", u.Path)
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return s, fmt.Errorf("SMTP_URL query parameter %q is not supported (only tls=none)", k)
		}
	}
	if q.Has("tls") {
		switch v := q.Get("tls"); v {
		case "none":
			if s.Security == SMTPImplicitTLS {
				return s, errors.New("SMTP_URL: tls=none contradicts smtps://; use smtp://host:25?tls=none for a clear-text relay")
			}
			s.Security = SMTPNoTLS
			defaultPort = 25
		default:
			return s, fmt.Errorf("SMTP_URL: tls=%q is not supported (only tls=none, for a local relay)", v)
		}
	}
	s.Host = u.Hostname()
	if s.Host == "" {
		return s, errors.New("SMTP_URL has no host: expected smtp://user:pass@host:587")
	}
	s.Port = defaultPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return s, fmt.Errorf("SMTP_URL port %q is not a valid port", p)
		}
		s.Port = n
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.Username == "" {
			return s, errors.New("SMTP_URL has user info without a user name")
		}
	}
	return s, nil
}

// SMTP is the email channel: it sends messages through a pool of reused connections.
type SMTP struct {
	settings    SMTPSettings
	from        *netmail.Address
	replyTo     *netmail.Address
	domain      string // of From, for Message-IDs
	idleTimeout time.Duration
	now         func() time.Time
	returnPath  func(deliveryID int64) string

	// sem bounds concurrent sends to the pool size; free is a stack, so the
	// most recently used (still open) connection is reused first and the
	// others age out by IdleTimeout.
	sem  chan struct{}
	mu   sync.Mutex
	free []*smtpConn
	size int
	done chan struct{}
	once sync.Once
}

var _ Channel = (*SMTP)(nil)

// smtpConn is one pool slot: a go-mail client (which serialises its sends)
// and, once dialled, its connection.
type smtpConn struct {
	client   *mail.Client
	conn     *mailsmtp.Client // nil until dialled, and after an error
	raw      net.Conn         // the socket under conn, closed to abort a send on cancellation
	ext      smtpExt          // what conn's EHLO offered
	lastUsed time.Time
	body     bytes.Buffer // the message as go-mail writes it, reused
	wire     []byte       // the message dot-stuffed for DATA, reused
}

// NewEmail returns an email channel for cfg. It does not connect: each pooled
// connection is dialled on first use.
func NewEmail(cfg EmailConfig) (*SMTP, error) {
	settings, err := ParseSMTPURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.From == "" {
		return nil, errors.New("email: SMTP_FROM is required")
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("email: SMTP_FROM %q is not a valid address: %w", cfg.From, err)
	}
	e := &SMTP{
		settings:    settings,
		from:        from,
		domain:      from.Address[strings.LastIndexByte(from.Address, '@')+1:],
		idleTimeout: cfg.IdleTimeout,
		now:         time.Now,
		returnPath:  cfg.ReturnPath,
		size:        cfg.Connections,
		done:        make(chan struct{}),
	}
	if cfg.ReplyTo != "" {
		if e.replyTo, err = netmail.ParseAddress(cfg.ReplyTo); err != nil {
			return nil, fmt.Errorf("email: SMTP_REPLY_TO %q is not a valid address: %w", cfg.ReplyTo, err)
		}
	}
	if e.size <= 0 {
		e.size = 4
	}
	if e.idleTimeout <= 0 {
		e.idleTimeout = 30 * time.Second
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = settings.Host
	}

	e.sem = make(chan struct{}, e.size)
	for range e.size {
		s := &smtpConn{}
		opts := []mail.Option{
			mail.WithPort(settings.Port),
			mail.WithTLSConfig(tlsConfig),
			mail.WithoutNoop(),
			mail.WithDialContextFunc(s.dialer(settings, tlsConfig)),
		}
		switch settings.Security {
		case SMTPImplicitTLS:
			opts = append(opts, mail.WithSSL())
		case SMTPNoTLS:
			opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
		default:
			opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
		}
		if settings.Username != "" {
			plain, login := mail.SMTPAuthPlain, mail.SMTPAuthLogin
			if settings.Security == SMTPNoTLS {
				// The operator chose clear text explicitly; go-mail refuses
				// PLAIN/LOGIN without TLS unless told so.
				plain, login = mail.SMTPAuthPlainNoEnc, mail.SMTPAuthLoginNoEnc
			}
			opts = append(opts,
				mail.WithOpportunisticSMTPAuth(plain, login),
				mail.WithUsername(settings.Username),
				mail.WithPassword(settings.Password))
		}
		c, err := mail.NewClient(settings.Host, opts...)
		if err != nil {
			return nil, fmt.Errorf("email: SMTP client: %w", err)
		}
		s.client = c
		e.free = append(e.free, s)
	}
	return e, nil
}

// dialer returns the dial function of one slot. It records the socket so that
// a cancelled context can abort a send, and does the TLS handshake itself for
// smtps:// (go-mail only does it when no dial function is set).
func (s *smtpConn) dialer(settings SMTPSettings, tlsConfig *tls.Config) mail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		s.raw = raw
		if settings.Security != SMTPImplicitTLS {
			return raw, nil
		}
		tc := tls.Client(raw, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return tc, nil
	}
}

// Send delivers msg to the SMTP server. Acceptance by the server is the final
// evidence the email channel has, so the receipt says Delivered.
func (e *SMTP) Send(ctx context.Context, msg Message) (Receipt, error) {
	m, id, err := e.build(msg)
	if err != nil {
		return Receipt{}, err
	}
	if e.returnPath != nil {
		if err := m.EnvelopeFrom(e.returnPath(msg.DeliveryID)); err != nil {
			return Receipt{}, PermanentError("invalid_message", "return path of delivery %d: %v", msg.DeliveryID, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return Receipt{}, &Error{Class: Transient, Msg: "email not sent", Err: err}
	}

	select {
	case <-e.done:
		return Receipt{}, &Error{Class: Transient, Msg: "email channel closed"}
	default:
	}
	select {
	case e.sem <- struct{}{}:
	case <-e.done:
		return Receipt{}, &Error{Class: Transient, Msg: "email channel closed"}
	case <-ctx.Done():
		return Receipt{}, &Error{Class: Transient, Msg: "email not sent: waiting for an SMTP connection", Err: ctx.Err()}
	}
	s := e.pop()
	defer e.push(s)

	if s.conn != nil && e.now().Sub(s.lastUsed) > e.idleTimeout {
		s.hangUp()
	}
	if s.conn == nil {
		c, err := s.client.DialToSMTPClientWithContext(ctx)
		if err != nil {
			if s.raw != nil {
				s.raw.Close()
				s.raw = nil
			}
			return Receipt{}, e.dialError(ctx, err)
		}
		s.conn = c
		s.ext = readExt(c)
	}

	raw := s.raw
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	text, err := s.transact(m)
	s.lastUsed = e.now()
	if !stop() {
		s.hangUp()
		return Receipt{}, &Error{Class: Transient, Msg: "email send aborted", Err: ctx.Err()}
	}
	if err != nil {
		// Whatever happened, the next message gets a fresh connection. A
		// relay left reading message data would not answer QUIT: its socket
		// is closed without one.
		enhanced := s.ext.enhanced
		var f *smtpFailure
		if s.raw != nil && (!errors.As(err, &f) || f.midData) {
			_ = s.raw.Close()
		}
		s.hangUp()
		return Receipt{}, classifySMTP(err, msg.To, enhanced)
	}
	reply := RelayReply(text)
	evidence := "smtp_accepted"
	if reply != "" {
		evidence += ": " + reply
	}
	return Receipt{Provider: "smtp", MessageID: "<" + id + ">", Delivered: true, Evidence: evidence, RelayReply: reply}, nil
}

// RelayReply reduces the relay's final reply to DATA (go-mail gives the text
// after the 250 code, e.g. "2.0.0 Ok: queued as 4Xyz") to its first line,
// without addresses, at most 120 bytes, prefixed with the code: an auditor
// finds the queue id in the relay's logs with it.
func RelayReply(text string) string {
	text, _, _ = strings.Cut(strings.TrimSpace(text), "\n")
	text = strings.TrimSpace(addrRe.ReplaceAllString(text, "<address>"))
	if text == "" {
		return ""
	}
	if len(text) > 120 {
		text = strings.ToValidUTF8(text[:120], "")
	}
	return "250 " + text
}

var addrRe = regexp.MustCompile(`<?[^\s<>"]+@[^\s<>"]+>?`)

// build turns msg into a message and its Message-ID (without <>).
func (e *SMTP) build(msg Message) (*mimeMessage, string, error) {
	return buildMIME(e.from, e.replyTo, e.domain, msg)
}

// buildMIME builds the MIME message for msg, as sent and as written to the
// outbox: multipart/alternative with a plain-text and an HTML part, UTF-8
// quoted-printable, Content-Language fr, a Message-ID derived from the
// notice and delivery ids, and the RFC 8058 one-click unsubscribe headers
// when msg carries an unsubscribe URL.
func buildMIME(from, replyTo *netmail.Address, domain string, msg Message) (_ *mimeMessage, _ string, err error) {
	if msg.To == "" {
		return nil, "", PermanentError("invalid_message", "email has no recipient address")
	}
	if msg.Text == "" {
		// Accessibility: every email carries a plain-text part.
		return nil, "", PermanentError("invalid_message", "email for delivery %d has no plain-text part", msg.DeliveryID)
	}
	if from, replyTo, err = callerSender(from, replyTo, msg); err != nil {
		return nil, "", err
	}
	m := mail.NewMsg(mail.WithCharset(mail.CharsetUTF8), mail.WithEncoding(mail.EncodingQP))
	if err := m.FromFormat(from.Name, from.Address); err != nil {
		return nil, "", PermanentError("invalid_message", "from address: %v", err)
	}
	if replyTo != nil {
		if err := m.ReplyToFormat(replyTo.Name, replyTo.Address); err != nil {
			return nil, "", PermanentError("invalid_message", "reply-to address: %v", err)
		}
	}
	if err := m.AddToFormat(msg.ToName, msg.To); err != nil {
		// The error names the address: keep it out of the message.
		ce := PermanentError("invalid_address", "recipient address of delivery %d is not valid", msg.DeliveryID)
		ce.AddressRejected = true
		return nil, "", ce
	}
	id := fmt.Sprintf("n%d.d%d@%s", msg.NoticeID, msg.DeliveryID, domain)
	m.SetMessageIDWithValue(id)
	m.SetDate()
	m.Subject(msg.Subject)
	m.SetGenHeader(mail.HeaderContentLang, "fr")
	if msg.UnsubscribeURL != "" {
		if err := m.SetListUnsubscribeOneClick(msg.UnsubscribeURL); err != nil {
			return nil, "", PermanentError("invalid_message", "unsubscribe URL of delivery %d must be an https URL", msg.DeliveryID)
		}
	}
	return &mimeMessage{Msg: m, text: msg.Text, html: msg.HTML}, id, nil
}

func (e *SMTP) pop() *smtpConn {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.free[len(e.free)-1]
	e.free = e.free[:len(e.free)-1]
	return s
}

func (e *SMTP) push(s *smtpConn) {
	e.mu.Lock()
	e.free = append(e.free, s)
	e.mu.Unlock()
	<-e.sem
}

// hangUp ends the slot's connection, politely if it still works.
func (s *smtpConn) hangUp() {
	if s.conn != nil {
		_ = s.client.CloseWithSMTPClient(s.conn)
	}
	if s.raw != nil {
		_ = s.raw.Close()
	}
	s.conn, s.raw = nil, nil
}

// dialError classifies a failure to connect, greet, STARTTLS or authenticate.
// These concern our relay, not the message: they are transient, so the
// message waits for the relay (or its configuration) to be fixed instead of
// falling back to another channel.
func (e *SMTP) dialError(ctx context.Context, err error) error {
	addr := net.JoinHostPort(e.settings.Host, strconv.Itoa(e.settings.Port))
	if ctx.Err() != nil {
		return &Error{Class: Transient, Msg: "email not sent: connecting to " + addr, Err: ctx.Err()}
	}
	text := err.Error()
	switch {
	case strings.Contains(text, "does not support STARTTLS"):
		return &Error{Class: Transient, Code: "starttls_required",
			Msg: "SMTP server " + addr + " does not offer STARTTLS, which smtp:// requires (use smtps:// or, for a local relay only, ?tls=none)"}
	case strings.Contains(text, "AUTH"):
		return &Error{Class: Transient, Code: "auth_failed", Msg: "SMTP authentication with " + addr + " failed", Err: err}
	}
	return &Error{Class: Transient, Code: "connect", Msg: "connect to SMTP server " + addr, Err: err}
}

type redactedError struct {
	text string
	err  error
}

func (r *redactedError) Error() string { return r.text }
func (r *redactedError) Unwrap() error { return r.err }

func redact(text, addr string) string {
	if addr == "" {
		return text
	}
	return strings.ReplaceAll(text, addr, "<recipient>")
}

// Close waits for sends in progress and closes every connection. Sends after
// Close fail with a transient error.
func (e *SMTP) Close() error {
	e.once.Do(func() {
		close(e.done)
		for range e.size {
			e.sem <- struct{}{} // wait for sends in progress
		}
		for _, s := range e.free {
			s.hangUp()
		}
	})
	return nil
}

// callerSender applies msg's own From and ReplyTo (the Caf's identity) over
// the channel's.
func callerSender(from, replyTo *netmail.Address, msg Message) (*netmail.Address, *netmail.Address, error) {
	if msg.From != "" {
		a, err := netmail.ParseAddress(msg.From)
		if err != nil {
			return nil, nil, PermanentError("invalid_message", "sender address of delivery %d: %v", msg.DeliveryID, err)
		}
		from = a
	}
	if msg.ReplyTo != "" {
		a, err := netmail.ParseAddress(msg.ReplyTo)
		if err != nil {
			return nil, nil, PermanentError("invalid_message", "reply-to address of delivery %d: %v", msg.DeliveryID, err)
		}
		replyTo = a
	}
	return from, replyTo, nil
}
