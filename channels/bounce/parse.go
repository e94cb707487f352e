package bounce

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
)

// Type is what a parsed message is.
type Type string

// The types of message.
const (
	// TypeBounce: a permanent failure to deliver (DSN Action: failed, or a
	// non-standard bounce).
	TypeBounce Type = "bounce"
	// TypeComplaint: an abuse report (ARF) about one of our messages.
	TypeComplaint Type = "complaint"
	// TypeIgnored: nothing to act on (auto-reply, delayed or success DSN,
	// ordinary mail). Why says which.
	TypeIgnored Type = "ignored"
)

// Report is what a bounce, complaint or other message in a bounce mailbox says.
type Report struct {
	Type   Type
	Format string // dsn, arf, heuristic; "" when ignored early
	Why    string // why it is ignored
	// Recipients are the failed recipients of a DSN (Action: failed), or the
	// one failure of a non-standard bounce.
	Recipients   []Recipient
	FeedbackType string // ARF: abuse, fraud, virus, other…
	// ReturnPaths are the addresses that may be our VERP return path:
	// where the report was sent (Delivered-To, X-Original-To, To) and the
	// Return-Path of the original message it quotes (ARF).
	ReturnPaths []string
}

// Recipient is one recipient of a DSN.
type Recipient struct {
	Action     string // failed, delayed, delivered, relayed, expanded
	Status     string // enhanced status code, e.g. 5.1.1
	Code       int    // SMTP reply code from the diagnostic, e.g. 550
	Diagnostic string // reduced: addresses replaced, at most 200 bytes
	Class      Class
	Rule       Rule
}

// Class is the report's class: hard when any recipient failed hard.
func (r *Report) Class() Class {
	if len(r.Recipients) == 0 {
		return ""
	}
	for _, rc := range r.Recipients {
		if rc.Class == Hard {
			return Hard
		}
	}
	return Soft
}

// ErrNotMail is returned for input that is not an RFC 5322 message.
var ErrNotMail = errors.New("not an email message")

const maxDepth = 5

// Parse parses raw, a whole message as received, into a Report. Only input
// that is not a message at all is an error: anything else, however odd, is
// a Report (ignored when nothing in it can be acted on).
func Parse(raw []byte) (*Report, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotMail, err)
	}
	r := &Report{}
	for _, h := range []string{"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To"} {
		for _, v := range m.Header[h] {
			r.ReturnPaths = append(r.ReturnPaths, addresses(v)...)
		}
	}
	body := decode(m.Header.Get("Content-Transfer-Encoding"), m.Body)
	mt, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if found := r.walk(mt, params, body, 0); found {
		return r, nil
	}
	// No multipart/report: an auto-reply, ordinary mail, or a bounce in a
	// non-standard shape (qmail, old Exim, some French providers).
	if isAutoReply(m.Header) {
		r.Type, r.Why = TypeIgnored, "auto-reply"
		return r, nil
	}
	if !looksLikeBounce(m.Header) {
		r.Type, r.Why = TypeIgnored, "not a bounce"
		return r, nil
	}
	text := firstText(mt, params, decode(m.Header.Get("Content-Transfer-Encoding"), bytes.NewReader(raw[bodyOffset(raw):])), 0)
	c, rule := Classify("", 0, text)
	rc := Recipient{Action: "failed", Diagnostic: reduce(firstDiagnosticLine(text)), Class: c, Rule: rule}
	rc.Status = enhancedRe.FindString(text)
	if m := smtpCodeRe.FindStringSubmatch(text); m != nil {
		rc.Code, _ = strconv.Atoi(m[1])
	}
	r.Type, r.Format, r.Recipients = TypeBounce, "heuristic", []Recipient{rc}
	return r, nil
}

