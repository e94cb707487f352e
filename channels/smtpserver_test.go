package channels

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// testSMTP is a real SMTP server in the test process. It stores what it
// receives and can be scripted to reject recipients.
type testSMTP struct {
	addr string
	port string

	mu       sync.Mutex
	messages []receivedMail
	conns    int                        // sessions opened (one per connection)
	reject   map[string]*smtp.SMTPError // rcpt → permanent reply
	once     map[string]*smtp.SMTPError // rcpt → reply given once, then accepted
	atData   map[string]*smtp.SMTPError // rcpt → reply to the end of DATA
	authOK   int                        // successful AUTH exchanges
	user     string                     // when set, AUTH PLAIN with user/pass is required
	pass     string
}

type receivedMail struct {
	From string
	To   []string
	Data []byte
}

type testSMTPOpts struct {
	TLS        bool // offer STARTTLS
	ImplicitTL bool // speak TLS from the first byte
	User, Pass string
}

// newTestSMTP starts a server; its client TLS config trusts the server's
// self-signed certificate.
func newTestSMTP(t *testing.T, opts testSMTPOpts) (*testSMTP, *tls.Config) {
	t.Helper()
	ts := &testSMTP{
		reject: map[string]*smtp.SMTPError{},
		once:   map[string]*smtp.SMTPError{},
		atData: map[string]*smtp.SMTPError{},
		user:   opts.User, pass: opts.Pass,
	}
	srv := smtp.NewServer(ts)
	srv.Domain = "localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.AllowInsecureAuth = !opts.TLS && !opts.ImplicitTL
	srv.ErrorLog = discardLogger{}

	var clientTLS *tls.Config
	if opts.TLS || opts.ImplicitTL {
		var serverTLS *tls.Config
		serverTLS, clientTLS = selfSigned(t)
		srv.TLSConfig = serverTLS
	}
	var l net.Listener
	var err error
	if opts.ImplicitTL {
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	require.NoError(t, err)
	ts.addr = l.Addr().String()
	_, ts.port, _ = net.SplitHostPort(ts.addr)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return ts, clientTLS
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

func (ts *testSMTP) NewSession(*smtp.Conn) (smtp.Session, error) {
	ts.mu.Lock()
	ts.conns++
	ts.mu.Unlock()
	return &testSession{srv: ts}, nil
}

func (ts *testSMTP) Messages() []receivedMail {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]receivedMail(nil), ts.messages...)
}

func (ts *testSMTP) Conns() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.conns
}

func (ts *testSMTP) Reject(rcpt string, e *smtp.SMTPError) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.reject[rcpt] = e
}

func (ts *testSMTP) RejectOnce(rcpt string, e *smtp.SMTPError) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.once[rcpt] = e
}

type testSession struct {
	srv    *testSMTP
	authed bool
	from   string
	to     []string
}

func (s *testSession) AuthMechanisms() []string {
	if s.srv.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.srv.user || pass != s.srv.pass {
			return errors.New("invalid credentials")
		}
		s.authed = true
		s.srv.mu.Lock()
		s.srv.authOK++
		s.srv.mu.Unlock()
		return nil
	}), nil
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if e, ok := s.srv.once[to]; ok {
		delete(s.srv.once, to)
		return e
	}
	if e, ok := s.srv.reject[to]; ok {
		return e
	}
	s.to = append(s.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	for _, to := range s.to {
		if e := s.srv.atData[to]; e != nil {
			s.srv.mu.Unlock()
			return e
		}
	}
	s.srv.messages = append(s.srv.messages, receivedMail{From: s.from, To: s.to, Data: b})
	s.srv.mu.Unlock()
	return nil
}

func (s *testSession) Reset()        { s.from, s.to = "", nil }
func (s *testSession) Logout() error { return nil }

// selfSigned returns a server TLS config for 127.0.0.1 and a client config
// that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client
}

// RejectAtData makes the server answer e at the end of DATA for rcpt.
func (ts *testSMTP) RejectAtData(rcpt string, e *smtp.SMTPError) {
	ts.mu.Lock()
	ts.atData[rcpt] = e
	ts.mu.Unlock()
}
