package channels

import (
	"bytes"
	"errors"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/courrier-dev/courrier/channels/bounce"
)

// The mail transaction is written here rather than by go-mail's
// SendWithSMTPClient, which sends MAIL, RCPT, DATA and RSET as four
// flushed commands each waiting for its reply and copies the message
// through textproto's byte-at-a-time dot writer: six round trips and about a
// hundred small writes per message. go-mail still builds the message
// (MIME, quoted-printable, headers), dials, says EHLO, does STARTTLS and
// AUTH. Here a transaction is two writes: MAIL, RCPT and DATA together when
// the relay offers PIPELINING (RFC 2920), then the whole dot-stuffed message
// with its final dot. No RSET: a completed transaction leaves the session
// ready for the next one (RFC 5321 §4.1.1.4).

// smtpTimeout bounds one transaction, as go-mail's default timeout did.
const smtpTimeout = 15 * time.Second

// smtpStage is the step of a transaction a reply answered.
type smtpStage int

const (
	stageMail smtpStage = iota
	stageRcpt
	stageData
	stageDataClose
	stageWrite
)

// reason is go-mail's name for the stage, kept so that errors read as before.
func (s smtpStage) reason() mail.SendErrReason {
	switch s {
	case stageMail:
		return mail.ErrSMTPMailFrom
	case stageRcpt:
		return mail.ErrSMTPRcptTo
	case stageData:
		return mail.ErrSMTPData
	case stageDataClose:
		return mail.ErrSMTPDataClose
	default:
		return mail.ErrWriteContent
	}
}

// smtpFailure is a failed transaction: the stage and the relay's reply
// (a *textproto.Error) or the network error.
type smtpFailure struct {
	stage smtpStage
	err   error
	// midData: the relay may be reading message data (it accepted DATA,
	// or the message was cut off), so it would not answer QUIT.
	midData bool
}

func (f *smtpFailure) Error() string { return f.stage.reason().String() + ": " + f.err.Error() }
func (f *smtpFailure) Unwrap() error { return f.err }

// smtpExt is what a connection's EHLO reply offers, read once per dial.
type smtpExt struct {
	pipelining, enhanced bool
	mailParams           string // " BODY=8BITMIME", " SMTPUTF8", as go-mail adds them
}

func readExt(c interface{ Extension(string) (bool, string) }) smtpExt {
	var x smtpExt
	x.pipelining, _ = c.Extension("PIPELINING")
	x.enhanced, _ = c.Extension("ENHANCEDSTATUSCODES")
	if ok, _ := c.Extension("8BITMIME"); ok {
		x.mailParams += " BODY=8BITMIME"
	}
	if ok, _ := c.Extension("SMTPUTF8"); ok {
		x.mailParams += " SMTPUTF8"
	}
	return x
}

// transact sends m over the slot's open connection and returns the relay's
// final reply to DATA. On error the connection must be hung up (see
// smtpFailure.midData for how).
func (s *smtpConn) transact(m *mimeMessage) (string, error) {
	from, err := m.GetSender(false)
	if err != nil {
		return "", &smtpFailure{stage: stageMail, err: err}
	}
	rcpts, err := m.GetRecipients()
	if err != nil {
		return "", &smtpFailure{stage: stageRcpt, err: err}
	}
	if strings.ContainsAny(from, "\r\n") {
		return "", &smtpFailure{stage: stageMail, err: errors.New("smtp: A line must not contain CR or LF")}
	}
	for _, a := range rcpts {
		if strings.ContainsAny(a, "\r\n") {
			return "", &smtpFailure{stage: stageRcpt, err: errors.New("smtp: A line must not contain CR or LF")}
		}
	}
	s.body.Reset()
	if err := m.writeTo(&s.body); err != nil {
		return "", &smtpFailure{stage: stageWrite, err: err}
	}
	s.wire = dotStuff(s.wire[:0], s.body.Bytes())

	if s.raw != nil {
		_ = s.raw.SetDeadline(time.Now().Add(smtpTimeout))
	}
	text := s.conn.Text
	w := text.W
	// Commands, then their replies in order (RFC 2920 §3.1): MAIL, each
	// RCPT, DATA. Without PIPELINING each command waits for its reply.
	type step struct {
		stage  smtpStage
		expect int
	}
	steps := make([]step, 0, len(rcpts)+2)
	cmds := make([]string, 0, len(rcpts)+2)
	cmds = append(cmds, "MAIL FROM:"+from+s.ext.mailParams)
	steps = append(steps, step{stageMail, 250})
	for _, r := range rcpts {
		cmds = append(cmds, "RCPT TO:"+r)
		steps = append(steps, step{stageRcpt, 25})
	}
	cmds = append(cmds, "DATA")
	steps = append(steps, step{stageData, 354})

	var first *smtpFailure
	if s.ext.pipelining {
		for _, c := range cmds {
			_, _ = w.WriteString(c)
			_, _ = w.WriteString("\r\n")
		}
		if err := w.Flush(); err != nil {
			return "", &smtpFailure{stage: stageMail, err: err}
		}
		for _, st := range steps {
			if _, _, err := text.ReadResponse(st.expect); err != nil {
				var tpe *textproto.Error
				if !errors.As(err, &tpe) {
					// The connection failed (a relay may close it after a
					// 421): the first reply refused is the cause.
					if first != nil {
						first.midData = true
						return "", first
					}
					return "", &smtpFailure{stage: st.stage, err: err, midData: true}
				}
				if first == nil {
					first = &smtpFailure{stage: st.stage, err: err}
				}
			} else if st.stage == stageData && first != nil {
				// DATA accepted despite an earlier failure: the relay now
				// reads a message, which is not sent.
				first.midData = true
			}
		}
		if first != nil {
			return "", first
		}
	} else {
		for i, c := range cmds {
			_, _ = w.WriteString(c)
			_, _ = w.WriteString("\r\n")
			if err := w.Flush(); err != nil {
				return "", &smtpFailure{stage: steps[i].stage, err: err}
			}
			if _, _, err := text.ReadResponse(steps[i].expect); err != nil {
				return "", &smtpFailure{stage: steps[i].stage, err: err}
			}
		}
	}

	if _, err := w.Write(s.wire); err != nil {
		return "", &smtpFailure{stage: stageDataClose, err: err, midData: true}
	}
	if err := w.Flush(); err != nil {
		return "", &smtpFailure{stage: stageDataClose, err: err, midData: true}
	}
	_, reply, err := text.ReadResponse(250)
	if err != nil {
		return "", &smtpFailure{stage: stageDataClose, err: err}
	}
	return reply, nil
}

