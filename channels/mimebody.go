package channels

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"

	mail "github.com/wneessen/go-mail"
)

// mimeMessage is an email ready to be written: go-mail builds and writes the
// header fields (addresses, encoded words, Message-ID, Date,
// List-Unsubscribe); the body is written here. go-mail v0.8.1 copies each
// part through a fresh buffer and mime/quotedprintable's writer, which
// flushes every 76-byte line through an interface call: two thirds of the
// cost of building a message. The body written here is byte for byte what
// go-mail writes (TestMIMEBodyMatchesGoMail): multipart/alternative with a
// plain-text and an HTML part, or the plain-text part alone, each UTF-8
// quoted-printable.
type mimeMessage struct {
	*mail.Msg         // header fields only: no parts are added to it
	text, html string // the parts, not yet encoded
	boundary   string // set by tests; otherwise random per message
}

// WriteTo writes the whole message to b.
func (mm *mimeMessage) writeTo(b *bytes.Buffer) error {
	if _, err := mm.Msg.WriteTo(b); err != nil {
		return err
	}
	if mm.html == "" {
		writePartHeader(b, "text/plain")
		b.WriteString("\r\n")
		b.Write(appendQP(b.AvailableBuffer(), mm.text))
		return nil
	}
	boundary := mm.boundary
	if boundary == "" {
		boundary = randomBoundary()
	}
	b.WriteString("Content-Type: multipart/alternative;\r\n boundary=")
	b.WriteString(boundary)
	b.WriteString("\r\n\r\n")
	for i, part := range [2]struct{ ct, body string }{{"text/plain", mm.text}, {"text/html", mm.html}} {
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("--")
		b.WriteString(boundary)
		b.WriteString("\r\n")
		writePartHeader(b, part.ct)
		b.WriteString("\r\n")
		b.Grow(len(part.body) * 3 / 2)
		b.Write(appendQP(b.AvailableBuffer(), part.body))
	}
	b.WriteString("\r\n--")
	b.WriteString(boundary)
	b.WriteString("--\r\n")
	return nil
}

// writePartHeader writes a part's header fields as go-mail does (sorted by
// name, as textproto.MIMEHeader is by mime/multipart).
func writePartHeader(b *bytes.Buffer, contentType string) {
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\nContent-Type: ")
	b.WriteString(contentType)
	b.WriteString("; charset=UTF-8\r\n")
}

// randomBoundary is mime/multipart's: 30 random bytes in hex.
func randomBoundary() string {
	var buf [30]byte
	_, _ = rand.Read(buf[:])
	return hex.EncodeToString(buf[:])
}

// appendQP appends s encoded as mime/quotedprintable.Writer (Binary false)
// encodes it, byte for byte: lines of at most 76 characters with soft
// breaks, CR, LF and CRLF made CRLF, a space or tab before a line break or
// at the end encoded, '=' and bytes outside '!'..'~' (other than space and
// tab) encoded as =XX. TestAppendQPMatchesStdlib and FuzzAppendQP hold it to
// the standard library's output.
func appendQP(dst []byte, s string) []byte {
	const lineMax = 76
	var line [lineMax + 2]byte // as the writer's buffer
	n := 0                     // bytes in line
	cr := false                // the previous byte was a CR

	flush := func() {
		dst = append(dst, line[:n]...)
		n = 0
	}
	insertCRLF := func() {
		line[n], line[n+1] = '\r', '\n'
		n += 2
		flush()
	}
	softBreak := func() {
		line[n] = '='
		n++
		insertCRLF()
	}
	encode := func(b byte) {
		if lineMax-1-n < 3 {
			softBreak()
		}
		line[n], line[n+1], line[n+2] = '=', upperhex[b>>4], upperhex[b&0x0f]
		n += 3
	}
	checkLastByte := func() {
		if n > 0 && (line[n-1] == ' ' || line[n-1] == '\t') {
			n--
			encode(line[n])
		}
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= '!' && b <= '~' && b != '=', b == ' ', b == '\t':
			if n == lineMax-1 {
				softBreak()
			}
			line[n] = b
			n++
			cr = false
		case b == '\n' || b == '\r':
			if cr && b == '\n' {
				cr = false
				continue
			}
			cr = b == '\r'
			checkLastByte()
			insertCRLF()
		default:
			encode(b)
			// The writer leaves cr as it was after an encoded byte.
		}
	}
	checkLastByte()
	flush()
	return dst
}

const upperhex = "0123456789ABCDEF"
