package ledger

import (
	"regexp"
	"strings"
)

var (
	replyCodeRe    = regexp.MustCompile(`\b([245][0-9][0-9])[ "-]`)
	enhancedCodeRe = regexp.MustCompile(`\b[245]\.[0-9]{1,3}\.[0-9]{1,3}\b`)
	emailRe        = regexp.MustCompile(`[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+`)
	secretLineRe   = regexp.MustCompile(`(?i)\b(auth|authenticate|password|passwd|login|token|secret|bearer)\b`)
	base64TokenRe  = regexp.MustCompile(`[A-Za-z0-9+/_-]{16,}={0,2}`)
	numberRe       = regexp.MustCompile(`\+?[0-9](?:[0-9 .()-]{2,}[0-9])`)
	spaceRe        = regexp.MustCompile(`\s+`)
	maxReducedText = 200
)

// ReduceReply reduces a provider's reply (an SMTP server's answer, an API
// error) to what may be sealed for ever: its status code and enhanced status
// code, and its text with every line that mentions authentication or a
// secret dropped, and addresses, tokens and numbers replaced by
// placeholders, cut to 200 bytes.
//
// An SMTP server that quotes the client's AUTH line back ("535 5.7.8 AUTH
// PLAIN AGNsYWlyZQBzZWNyZXQ= rejected") thus leaves "535 5.7.8" and nothing
// of the credentials.
func ReduceReply(reply string) string {
	if !needsScrub(reply) {
		return reply
	}
	// The status code and enhanced code stay where they are; the rest is
	// scrubbed around them.
	const codeMark, enhancedMark = "\x00c\x00", "\x00e\x00"
	var code, enhanced string
	text := reply
	if m := replyCodeRe.FindStringSubmatchIndex(text); m != nil {
		code = text[m[2]:m[3]]
		text = text[:m[2]] + codeMark + text[m[3]:]
	}
	if m := enhancedCodeRe.FindStringIndex(text); m != nil {
		enhanced = text[m[0]:m[1]]
		text = text[:m[0]] + enhancedMark + text[m[1]:]
	}
	text = Scrub(text)
	text = strings.Replace(text, codeMark, code, 1)
	text = strings.Replace(text, enhancedMark, enhanced, 1)
	// Codes the scrub removed (they followed a secret) are put back in front.
	if enhanced != "" && !strings.Contains(text, enhanced) {
		text = enhanced + " " + text
	}
	if code != "" && !strings.Contains(text, code) {
		text = code + " " + text
	}
	return strings.TrimSpace(spaceRe.ReplaceAllString(text, " "))
}

// Scrub removes from free text what must never be sealed: each line from
// the first word that names authentication or a secret onwards, email
// addresses, long tokens (base64 credentials, keys) and numbers of three digits or more (phone numbers,
// account numbers). Short texts made of words only are returned unchanged.
func Scrub(s string) string {
	if !needsScrub(s) {
		return s
	}
	var kept []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if loc := secretLineRe.FindStringIndex(line); loc != nil {
			// Keep what comes before the secret's keyword (one-line errors
			// carry the whole reply on one line).
			kept = append(kept, line[:loc[0]]+"[removed]")
			continue
		}
		kept = append(kept, line)
	}
	out := strings.Join(kept, " ")
	out = emailRe.ReplaceAllString(out, "[address]")
	out = base64TokenRe.ReplaceAllStringFunc(out, func(tok string) string {
		if strings.IndexFunc(tok, func(r rune) bool { return r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=' }) < 0 {
			return tok // a long word, not a token
		}
		return "[token]"
	})
	out = numberRe.ReplaceAllStringFunc(out, func(n string) string {
		digits := 0
		for _, r := range n {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits < 3 {
			return n
		}
		return "[number]"
	})
	out = strings.TrimSpace(spaceRe.ReplaceAllString(out, " "))
	if len(out) > maxReducedText {
		out = strings.ToValidUTF8(out[:maxReducedText], "") + "…"
	}
	return out
}

// needsScrub is a fast check for the common event texts ("attempt 1 via
// smtp") that hold nothing to remove.
func needsScrub(s string) bool {
	if len(s) > 48 {
		return true
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '@' || c == '\n' || c == '\r' || c == '=':
			return true
		case c >= '0' && c <= '9':
			digits++
			if digits >= 3 {
				return true
			}
		default:
			digits = 0
		}
	}
	return secretLineRe.MatchString(s)
}