// dotStuff appends msg to dst as the DATA of an SMTP transaction, followed
// by the terminating dot line: exactly what net/textproto's DotWriter
// writes (a leading dot doubled, a bare LF made CRLF, a final CRLF added if
// missing), but a line at a time instead of a byte at a time.
func dotStuff(dst, msg []byte) []byte {
	const (
		beginLine = iota // at the start of a line
		data             // inside a line
		cr               // just after a CR
	)
	if len(msg) == 0 {
		return append(dst, "\r\n.\r\n"...) // as DotWriter closes an empty message
	}
	state := beginLine
	for len(msg) > 0 {
		switch state {
		case beginLine:
			if msg[0] == '.' {
				dst = append(dst, '.')
			}
			state = data
		case cr:
			// The byte after a CR is written as is; only an LF ends the line.
			c := msg[0]
			dst = append(dst, c)
			msg = msg[1:]
			state = data
			if c == '\n' {
				state = beginLine
			}
			continue
		}
		// data: copy the line up to its LF. A CR inside it that is not the
		// CR of a CRLF switches to the byte-wise cr state.
		line := msg
		i := bytes.IndexByte(msg, '\n')
		if i >= 0 {
			line = msg[:i]
		}
		if j := bytes.IndexByte(line, '\r'); j >= 0 && !(i >= 0 && j == len(line)-1) {
			dst = append(dst, msg[:j+1]...)
			msg = msg[j+1:]
			state = cr
			continue
		}
		if i < 0 {
			dst = append(dst, msg...)
			break
		}
		dst = append(dst, line...)
		if len(line) == 0 || line[len(line)-1] != '\r' {
			dst = append(dst, '\r') // a bare LF becomes CRLF
		}
		dst = append(dst, '\n')
		msg = msg[i+1:]
		state = beginLine
	}
	switch state {
	case data:
		dst = append(dst, '\r', '\n')
	case cr:
		dst = append(dst, '\n')
	}
	return append(dst, ".\r\n"...)
}

var enhancedCodeRe = regexp.MustCompile(`\b([245])\.\d{1,3}\.\d{1,3}\b`)

// classifySMTP maps a failed transaction to a channel *Error: 4xx transient,
// 5xx permanent, and AddressRejected when bounce.Classify says hard for a
// reply to RCPT TO or DATA (550 5.1.1, or 550/551/553 without an enhanced
// code); anything without a reply code (network) is transient. The
// recipient address is redacted from the text, which ends up in logs.
func classifySMTP(err error, rcpt string, enhanced bool) *Error {
	redacted := &redactedError{text: redact(err.Error(), rcpt), err: err}
	var f *smtpFailure
	var tpe *textproto.Error
	if !errors.As(err, &f) || !errors.As(err, &tpe) {
		return &Error{Class: Transient, Msg: "SMTP send failed", Err: redacted}
	}
	code := tpe.Code
	ce := &Error{Class: Transient, Msg: f.stage.reason().String(), Err: redacted, Code: strconv.Itoa(code)}
	esc := ""
	if enhanced {
		esc = enhancedCodeRe.FindString(tpe.Msg)
	}
	if esc != "" {
		ce.Msg += " (" + esc + ")"
	}
	switch {
	case code >= 500 && code < 600:
		ce.Class = Permanent
		// The same table as asynchronous bounces: a 550 5.1.1 at RCPT or at
		// the end of DATA is a hard bounce; a 550 5.7.1 (policy) is not.
		switch f.stage {
		case stageRcpt, stageData, stageDataClose:
			class, _ := bounce.Classify(esc, code, "")
			ce.AddressRejected = class == bounce.Hard
		}
	case code >= 400 && code < 500:
		ce.Class = Transient
	}
	return ce
}
