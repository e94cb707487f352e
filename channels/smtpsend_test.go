package channels

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/textproto"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
	mail "github.com/wneessen/go-mail"
)

// textprotoDot is what net/textproto's DotWriter (go-mail's path) writes for msg.
func textprotoDot(msg []byte) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	dw := textproto.NewWriter(bw).DotWriter()
	_, _ = dw.Write(msg)
	_ = dw.Close()
	return out.Bytes()
}

var dotCases = []string{
	"", ".", "..", "a", "a\r\n", ".a\r\n.b\r\n", "x\n.y\n", "a\rb\r\n.c", "a\r\r\n.b", "\r", "\r\n", "\n", "\n.",
	"line\r\n.\r\nafter", "end with cr\r", "end with lf\n", "a\r.b", "a\r\n\r\n..\r\n", "é.\r\n.é",
}

func TestDotStuffMatchesTextproto(t *testing.T) {
	t.Parallel()
	for _, c := range dotCases {
		require.Equal(t, string(textprotoDot([]byte(c))), string(dotStuff(nil, []byte(c))), "input %q", c)
	}
}

func FuzzDotStuff(f *testing.F) {
	for _, c := range dotCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		if got, want := dotStuff([]byte("prefix"), msg), append([]byte("prefix"), textprotoDot(msg)...); !bytes.Equal(got, want) {
			t.Fatalf("dotStuff(%q) = %q, textproto writes %q", msg, got, want)
		}
	})
}

var testDate = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)

// goMailFull is the message as go-mail v0.8.1 writes it with its own body
// parts: the reference for mimeMessage.
func goMailFull(t *testing.T, mm *mimeMessage, boundary string) *mail.Msg {
	t.Helper()
	m := mm.Msg
	m.SetDateWithValue(testDate)
	m.SetBoundary(boundary)
	m.SetBodyString(mail.TypeTextPlain, mm.text)
	if mm.html != "" {
		m.AddAlternativeString(mail.TypeTextHTML, mm.html)
	}
	return m
}

// hostileMessage has lines a careless encoder or dot-stuffer gets wrong.
func hostileMessage() Message {
	msg := frenchMessage(5, 6, "helene@example.org")
	msg.Text = "Bonjour,\n.\n..deux points\n.début\r\nfin\rseule\n" + strings.Repeat("é", 200) + "\n.\n" +
		"espace en fin \ntab\t\n= égal =3D\n" + strings.Repeat("x", 75) + " \n" + strings.Repeat("y", 76) + "\n\x00\x7f\xff fin"
	msg.HTML = "<p>.</p>\n.\n<p>ça</p> "
	msg.UnsubscribeURL = "https://courrier.example.fr/u/tok"
	return msg
}

// The message courrier writes is go-mail's, header fields and body: the
// header fields as a set (go-mail writes some in map order), the body byte
// for byte; with and without an HTML part.
func TestMIMEBodyMatchesGoMail(t *testing.T) {
	t.Parallel()
	from, _ := netmail.ParseAddress("Caf de Paris <ne-pas-repondre@caf.example.fr>")
	for _, html := range []bool{true, false} {
		msg := hostileMessage()
		if !html {
			msg.HTML = ""
		}
		ref, _, err := buildMIME(from, nil, "caf.example.fr", msg)
		require.NoError(t, err)
		var want bytes.Buffer
		_, err = goMailFull(t, ref, "b0undary").WriteTo(&want)
		require.NoError(t, err)

		mm, _, err := buildMIME(from, nil, "caf.example.fr", msg)
		require.NoError(t, err)
		mm.SetDateWithValue(testDate)
		mm.boundary = "b0undary"
		var got bytes.Buffer
		require.NoError(t, mm.writeTo(&got))
		require.Equal(t, canonicalMail(want.Bytes()), canonicalMail(got.Bytes()), "html part: %v", html)
	}
}

