package channels

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels/bounce"
)

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw     string
		want    SMTPSettings
		wantErr string
	}{
		{raw: "smtp://user:p%40ss@mail.example.fr", want: SMTPSettings{Host: "mail.example.fr", Port: 587, Security: SMTPStartTLS, Username: "user", Password: "p@ss"}},
		{raw: "smtp://user:pass@mail.example.fr:2525", want: SMTPSettings{Host: "mail.example.fr", Port: 2525, Security: SMTPStartTLS, Username: "user", Password: "pass"}},
		{raw: "smtps://user:pass@mail.example.fr", want: SMTPSettings{Host: "mail.example.fr", Port: 465, Security: SMTPImplicitTLS, Username: "user", Password: "pass"}},
		{raw: "smtp://relay?tls=none", want: SMTPSettings{Host: "relay", Port: 25, Security: SMTPNoTLS}},
		{raw: "smtp://127.0.0.1:2525?tls=none", want: SMTPSettings{Host: "127.0.0.1", Port: 2525, Security: SMTPNoTLS}},
		{raw: "", wantErr: "SMTP_URL is empty"},
		{raw: "http://mail.example.fr", wantErr: `scheme "http" is not supported`},
		{raw: "smtp://", wantErr: "has no host"},
		{raw: "smtp:mail.example.fr", wantErr: "has no host"},
		{raw: "smtp://mail.example.fr:99999", wantErr: `port "99999" is not a valid port`},
		{raw: "smtp://mail.example.fr/x", wantErr: "must not have a path"},
		{raw: "smtp://mail.example.fr?tls=maybe", wantErr: `tls="maybe" is not supported`},
		{raw: "smtp://mail.example.fr?foo=1", wantErr: `query parameter "foo" is not supported`},
		{raw: "smtps://mail.example.fr?tls=none", wantErr: "contradicts smtps://"},
		{raw: "smtp://:secret@mail.example.fr", wantErr: "without a user name"},
		{raw: "smtp://user:se cret@%zz", wantErr: "not a valid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSMTPURL(tt.raw)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "secret", "errors must not reveal the password")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestNewEmailValidation(t *testing.T) {
	t.Parallel()
	_, err := NewEmail(EmailConfig{URL: "smtp://relay?tls=none"})
	require.ErrorContains(t, err, "SMTP_FROM is required")
	_, err = NewEmail(EmailConfig{URL: "smtp://relay?tls=none", From: "not an address"})
	require.ErrorContains(t, err, "SMTP_FROM")
	_, err = NewEmail(EmailConfig{URL: "smtp://relay?tls=none", From: "a@caf.fr", ReplyTo: "nope"})
	require.ErrorContains(t, err, "SMTP_REPLY_TO")
}

type emailBundle struct {
	srv   *testSMTP
	email *SMTP
}

func setupEmail(t *testing.T, conns int) emailBundle {
	t.Helper()
	srv, _ := newTestSMTP(t, testSMTPOpts{})
	email, err := NewEmail(EmailConfig{
		URL:         "smtp://127.0.0.1:" + srv.port + "?tls=none",
		From:        "Caf de Paris <ne-pas-repondre@caf.example.fr>",
		ReplyTo:     "Service allocataires <contact@caf.example.fr>",
		Connections: conns,
	})
	require.NoError(t, err)
	t.Cleanup(func() { email.Close() })
	return emailBundle{srv: srv, email: email}
}

func frenchMessage(noticeID, deliveryID int64, to string) Message {
	return Message{
		NoticeID:   noticeID,
		DeliveryID: deliveryID,
		Kind:       "rights_changed",
		Channel:    Email,
		To:         to,
		ToName:     "Hélène Dupré",
		Subject:    "Allocations familiales : vos droits évoluent",
		Text:       "Bonjour,\nAllocations familiales : vos droits évoluent. Montant déjà reçu, ça change.\n",
		HTML:       "<p>Allocations familiales : vos droits évoluent. Montant <strong>déjà reçu</strong>, ça change.</p>",
	}
}

// parsedMail is a received message parsed back with net/mail and mime/multipart.
type parsedMail struct {
	Header mail.Header
	Parts  map[string]string // content type → decoded body
}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	out := parsedMail{Header: m.Header, Parts: map[string]string{}}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		ct, ctParams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		require.NoError(t, err)
		require.Equal(t, "utf-8", strings.ToLower(ctParams["charset"]))
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		out.Parts[ct] = string(b)
	}
	return out
}

