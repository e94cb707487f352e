package bounce

import (
	"regexp"
	"strconv"
	"strings"
)

// Class is what a failure says about the address.
type Class string

// The classes.
const (
	// Hard: the address will never work (unknown mailbox, domain gone).
	Hard Class = "hard"
	// Soft: it may work later (mailbox full, greylisting, policy block).
	Soft Class = "soft"
)

// Rule says why a failure got its class, for the ledger and `courrier
// bounce check`: "status 5.1.1", "smtp 550", "keyword user unknown",
// "default".
type Rule string

var (
	enhancedRe = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)
	smtpCodeRe = regexp.MustCompile(`(?:^|[^\d.])([45]\d\d)(?:[ -]|$)`)
)

// enhanced classifies an RFC 3463 enhanced status code: the subject (first
// number after the class) and the detail decide. 4.x.x is always soft; among
// 5.x.x only address and destination failures are hard.
func enhanced(code string) (Class, bool) {
	m := enhancedRe.FindStringSubmatch(code)
	if m == nil {
		return "", false
	}
	if m[1] != "5" {
		return Soft, true
	}
	if m[2] == "0" && m[3] == "0" { // 5.0.0 says nothing: let the reply code or text decide
		return "", false
	}
	switch sub, det := m[2], m[3]; sub {
	case "1": // addressing: bad mailbox (5.1.1), bad domain (5.1.2), null MX (5.1.10)…
		return Hard, true
	case "2":
		if det == "1" { // mailbox disabled
			return Hard, true
		}
		return Soft, true // 5.2.2 mailbox full, 5.2.3 message too long
	case "4":
		if det == "4" { // unable to route: domain has no mail server
			return Hard, true
		}
		return Soft, true // 5.4.7 expired and other network trouble
	default: // 5.3 system, 5.5 protocol, 5.6 content, 5.7 policy: not the address
		return Soft, true
	}
}

// smtpCode classifies a basic SMTP reply code (RFC 5321 §4.2.3).
func smtpCode(code int) (Class, bool) {
	switch {
	case code == 550 || code == 551 || code == 553:
		return Hard, true
	case code >= 400 && code < 600:
		return Soft, true
	}
	return "", false
}

// keywords are searched, lower-cased, in a diagnostic that has no code.
// French first: Orange, SFR and La Poste answer in French.
var keywords = []struct {
	word  string
	class Class
}{
	{"utilisateur inconnu", Hard},
	{"destinataire inconnu", Hard},
	{"adresse inconnue", Hard},
	{"adresse inexistante", Hard},
	{"boîte aux lettres inexistante", Hard},
	{"n'existe pas", Hard},
	{"user unknown", Hard},
	{"unknown user", Hard},
	{"no such user", Hard},
	{"no mailbox here", Hard},
	{"mailbox unavailable", Hard},
	{"does not exist", Hard},
	{"address rejected", Hard},
	{"host or domain name not found", Hard},
	{"boîte pleine", Soft},
	{"boite pleine", Soft},
	{"quota", Soft},
	{"mailbox full", Soft},
	{"temporairement", Soft},
	{"temporarily", Soft},
}

// Classify classifies one failure: by the enhanced status code status (or,
// when status is empty, one found in text), then by the SMTP reply code code
// (or one found in text), then by the keyword table; otherwise soft.
func Classify(status string, code int, text string) (Class, Rule) {
	if c, ok := enhanced(status); ok {
		return c, Rule("status " + enhancedRe.FindString(status))
	}
	if m := enhancedRe.FindString(text); m != "" {
		if c, ok := enhanced(m); ok {
			return c, Rule("status " + m)
		}
	}
	if c, ok := smtpCode(code); ok {
		return c, Rule("smtp " + strconv.Itoa(code))
	}
	if m := smtpCodeRe.FindStringSubmatch(text); m != nil {
		n, _ := strconv.Atoi(m[1])
		c, _ := smtpCode(n)
		return c, Rule("smtp " + m[1])
	}
	lower := strings.ToLower(text)
	for _, k := range keywords {
		if strings.Contains(lower, k.word) {
			return k.class, Rule("keyword " + k.word)
		}
	}
	return Soft, "default"
}

// FindStatus returns the first enhanced status code in text, or "".
func FindStatus(text string) string { return enhancedRe.FindString(text) }

// ReduceDiagnostic removes addresses from a diagnostic and bounds its
// length, as for the ledger.
func ReduceDiagnostic(text string) string { return reduce(text) }