// The lean transaction puts on the wire what go-mail's own
// SendWithSMTPClient sends: the relay receives the same bytes, hostile lines
// (a lone dot, leading dots, CRs) included, with the same envelope.
func TestTransactSendsWhatGoMailSends(t *testing.T) {
	t.Parallel()
	srv, _ := newTestSMTP(t, testSMTPOpts{})
	email, err := NewEmail(EmailConfig{URL: "smtp://127.0.0.1:" + srv.port + "?tls=none",
		From: "Caf de Paris <ne-pas-repondre@caf.example.fr>", ReplyTo: "contact@caf.example.fr", Connections: 1})
	require.NoError(t, err)
	t.Cleanup(func() { email.Close() })
	msg := hostileMessage()

	s := email.free[0]
	c, err := s.client.DialToSMTPClientWithContext(context.Background())
	require.NoError(t, err)
	s.conn, s.ext = c, readExt(c)
	require.True(t, s.ext.pipelining, "go-smtp offers PIPELINING")

	// Old path: go-mail's SendWithSMTPClient.
	ref, _, err := email.build(msg)
	require.NoError(t, err)
	require.NoError(t, s.client.SendWithSMTPClient(c, goMailFull(t, ref, "b0undary")))
	// New path, twice on the same connection (no RSET between them).
	for range 2 {
		mm, _, err := email.build(msg)
		require.NoError(t, err)
		mm.SetDateWithValue(testDate)
		mm.boundary = "b0undary"
		reply, err := s.transact(mm)
		require.NoError(t, err)
		require.Equal(t, "2.0.0 OK: queued", reply)
	}
	s.hangUp()

	got := srv.Messages()
	require.Len(t, got, 3)
	for _, g := range got[1:] {
		require.Equal(t, canonicalMail(got[0].Data), canonicalMail(g.Data), "the lean path sends the same bytes")
		require.Equal(t, got[0].From, g.From)
		require.Equal(t, got[0].To, g.To)
	}
	require.Equal(t, 1, srv.Conns())
	p := parseMail(t, got[1].Data)
	require.Contains(t, p.Parts["text/plain"], "\r\n.\r\n..deux points\r\n.début")
	require.Equal(t, "<n5.d6@caf.example.fr>", p.Header.Get("Message-ID"))
	require.Equal(t, "<https://courrier.example.fr/u/tok>", p.Header.Get("List-Unsubscribe"))
}

var qpCases = []string{
	"", "a", "=", " ", "\t", "a \n", "a\t\r\n", "\r", "\r\n", "\n", "\r\r\n", "\r\xe9\n", "ça", strings.Repeat("a", 75),
	strings.Repeat("a", 76), strings.Repeat("a", 77), strings.Repeat("a", 73) + "é", strings.Repeat("a", 74) + " \n",
	strings.Repeat("a", 75) + " ", strings.Repeat("é", 100), "\x00\x7f\x80\xff", "fin ",
}

func stdQP(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.String()
}

func TestAppendQPMatchesStdlib(t *testing.T) {
	t.Parallel()
	for _, c := range qpCases {
		require.Equal(t, stdQP(c), string(appendQP(nil, c)), "input %q", c)
	}
}

func FuzzAppendQP(f *testing.F) {
	for _, c := range qpCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendQP([]byte("p"), s)), "p"+stdQP(s); got != want {
			t.Fatalf("appendQP(%q) = %q, mime/quotedprintable writes %q", s, got, want)
		}
	})
}

// A rejected recipient in a pipelined transaction is reported as the RCPT
// failure (not the DATA refusal that follows it), and the next message on a
// fresh connection goes through.
func TestPipelinedRcptRejection(t *testing.T) {
	t.Parallel()
	b := setupEmail(t, 1)
	b.srv.Reject("nobody@example.org", &smtpError550)
	_, err := b.email.Send(context.Background(), frenchMessage(1, 1, "nobody@example.org"))
	ce := Classify(err)
	require.Equal(t, Permanent, ce.Class)
	require.Equal(t, "550", ce.Code)
	require.True(t, ce.AddressRejected)
	require.Contains(t, ce.Msg, "RCPT TO")
	require.NotContains(t, err.Error(), "nobody@example.org")
	_, err = b.email.Send(context.Background(), frenchMessage(1, 2, "ok@example.org"))
	require.NoError(t, err)
	require.Len(t, b.srv.Messages(), 1)
}

func BenchmarkDotStuff(b *testing.B) {
	msg := bytes.Repeat([]byte("Bonjour Madame, voici votre lettre d'information =C3=A9 de la Caf.\r\n.point\r\n"), 100)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		dst = dotStuff(dst[:0], msg)
	}
}

func BenchmarkTextprotoDotWriter(b *testing.B) {
	msg := bytes.Repeat([]byte("Bonjour Madame, voici votre lettre d'information =C3=A9 de la Caf.\r\n.point\r\n"), 100)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		_ = textprotoDot(msg)
	}
}

// benchMessage is a general mailing of about 8 KB, like the bench's.
func benchMessage(i int) Message {
	m := frenchMessage(int64(i), int64(i), fmt.Sprintf("r%d@example.org", i%1000))
	para := "Signalez tout changement dès qu'il se produit : naissance, séparation, déménagement, reprise d'emploi, évolution de vos ressources.\n\n"
	m.Text = string(bytes.Repeat([]byte(para), 25))
	m.HTML = string(bytes.Repeat([]byte("<p>"+para+"</p>\n"), 25))
	m.UnsubscribeURL = "https://courrier.example.fr/u/tok"
	return m
}

