// Package postal applies La Poste's addressing rules to the address block of
// a letter, so that an address that cannot be printed is refused when the
// beneficiary is registered, never when the letter is printed.
//
// The rules are those of the French standard NF Z10-011 "Adressage postal"
// (AFNOR, 2013), as La Poste publishes them for senders ("Bien rédiger une
// adresse", and the S3 services quality charter of its mail sorting):
//
//   - at most 6 lines, each of at most 38 characters and spaces;
//   - line 1 the addressee (civility, given and family name), then the
//     delivery point (complement, number and street), and last the
//     distribution line: the 5-digit postal code, one space, the locality in
//     capitals, without punctuation and without accents (sorting machines
//     read this line);
//   - no blank line inside the block, left-aligned;
//   - abroad, the country on a last line of its own, in capitals.
//
// Overseas departments keep their own postal codes (971–976, 984–988, 975
// Saint-Pierre-et-Miquelon, 97133 Saint-Barthélemy, 97150 Saint-Martin): the
// distribution line is built the same way and France is not added.
package postal

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// NF Z10-011 limits.
const (
	MaxLines     = 6
	MaxLineChars = 38
)

// Address is a beneficiary's postal address, as registered.
type Address struct {
	Addressee  string // "Mme Claire Martin"
	Line1      string // number and street, or a complement
	Line2      string // optional second delivery line
	PostalCode string
	City       string
	Country    string // ISO 3166 alpha-2; "" or "FR" for France (overseas included)
}

// FieldError names the field of an address that cannot be printed.
type FieldError struct {
	Field  string // addressee, address_line1, address_line2, postal_code, city, address
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

var frPostalCode = regexp.MustCompile(`^[0-9]{5}$`)

// Lines returns the address block, one string per line, in the order and the
// form of NF Z10-011. It does not check the limits: see Printable.
func (a Address) Lines() []string {
	var lines []string
	for _, l := range []string{a.Addressee, a.Line1, a.Line2} {
		if l = collapse(l); l != "" {
			lines = append(lines, l)
		}
	}
	lines = append(lines, DistributionLine(a.PostalCode, a.City))
	if c := strings.ToUpper(strings.TrimSpace(a.Country)); c != "" && c != "FR" {
		lines = append(lines, c)
	}
	return lines
}

// stripAccents pools the accent-removing transformer: a chain allocates
// about 8 KB of buffers, and every notice's routing computes its address.
var stripAccents = sync.Pool{New: func() any {
	return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}}

// DistributionLine is the last line for France: "97400 SAINT DENIS". The
// locality is upper-cased, its accents removed and its punctuation (hyphens,
// apostrophes, dots, commas) replaced by spaces, as NF Z10-011 asks.
func DistributionLine(postalCode, city string) string {
	t := stripAccents.Get().(transform.Transformer)
	c, _, _ := transform.String(t, city) // resets t first
	stripAccents.Put(t)
	c = strings.Map(func(r rune) rune {
		switch {
		case r == 'Œ' || r == 'œ':
			return 'E' // rare in localities; keeps one rune per rune
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			return unicode.ToUpper(r)
		}
		return ' '
	}, c)
	return collapse(strings.TrimSpace(postalCode) + " " + c)
}

// Printable returns a *FieldError when the address block cannot be printed
// on a letter for a window envelope: a missing postal code or locality, a
// French postal code that is not 5 digits, more than 6 lines, a line longer
// than 38 characters, or a character the letter font cannot print.
func Printable(a Address) error {
	switch {
	case strings.TrimSpace(a.Line1) == "" && strings.TrimSpace(a.Line2) == "":
		return &FieldError{Field: "address_line1", Reason: "is required for a letter"}
	case strings.TrimSpace(a.PostalCode) == "":
		return &FieldError{Field: "postal_code", Reason: "is required for a letter"}
	case strings.TrimSpace(a.City) == "":
		return &FieldError{Field: "city", Reason: "is required for a letter"}
	}
	if c := strings.ToUpper(strings.TrimSpace(a.Country)); (c == "" || c == "FR") && !frPostalCode.MatchString(strings.TrimSpace(a.PostalCode)) {
		return &FieldError{Field: "postal_code", Reason: "must be 5 digits"}
	}
	fields := []struct{ name, value string }{
		{"addressee", a.Addressee}, {"address_line1", a.Line1}, {"address_line2", a.Line2},
	}
	for _, f := range fields {
		if err := checkLine(f.name, collapse(f.value)); err != nil {
			return err
		}
	}
	if err := checkLine("city", DistributionLine(a.PostalCode, a.City)); err != nil {
		return err
	}
	if n := len(a.Lines()); n > MaxLines {
		return &FieldError{Field: "address", Reason: fmt.Sprintf("has %d lines; NF Z10-011 allows %d", n, MaxLines)}
	}
	return nil
}

func checkLine(field, line string) error {
	if n := len([]rune(line)); n > MaxLineChars {
		return &FieldError{Field: field, Reason: fmt.Sprintf("makes an address line of %d characters; NF Z10-011 allows %d", n, MaxLineChars)}
	}
	for _, r := range line {
		if !PrintableRune(r) {
			return &FieldError{Field: field, Reason: fmt.Sprintf("contains the character U+%04X, which the letter font cannot print", r)}
		}
	}
	return nil
}

// PrintableRune reports whether the letter font has a glyph for r: ASCII,
// Latin-1, Latin Extended-A and the French typographic punctuation (see
// channels/letters/fonts/README.md).
func PrintableRune(r rune) bool {
	switch {
	case r >= 0x20 && r <= 0x7E, r >= 0xA0 && r <= 0x17F:
		return true
	case r >= 0x2000 && r <= 0x200A, r >= 0x2010 && r <= 0x2027, r == 0x202F:
		return true
	}
	switch r {
	case 0x2030, 0x2039, 0x203A, 0x20AC, 0x2116, 0x2122, 0x2212, 0x2192, 0x25A0, 0x25A1, '\n':
		return true
	}
	return false
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }
