package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTPSink is an SMTP server that accepts every message and discards it,
// counting what it accepted.
type SMTPSink struct {
	Addr     string
	srv      *smtp.Server
	accepted atomic.Int64
	conns    atomic.Int64
	// KeepLast, set before sending, keeps the last message accepted (tests).
	KeepLast bool
	mu       sync.Mutex
	last     []byte
}

// Last returns the last message accepted, when KeepLast is set.
func (s *SMTPSink) Last() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// StartSMTPSink listens on a loopback port.
func StartSMTPSink() (*SMTPSink, error) {
	s := &SMTPSink{}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Addr = l.Addr().String()
	s.srv = srv
	go func() { _ = srv.Serve(l) }()
	return s, nil
}

// URL is the SMTP_URL of the sink (plain SMTP: it is on loopback).
func (s *SMTPSink) URL() string { return "smtp://" + s.Addr + "?tls=none" }

// Accepted is the number of messages accepted so far.
func (s *SMTPSink) Accepted() int64 { return s.accepted.Load() }

// Connections is the number of SMTP connections opened so far.
func (s *SMTPSink) Connections() int64 { return s.conns.Load() }

// Close stops the sink.
func (s *SMTPSink) Close() error { return s.srv.Close() }

// NewSession implements smtp.Backend.
func (s *SMTPSink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.conns.Add(1)
	return &sinkSession{sink: s}, nil
}

type sinkSession struct{ sink *SMTPSink }

func (*sinkSession) Mail(from string, opts *smtp.MailOptions) error { return nil }
func (*sinkSession) Rcpt(to string, opts *smtp.RcptOptions) error   { return nil }
func (ss *sinkSession) Data(r io.Reader) error {
	if ss.sink.KeepLast {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		ss.sink.mu.Lock()
		ss.sink.last = b
		ss.sink.mu.Unlock()
	} else if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	ss.sink.accepted.Add(1)
	return nil
}
func (*sinkSession) Reset()        {}
func (*sinkSession) Logout() error { return nil }

// TwilioSink is an HTTP server speaking the shape of Twilio's Messages API:
// it accepts every message with 201 and a queued status.
type TwilioSink struct {
	URL      string
	srv      *http.Server
	accepted atomic.Int64
	next     atomic.Int64
}

// StartTwilioSink listens on a loopback port.
func StartTwilioSink() (*TwilioSink, error) {
	s := &TwilioSink{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("To") == "" || r.PostForm.Get("Body") == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"code":21604,"message":"A 'To' phone number is required.","more_info":"https://www.twilio.com/docs/errors/21604","status":400}`)
			return
		}
		sid := fmt.Sprintf("SM%032x", s.next.Add(1))
		s.accepted.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"sid": sid, "account_sid": r.PathValue("sid"), "to": r.PostForm.Get("To"),
			"from": r.PostForm.Get("From"), "messaging_service_sid": r.PostForm.Get("MessagingServiceSid"),
			"body": r.PostForm.Get("Body"), "status": "queued", "num_segments": "1", "direction": "outbound-api",
			"api_version": "2010-04-01", "date_created": time.Now().UTC().Format(time.RFC1123Z),
			"uri": "/2010-04-01/Accounts/" + r.PathValue("sid") + "/Messages/" + sid + ".json",
		})
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + l.Addr().String()
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// Accepted is the number of messages accepted so far.
func (s *TwilioSink) Accepted() int64 { return s.accepted.Load() }

// Close stops the sink.
func (s *TwilioSink) Close() error { return s.srv.Close() }