// walk looks for a multipart/report in the entity and fills r from it.
func (r *Report) walk(mt string, params map[string]string, body io.Reader, depth int) bool {
	if depth > maxDepth || !strings.HasPrefix(mt, "multipart/") {
		return false
	}
	mr := multipart.NewReader(body, params["boundary"])
	isReport := mt == "multipart/report"
	reportType := strings.ToLower(params["report-type"])
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			break
		}
		pmt, pparams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		pbody := decode(p.Header.Get("Content-Transfer-Encoding"), p)
		switch {
		case isReport && (pmt == "message/delivery-status" || pmt == "message/global-delivery-status"):
			r.Format = "dsn"
			r.parseDSN(pbody)
		case isReport && pmt == "message/feedback-report":
			r.Format = "arf"
			fields, _ := readFields(bufio.NewReader(pbody))
			if len(fields) > 0 {
				r.FeedbackType = strings.ToLower(strings.TrimSpace(fields[0].Get("Feedback-Type")))
			}
		case isReport && (pmt == "message/rfc822" || pmt == "text/rfc822-headers" || pmt == "message/global" || pmt == "message/global-headers"):
			if h, err := textproto.NewReader(bufio.NewReader(pbody)).ReadMIMEHeader(); err == nil || len(h) > 0 {
				for _, v := range h["Return-Path"] {
					r.ReturnPaths = append(r.ReturnPaths, addresses(v)...)
				}
			}
		case strings.HasPrefix(pmt, "multipart/"):
			if r.walk(pmt, pparams, pbody, depth+1) {
				return true
			}
		}
	}
	if !isReport {
		return false
	}
	switch {
	case reportType == "feedback-report" || r.Format == "arf":
		r.Type, r.Format = TypeComplaint, "arf"
		if r.FeedbackType == "" {
			r.FeedbackType = "abuse"
		}
	case r.Format == "dsn" && len(r.Recipients) > 0:
		r.Type = TypeBounce
	case r.Format == "dsn":
		r.Type = TypeIgnored
		if r.Why == "" {
			r.Why = "no failed recipient"
		}
	default:
		return false
	}
	return true
}

// parseDSN reads the per-message and per-recipient fields of RFC 3464 §2.
// Only failed recipients are kept; a DSN with only delayed ones is ignored.
func (r *Report) parseDSN(body io.Reader) {
	blocks, _ := readFields(bufio.NewReader(body))
	var delayed, other int
	for i, b := range blocks {
		if i == 0 && b.Get("Final-Recipient") == "" && b.Get("Action") == "" {
			continue // per-message fields
		}
		action := strings.ToLower(strings.TrimSpace(b.Get("Action")))
		switch action {
		case "failed":
		case "delayed":
			delayed++
			continue
		default:
			other++
			continue
		}
		status := strings.TrimSpace(b.Get("Status"))
		diag := unwrapType(b.Get("Diagnostic-Code"))
		rc := Recipient{Action: action, Status: enhancedRe.FindString(status), Diagnostic: reduce(diag)}
		if m := smtpCodeRe.FindStringSubmatch(" " + diag); m != nil {
			rc.Code, _ = strconv.Atoi(m[1])
		}
		rc.Class, rc.Rule = Classify(rc.Status, rc.Code, diag)
		r.Recipients = append(r.Recipients, rc)
	}
	if len(r.Recipients) == 0 {
		switch {
		case delayed > 0:
			r.Why = "delayed"
		case other > 0:
			r.Why = "no failed recipient"
		}
	}
}

