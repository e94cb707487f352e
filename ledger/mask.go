package ledger

import (
	"strings"
	"unicode/utf8"
)

// MaskAddress hides most of an address for evidence packs: an email keeps
// its first letter, the first letter of its domain and its top-level domain
// (c*****@e*****.fr); a phone number its country code, first digit and last
// two digits (+33 6 ** ** ** 78); a postal address the first letter of each
// word and its postal code.
func MaskAddress(channel, addr string) string {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return ""
	}
	if local, domain, ok := strings.Cut(addr, "@"); ok && channel != "letter" {
		tld := ""
		if i := strings.LastIndexByte(domain, '.'); i >= 0 {
			tld = domain[i:]
		}
		return firstRune(local) + "*****@" + firstRune(domain) + "*****" + tld
	}
	if strings.HasPrefix(addr, "+") && channel != "letter" {
		digits := addr[1:]
		if strings.HasPrefix(digits, "33") && len(digits) == 11 {
			return "+33 " + digits[2:3] + " ** ** ** " + digits[9:]
		}
		if len(digits) > 5 {
			return "+" + digits[:3] + strings.Repeat("*", len(digits)-5) + digits[len(digits)-2:]
		}
		return "+" + strings.Repeat("*", len(digits))
	}
	words := strings.Fields(addr)
	for i, w := range words {
		if len(w) == 5 && strings.Trim(w, "0123456789") == "" {
			continue // postal code
		}
		words[i] = firstRune(w) + "*"
	}
	return strings.Join(words, " ")
}

func firstRune(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || r == utf8.RuneError {
		return ""
	}
	return string(r)
}
