package recipients

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/net/idna"

	"github.com/courrier-dev/courrier/territories"
)

// FieldError says which field of a contact is invalid and why. Invalid
// contacts are rejected with one, never silently dropped.
type FieldError struct {
	Field  string // "phone", "email"
	Reason string // the problem with the value, quoting it
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// fallbackRegions are tried, in order, for a national number that is not
// valid in the region of the postal code: beneficiaries who moved between
// metropolitan France and an overseas department keep their old number.
var fallbackRegions = []string{"FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF"}

// RegionForPostalCode returns the phone numbering region of a French postal
// code (see territories.ForPostalCode): FR when it is not a known one.
func RegionForPostalCode(postalCode string) string {
	if t, ok := territories.ForPostalCode(postalCode); ok {
		return t.Region
	}
	return "FR"
}

// NormalizePhone parses raw into E.164 and says whether it is a mobile
// number (the only kind that receives SMS). A national number ("0690 12 34
// 56") is read in the numbering region of postalCode, so an overseas
// beneficiary's number gets its own country code (+590…), not +33; when it is
// not valid there but valid in exactly one other French region, that one is
// used. International numbers ("+…", "00…") are kept as parsed. Landlines
// are returned with mobile=false. An invalid number is a *FieldError.
func NormalizePhone(raw, postalCode string) (e164 string, mobile bool, err error) {
	s := strings.TrimSpace(raw)
	region := RegionForPostalCode(postalCode)
	if s == "" {
		return "", false, &FieldError{Field: "phone", Reason: "is empty"}
	}
	invalid := func() error {
		return &FieldError{Field: "phone", Reason: fmt.Sprintf("%q is not a valid phone number for region %s", raw, region)}
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", false, invalid()
	}
	if !phonenumbers.IsValidNumber(num) {
		international := strings.HasPrefix(s, "+") || strings.HasPrefix(s, "00")
		if international {
			return "", false, invalid()
		}
		num = nil
		var found string
		for _, r := range fallbackRegions {
			if r == region {
				continue
			}
			n, err := phonenumbers.Parse(s, r)
			if err != nil || !phonenumbers.IsValidNumber(n) {
				continue
			}
			f := phonenumbers.Format(n, phonenumbers.E164)
			if found != "" && found != f {
				return "", false, invalid() // ambiguous
			}
			found, num = f, n
		}
		if num == nil {
			return "", false, invalid()
		}
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
		mobile = true
	}
	return phonenumbers.Format(num, phonenumbers.E164), mobile, nil
}

// PhoneType is the recipients.phone_type value for a normalised number.
func PhoneType(mobile bool) string {
	if mobile {
		return "mobile"
	}
	return "landline"
}

// idnaProfile validates a domain the way a resolver would look it up.
var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(true), idna.ValidateLabels(true), idna.VerifyDNSLength(true))

// NormalizeEmail validates raw as a bare email address and returns it with
// its domain lower-cased and in ASCII form: internationalised domains
// ("exemple.économie.fr") are accepted and stored as punycode
// ("exemple.xn--conomie-cya.fr"), which every SMTP server can deliver to and
// which compares equal however the user typed the domain. The local part is
// kept as typed (it is case-sensitive in principle). Display names, spaces,
// comments and domains without a dot are rejected with a *FieldError.
func NormalizeEmail(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	bad := func(why string) error {
		return &FieldError{Field: "email", Reason: fmt.Sprintf("%q %s", raw, why)}
	}
	switch {
	case s == "":
		return "", &FieldError{Field: "email", Reason: "is empty"}
	case strings.ContainsFunc(s, unicode.IsSpace):
		return "", bad("contains spaces")
	case !strings.Contains(s, "@"):
		return "", bad("has no @")
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", bad("is not a valid email address")
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local == "" || len(local) > 64 {
		return "", bad("has an invalid part before @")
	}
	if strings.HasPrefix(domain, "[") {
		return "", bad("has an IP address instead of a domain")
	}
	ascii, err := idnaProfile.ToASCII(strings.ToLower(domain))
	if err != nil || !strings.Contains(ascii, ".") || strings.HasSuffix(ascii, ".") {
		return "", bad("has an invalid domain")
	}
	out := local + "@" + ascii
	if len(out) > 254 {
		return "", bad("is too long")
	}
	return out, nil
}