// readFields reads blocks of header fields separated by blank lines.
func readFields(br *bufio.Reader) ([]textproto.MIMEHeader, error) {
	var out []textproto.MIMEHeader
	tr := textproto.NewReader(br)
	for range 1000 {
		// Skip blank lines between blocks.
		for {
			b, err := br.Peek(1)
			if err != nil {
				return out, nil
			}
			if b[0] != '\r' && b[0] != '\n' {
				break
			}
			_, _ = br.ReadByte()
		}
		h, err := tr.ReadMIMEHeader()
		if len(h) > 0 {
			out = append(out, h)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// unwrapType drops the type of a typed DSN field: "smtp; 550 …" → "550 …".
func unwrapType(v string) string {
	if _, rest, ok := strings.Cut(v, ";"); ok {
		return strings.TrimSpace(rest)
	}
	return strings.TrimSpace(v)
}

var emailRe = regexp.MustCompile(`<?[^\s<>"';:,()\[\]]+@[^\s<>"';:,()\[\]]+>?`)

// reduce removes addresses from a diagnostic and bounds its length: it is
// written to the ledger, which must hold no personal data.
func reduce(s string) string {
	s = strings.Join(strings.Fields(emailRe.ReplaceAllString(s, "<address>")), " ")
	if len(s) > 200 {
		s = s[:200]
		for !utf8Valid(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\x00") == s }

func addresses(v string) []string {
	if list, err := mail.ParseAddressList(v); err == nil {
		out := make([]string, 0, len(list))
		for _, a := range list {
			out = append(out, a.Address)
		}
		return out
	}
	v = strings.Trim(strings.TrimSpace(v), "<>")
	if strings.Contains(v, "@") {
		return []string{v}
	}
	return nil
}

func decode(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &crlfStripper{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// crlfStripper drops line breaks, which encoding/base64 does not skip in a stream.
type crlfStripper struct{ r io.Reader }

func (c *crlfStripper) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' && b != ' ' {
			p[j] = b
			j++
		}
	}
	return j, err
}

// bodyOffset is where the body of raw starts (after the first blank line).
func bodyOffset(raw []byte) int {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return i + 2
	}
	return len(raw)
}

// firstText returns up to 64 KiB of the first text/plain part of an entity.
func firstText(mt string, params map[string]string, body io.Reader, depth int) string {
	if strings.HasPrefix(mt, "multipart/") && depth <= maxDepth {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return ""
			}
			pmt, pparams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if pmt == "" {
				pmt = "text/plain"
			}
			if t := firstText(pmt, pparams, decode(p.Header.Get("Content-Transfer-Encoding"), p), depth+1); t != "" {
				return t
			}
		}
	}
	if mt != "" && mt != "text/plain" {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	return string(b)
}

// firstDiagnosticLine is the first line of text carrying a code or a keyword.
func firstDiagnosticLine(text string) string {
	for line := range strings.Lines(text) {
		if enhancedRe.MatchString(line) || smtpCodeRe.MatchString(line) {
			return line
		}
	}
	lower := strings.ToLower(text)
	for _, k := range keywords {
		if i := strings.Index(lower, k.word); i >= 0 {
			return k.word
		}
	}
	return ""
}

func isAutoReply(h mail.Header) bool {
	as := strings.ToLower(h.Get("Auto-Submitted"))
	if strings.HasPrefix(as, "auto-replied") || h.Get("X-Autoreply") != "" || h.Get("X-Autorespond") != "" {
		return true
	}
	switch strings.ToLower(h.Get("Precedence")) {
	case "auto_reply":
		return true
	}
	subject := strings.ToLower(decodeHeader(h.Get("Subject")))
	for _, s := range []string{"out of office", "absence", "réponse automatique", "automatic reply", "auto:"} {
		if strings.Contains(subject, s) {
			return true
		}
	}
	return false
}

func looksLikeBounce(h mail.Header) bool {
	from := strings.ToLower(h.Get("From"))
	if strings.Contains(from, "mailer-daemon") || strings.Contains(from, "postmaster") {
		return true
	}
	subject := strings.ToLower(decodeHeader(h.Get("Subject")))
	for _, s := range []string{"undeliver", "delivery status", "delivery failure", "failure notice", "returned mail",
		"non remis", "non distribu", "échec", "echec de", "mail delivery failed"} {
		if strings.Contains(subject, s) {
			return true
		}
	}
	return false
}

var wordDecoder = mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	return input, nil // ISO-8859-1 and friends: good enough for keyword matching
}}

func decodeHeader(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// Summary describes r on a few lines, as `courrier bounce check` prints it.
func (r *Report) Summary() string {
	var sb strings.Builder
	sb.WriteString(string(r.Type))
	if r.Format != "" {
		sb.WriteString(" format=" + r.Format)
	}
	if r.Why != "" {
		sb.WriteString(" why=" + r.Why)
	}
	if c := r.Class(); c != "" {
		sb.WriteString(" class=" + string(c))
	}
	if r.FeedbackType != "" {
		sb.WriteString(" feedback=" + r.FeedbackType)
	}
	for _, rc := range r.Recipients {
		fmt.Fprintf(&sb, "\n  recipient action=%s status=%s code=%d class=%s rule=%q", rc.Action, rc.Status, rc.Code, rc.Class, rc.Rule)
		if rc.Diagnostic != "" {
			fmt.Fprintf(&sb, " diagnostic=%q", rc.Diagnostic)
		}
	}
	return sb.String()
}
