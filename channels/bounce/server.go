package bounce

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-smtp"
)

// ServerConfig configures the inbound SMTP listener of the bounce domain.
type ServerConfig struct {
	VERP    *VERP
	Handler Handler
	// Domain is the name announced in the greeting (default the VERP domain).
	Domain string
	// MaxMessageBytes bounds a message (default 1 MiB: a DSN quoting a
	// whole notice stays well under).
	MaxMessageBytes int64
	// MaxRecipients bounds the recipients of one message (default 50).
	MaxRecipients int
	// Timeout bounds each read and write on a connection, and the recording
	// of one message (default 60 s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Server is the inbound SMTP listener: it accepts mail only for valid VERP
// addresses and hands each message to the Handler before answering 250, so
// a message is acknowledged only once recorded.
type Server struct {
	Counters
	cfg ServerConfig
	srv *smtp.Server
}

// NewServer returns a listener for cfg; start it with Serve.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.VERP == nil || cfg.Handler == nil {
		return nil, errors.New("bounce server: VERP and Handler are required")
	}
	if cfg.Domain == "" {
		cfg.Domain = cfg.VERP.Domain
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 1 << 20
	}
	if cfg.MaxRecipients <= 0 {
		cfg.MaxRecipients = 50
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = cfg.Domain
	s.srv.MaxMessageBytes = cfg.MaxMessageBytes
	s.srv.MaxRecipients = cfg.MaxRecipients
	s.srv.ReadTimeout = cfg.Timeout
	s.srv.WriteTimeout = cfg.Timeout
	s.srv.MaxLineLength = 4000
	return s, nil
}

// Serve accepts connections on l until Close or Shutdown.
func (s *Server) Serve(l net.Listener) error {
	err := s.srv.Serve(l)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for open ones to finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close closes the listener and every connection at once.
func (s *Server) Close() error { return s.srv.Close() }

type session struct {
	s   *Server
	ids []int64
}

func (ss *session) Reset()                               { ss.ids = ss.ids[:0] }
func (ss *session) Logout() error                        { return nil }
func (ss *session) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	id, err := ss.s.cfg.VERP.Parse(to)
	switch {
	case errors.Is(err, ErrForged):
		ss.s.Forged.Add(1)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Return path does not verify"}
	case err != nil:
		ss.s.Refused.Add(1)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox"}
	}
	ss.ids = append(ss.ids, id)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // go-smtp answers 552 for a message over the limit
	}
	ctx, cancel := context.WithTimeout(context.Background(), ss.s.cfg.Timeout)
	defer cancel()
	if err := ss.s.cfg.Handler(ctx, Inbound{Raw: raw, DeliveryIDs: append([]int64(nil), ss.ids...)}); err != nil {
		ss.s.Failed.Add(1)
		ss.s.cfg.Logger.Warn("bounce not recorded; asked the sender to retry", "deliveries", ss.ids, "error", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Not recorded, try again later"}
	}
	ss.s.Received.Add(1)
	return nil
}
