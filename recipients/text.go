package recipients

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// CheckText refuses a value that cannot be printed on a letter or put in a
// message header as it is: invalid UTF-8, and control characters (NUL, CR,
// LF, TAB, ESC, DEL, the C1 controls). A name with a line break would end up
// in an email's To header and get a valid address refused by the relay, so
// such values are refused at intake, naming the field. The API and the CSV
// import share this rule through Recipient.Validate.
func CheckText(field, value string) error {
	if !utf8.ValidString(value) {
		return &FieldError{Field: field, Reason: "is not valid UTF-8"}
	}
	for i, r := range value {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return &FieldError{Field: field, Reason: fmt.Sprintf("contains a control character (U+%04X at byte %d)", r, i)}
		}
	}
	return nil
}

// checkText applies CheckText to every text field of r.
func (r *Recipient) checkText() error {
	for _, f := range []struct{ name, value string }{
		{"ref", r.Ref}, {"civility", r.Civility}, {"given_name", r.GivenName}, {"family_name", r.FamilyName},
		{"email", r.Email}, {"phone", r.Phone}, {"address_line1", r.AddressLine1}, {"address_line2", r.AddressLine2},
		{"postal_code", r.PostalCode}, {"city", r.City}, {"country", r.Country}, {"language", r.Language},
	} {
		if err := CheckText(f.name, f.value); err != nil {
			return err
		}
	}
	return nil
}