func TestEmailSendMIME(t *testing.T) {
	t.Parallel()
	b := setupEmail(t, 1)
	ctx := context.Background()

	rcpt, err := b.email.Send(ctx, frenchMessage(12, 34, "helene@example.org"))
	require.NoError(t, err)
	require.Equal(t, Receipt{Provider: "smtp", MessageID: "<n12.d34@caf.example.fr>", Delivered: true,
		Evidence: "smtp_accepted: 250 2.0.0 OK: queued", RelayReply: "250 2.0.0 OK: queued"}, rcpt)

	msg := frenchMessage(13, 35, "helene@example.org")
	msg.UnsubscribeURL = "https://courrier.example.fr/unsubscribe/tok"
	_, err = b.email.Send(ctx, msg)
	require.NoError(t, err)

	got := b.srv.Messages()
	require.Len(t, got, 2)
	require.Equal(t, "ne-pas-repondre@caf.example.fr", got[0].From)
	require.Equal(t, []string{"helene@example.org"}, got[0].To)

	dec := new(mime.WordDecoder)
	for i, m := range got {
		p := parseMail(t, m.Data)
		subject, err := dec.DecodeHeader(p.Header.Get("Subject"))
		require.NoError(t, err)
		require.Equal(t, "Allocations familiales : vos droits évoluent", subject)
		require.Equal(t, "fr", p.Header.Get("Content-Language"))
		require.Equal(t, fmt.Sprintf("<n%d.d%d@caf.example.fr>", 12+i, 34+i), p.Header.Get("Message-ID"))

		from, err := p.Header.AddressList("From")
		require.NoError(t, err)
		require.Equal(t, []*mail.Address{{Name: "Caf de Paris", Address: "ne-pas-repondre@caf.example.fr"}}, from)
		replyTo, err := p.Header.AddressList("Reply-To")
		require.NoError(t, err)
		require.Equal(t, []*mail.Address{{Name: "Service allocataires", Address: "contact@caf.example.fr"}}, replyTo)
		to, err := p.Header.AddressList("To")
		require.NoError(t, err)
		require.Equal(t, []*mail.Address{{Name: "Hélène Dupré", Address: "helene@example.org"}}, to)

		require.Contains(t, p.Parts["text/plain"], "Allocations familiales : vos droits évoluent. Montant déjà reçu, ça change.")
		require.Contains(t, p.Parts["text/html"], "<strong>déjà reçu</strong>, ça change.")
	}

	first := parseMail(t, got[0].Data)
	require.Empty(t, first.Header.Get("List-Unsubscribe"), "legal notices carry no List-Unsubscribe")
	require.Empty(t, first.Header.Get("List-Unsubscribe-Post"))
	second := parseMail(t, got[1].Data)
	require.Equal(t, "<https://courrier.example.fr/unsubscribe/tok>", second.Header.Get("List-Unsubscribe"))
	require.Equal(t, "List-Unsubscribe=One-Click", second.Header.Get("List-Unsubscribe-Post"))
}

func TestEmailInvalidMessage(t *testing.T) {
	t.Parallel()
	b := setupEmail(t, 1)
	ctx := context.Background()

	msg := frenchMessage(1, 1, "")
	_, err := b.email.Send(ctx, msg)
	require.Equal(t, Permanent, Classify(err).Class)

	msg = frenchMessage(1, 2, "pas une adresse")
	_, err = b.email.Send(ctx, msg)
	ce := Classify(err)
	require.Equal(t, Permanent, ce.Class)
	require.True(t, ce.AddressRejected)
	require.NotContains(t, err.Error(), "pas une adresse")

	msg = frenchMessage(1, 3, "a@example.org")
	msg.UnsubscribeURL = "http://insecure.example.fr/u"
	_, err = b.email.Send(ctx, msg)
	require.ErrorContains(t, err, "https")
	require.Empty(t, b.srv.Messages())
}

func TestEmailReplyClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code            int
		esc             smtp.EnhancedCode
		class           Class
		addressRejected bool
	}{
		{421, smtp.EnhancedCode{4, 3, 0}, Transient, false},
		{450, smtp.EnhancedCode{4, 2, 0}, Transient, false},
		{451, smtp.EnhancedCode{4, 3, 0}, Transient, false},
		{452, smtp.EnhancedCode{4, 2, 2}, Transient, false},
		{550, smtp.EnhancedCode{5, 1, 1}, Permanent, true},
		{551, smtp.EnhancedCode{5, 1, 6}, Permanent, true},
		{552, smtp.EnhancedCode{5, 2, 2}, Permanent, false},
		{553, smtp.EnhancedCode{5, 1, 3}, Permanent, true},
		{554, smtp.EnhancedCode{5, 7, 1}, Permanent, false},
		// The bounce table decides, not the basic code alone: a policy
		// rejection is not a bad address.
		{550, smtp.EnhancedCode{5, 7, 1}, Permanent, false},
	}
	b := setupEmail(t, 2)
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code, tt.esc), func(t *testing.T) {
			t.Parallel()
			to := fmt.Sprintf("rcpt%d.%d%d%d@example.org", tt.code, tt.esc[0], tt.esc[1], tt.esc[2])
			b.srv.Reject(to, &smtp.SMTPError{Code: tt.code, EnhancedCode: tt.esc, Message: "scripted reply for " + to})
			_, err := b.email.Send(context.Background(), frenchMessage(1, int64(tt.code*10+tt.esc[1]), to))
			require.Error(t, err)
			ce := Classify(err)
			require.Equal(t, tt.class, ce.Class)
			require.Equal(t, fmt.Sprint(tt.code), ce.Code)
			require.Equal(t, tt.addressRejected, ce.AddressRejected)
			require.NotContains(t, err.Error(), to, "errors must not carry the address")
		})
	}
}

func TestEmail421ThenRetrySucceeds(t *testing.T) {
	t.Parallel()
	b := setupEmail(t, 1)
	ctx := context.Background()
	b.srv.RejectOnce("retry@example.org", &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"})

	msg := frenchMessage(7, 8, "retry@example.org")
	_, err := b.email.Send(ctx, msg)
	ce := Classify(err)
	require.Equal(t, Transient, ce.Class)
	require.Equal(t, "421", ce.Code)
	require.Empty(t, b.srv.Messages())

	rcpt, err := b.email.Send(ctx, msg)
	require.NoError(t, err)
	require.Equal(t, "<n7.d8@caf.example.fr>", rcpt.MessageID)
	require.Len(t, b.srv.Messages(), 1)
	require.Equal(t, 2, b.srv.Conns(), "the connection is re-dialled after an error")
}

func TestEmailPoolReusesConnections(t *testing.T) {
	t.Parallel()
	b := setupEmail(t, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			_, err := b.email.Send(context.Background(), frenchMessage(int64(i), int64(i), fmt.Sprintf("r%d@example.org", i)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, b.srv.Messages(), 100)
	require.LessOrEqual(t, b.srv.Conns(), 2, "100 messages over a pool of 2 use at most 2 connections")
}

func TestEmailIdleConnectionIsRedialled(t *testing.T) {
	t.Parallel()
	b := setupEmail(t, 1)
	now := time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC)
	b.email.now = func() time.Time { return now }
	ctx := context.Background()

	_, err := b.email.Send(ctx, frenchMessage(1, 1, "a@example.org"))
	require.NoError(t, err)
	_, err = b.email.Send(ctx, frenchMessage(1, 2, "a@example.org"))
	require.NoError(t, err)
	require.Equal(t, 1, b.srv.Conns())

	now = now.Add(31 * time.Second) // past the 30s default
	_, err = b.email.Send(ctx, frenchMessage(1, 3, "a@example.org"))
	require.NoError(t, err)
	require.Equal(t, 2, b.srv.Conns())
}

func TestEmailSTARTTLSRequired(t *testing.T) {
	t.Parallel()
	srv, _ := newTestSMTP(t, testSMTPOpts{}) // no STARTTLS offered
	email, err := NewEmail(EmailConfig{URL: "smtp://127.0.0.1:" + srv.port, From: "a@caf.example.fr"})
	require.NoError(t, err)
	t.Cleanup(func() { email.Close() })

	_, err = email.Send(context.Background(), frenchMessage(1, 1, "a@example.org"))
	ce := Classify(err)
	require.Equal(t, Transient, ce.Class)
	require.Equal(t, "starttls_required", ce.Code)
	require.ErrorContains(t, err, "does not offer STARTTLS, which smtp:// requires")
	require.Empty(t, srv.Messages())
}

func TestEmailSTARTTLSWithAuth(t *testing.T) {
	t.Parallel()
	srv, clientTLS := newTestSMTP(t, testSMTPOpts{TLS: true, User: "courrier", Pass: "s3cr3t"})
	email, err := NewEmail(EmailConfig{
		URL:       "smtp://courrier:s3cr3t@127.0.0.1:" + srv.port,
		From:      "ne-pas-repondre@caf.example.fr",
		TLSConfig: clientTLS,
	})
	require.NoError(t, err)
	t.Cleanup(func() { email.Close() })

	for i := range 3 {
		_, err = email.Send(context.Background(), frenchMessage(1, int64(i), "a@example.org"))
		require.NoError(t, err)
	}
	require.Len(t, srv.Messages(), 3)
	srv.mu.Lock()
	require.Equal(t, 1, srv.authOK, "one AUTH per connection")
	srv.mu.Unlock()

	bad, err := NewEmail(EmailConfig{
		URL:       "smtp://courrier:wrong@127.0.0.1:" + srv.port,
		From:      "ne-pas-repondre@caf.example.fr",
		TLSConfig: clientTLS,
	})
	require.NoError(t, err)
	t.Cleanup(func() { bad.Close() })
	_, err = bad.Send(context.Background(), frenchMessage(1, 9, "a@example.org"))
	ce := Classify(err)
	require.Equal(t, Transient, ce.Class)
	require.Equal(t, "auth_failed", ce.Code)
	require.NotContains(t, err.Error(), "wrong")
	require.Len(t, srv.Messages(), 3)
}

func TestEmailImplicitTLS(t *testing.T) {
	t.Parallel()
	srv, clientTLS := newTestSMTP(t, testSMTPOpts{ImplicitTL: true, User: "courrier", Pass: "s3cr3t"})
	email, err := NewEmail(EmailConfig{
		URL:       "smtps://courrier:s3cr3t@127.0.0.1:" + srv.port,
		From:      "ne-pas-repondre@caf.example.fr",
		TLSConfig: clientTLS,
	})
	require.NoError(t, err)
	t.Cleanup(func() { email.Close() })
	_, err = email.Send(context.Background(), frenchMessage(1, 1, "a@example.org"))
	require.NoError(t, err)
	require.Len(t, srv.Messages(), 1)
}

func TestEmailNetworkErrorIsTransient(t *testing.T) {
	t.Parallel()
	srv, _ := newTestSMTP(t, testSMTPOpts{})
	port := srv.port
	email, err := NewEmail(EmailConfig{URL: "smtp://127.0.0.1:1?tls=none", From: "a@caf.example.fr"})
	require.NoError(t, err)
	t.Cleanup(func() { email.Close() })
	_, err = email.Send(context.Background(), frenchMessage(1, 1, "a@example.org"))
	ce := Classify(err)
	require.Equal(t, Transient, ce.Class)
	require.Equal(t, "connect", ce.Code)
	require.NotEmpty(t, port)
}

func TestEmailHonoursContext(t *testing.T) {
	t.Parallel()
	b := setupEmail(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.email.Send(ctx, frenchMessage(1, 1, "a@example.org"))
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, Transient, Classify(err).Class)
	require.Empty(t, b.srv.Messages())

	// Closed channel: sends fail, nothing hangs.
	require.NoError(t, b.email.Close())
	_, err = b.email.Send(context.Background(), frenchMessage(1, 2, "a@example.org"))
	require.ErrorContains(t, err, "closed")
}

func TestEmailReturnPathAndDataRejection(t *testing.T) {
	t.Parallel()
	srv, _ := newTestSMTP(t, testSMTPOpts{})
	verp, err := bounce.NewVERP("bounces", "bounce.caf.example", []byte("a test key of 16+ bytes"))
	require.NoError(t, err)
	email, err := NewEmail(EmailConfig{
		URL: "smtp://127.0.0.1:" + srv.port + "?tls=none", From: "Caf <ne-pas-repondre@caf.example.fr>",
		ReturnPath: verp.Address,
	})
	require.NoError(t, err)
	t.Cleanup(func() { email.Close() })

	_, err = email.Send(context.Background(), frenchMessage(1, 77, "ok@example.org"))
	require.NoError(t, err)
	got := srv.Messages()
	require.Len(t, got, 1)
	id, err := verp.Parse(got[0].From)
	require.NoError(t, err, "the envelope sender is the delivery's VERP address")
	require.EqualValues(t, 77, id)

	// listmonk #2623: a 550 5.1.1 after DATA is a hard bounce too.
	srv.RejectAtData("late@example.org", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	_, err = email.Send(context.Background(), frenchMessage(1, 78, "late@example.org"))
	ce := Classify(err)
	require.Equal(t, Permanent, ce.Class)
	require.True(t, ce.AddressRejected)
}

func TestRelayReply(t *testing.T) {
	t.Parallel()
	require.Equal(t, "250 2.0.0 Ok: queued as 4Xyz", RelayReply("2.0.0 Ok: queued as 4Xyz"))
	require.Equal(t, "250 2.0.0 Ok <address> queued as 1", RelayReply("2.0.0 Ok <jean@example.org> queued as 1\nmore"))
	require.Empty(t, RelayReply(""))
}