func BenchmarkBuildMIME(b *testing.B) {
	from, _ := netmail.ParseAddress("Caf <ne-pas-repondre@caf.example.fr>")
	msg := benchMessage(1)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		m, _, err := buildMIME(from, nil, "caf.example.fr", msg)
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		if err := m.writeTo(&buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEmailSend sends over one connection to the in-process go-smtp
// server: the figure includes the server's work.
func BenchmarkEmailSend(b *testing.B) {
	srv := newBenchSMTP(b)
	email, err := NewEmail(EmailConfig{URL: "smtp://" + srv + "?tls=none", From: "Caf <ne-pas-repondre@caf.example.fr>", Connections: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer email.Close()
	msg := benchMessage(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := email.Send(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
}

// canonicalMail returns a message's header fields (unfolded lines kept as
// they are) sorted, then its body as is.
func canonicalMail(data []byte) string {
	head, body, ok := bytes.Cut(data, []byte("\r\n\r\n"))
	if !ok {
		return string(data)
	}
	var fields []string
	for _, l := range strings.Split(string(head), "\r\n") {
		if len(fields) > 0 && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			fields[len(fields)-1] += "\r\n" + l
			continue
		}
		fields = append(fields, l)
	}
	sort.Strings(fields)
	return strings.Join(fields, "\r\n") + "\r\n\r\n" + string(body)
}

var smtpError550 = smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}

// discardBackend accepts and discards every message.
type discardBackend struct{}

func (discardBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return discardSession{}, nil }

type discardSession struct{}

func (discardSession) Mail(string, *smtp.MailOptions) error { return nil }
func (discardSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (discardSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (discardSession) Reset()        {}
func (discardSession) Logout() error { return nil }

func newBenchSMTP(b *testing.B) string {
	srv := smtp.NewServer(discardBackend{})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ErrorLog = discardLogger{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// strictRelay is a minimal SMTP server that does not offer PIPELINING and
// refuses a command sent before the previous reply (RFC 2920 §3.2: a
// client must not pipeline with a server that did not offer it).
func strictRelay(t *testing.T) (addr string, got chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	got = make(chan string, 10)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tp := textproto.NewConn(c)
		reply := func(s string) { _ = tp.PrintfLine("%s", s) }
		reply("220 strict ESMTP")
		for {
			line, err := tp.ReadLine()
			if err != nil {
				return
			}
			if tp.R.Buffered() > 0 {
				reply("503 5.5.0 pipelining not offered")
				got <- "pipelined: " + line
				return
			}
			switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
			case "EHLO":
				reply("250-strict")
				reply("250-8BITMIME")
				reply("250 ENHANCEDSTATUSCODES")
			case "MAIL", "RCPT":
				reply("250 2.1.0 OK")
			case "DATA":
				reply("354 go ahead")
				b, err := tp.ReadDotBytes()
				if err != nil {
					return
				}
				got <- string(b)
				reply("250 2.0.0 queued as STRICT1")
			case "QUIT":
				reply("221 2.0.0 bye")
				return
			default:
				reply("502 5.5.2 unknown")
			}
		}
	}()
	return l.Addr().String(), got
}

func TestSendWithoutPipelining(t *testing.T) {
	t.Parallel()
	addr, got := strictRelay(t)
	email, err := NewEmail(EmailConfig{URL: "smtp://" + addr + "?tls=none", From: "Caf <ne-pas-repondre@caf.example.fr>", Connections: 1})
	require.NoError(t, err)
	t.Cleanup(func() { email.Close() })
	for i := range 2 {
		rcpt, err := email.Send(context.Background(), hostileMessage())
		require.NoError(t, err, "message %d", i)
		require.Equal(t, "250 2.0.0 queued as STRICT1", rcpt.RelayReply)
		data := <-got // ReadDotBytes undoes the dot-stuffing and makes CRLF LF
		p := parseMail(t, []byte(data))
		require.Contains(t, p.Parts["text/plain"], "\n.\n..deux points\n.début")
	}
}

// A relay that answers the pipelined MAIL with 421 and closes: the error is
// that 421 (transient), not the closed connection met reading the next
// replies.
func TestPipelined421ThenClose(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tp := textproto.NewConn(c)
		_ = tp.PrintfLine("220 busy ESMTP")
		for {
			line, err := tp.ReadLine()
			if err != nil {
				return
			}
			if strings.HasPrefix(strings.ToUpper(line), "EHLO") {
				_ = tp.PrintfLine("250-busy")
				_ = tp.PrintfLine("250-PIPELINING")
				_ = tp.PrintfLine("250 ENHANCEDSTATUSCODES")
				continue
			}
			_ = tp.PrintfLine("421 4.3.2 service shutting down")
			for tp.R.Buffered() > 0 { // the pipelined commands, read so that close sends no RST
				_, _ = tp.ReadLine()
			}
			return
		}
	}()
	email, err := NewEmail(EmailConfig{URL: "smtp://" + l.Addr().String() + "?tls=none", From: "ne-pas-repondre@caf.example.fr", Connections: 1})
	require.NoError(t, err)
	t.Cleanup(func() { email.Close() })
	_, err = email.Send(context.Background(), frenchMessage(1, 1, "a@example.org"))
	ce := Classify(err)
	require.Equal(t, Transient, ce.Class)
	require.Equal(t, "421", ce.Code)
	require.Contains(t, ce.Msg, "MAIL FROM")
	require.Contains(t, ce.Msg, "4.3.2")
}
