package channels

import (
	"fmt"
	"sort"
	"strings"
)

// Routes gives, for each notice kind, the ordered channels to try. A kind
// without a route uses the "default" entry.
type Routes map[string][]Name

// DefaultRoutes are the routes used unless configuration says otherwise:
// legal notices try email, then SMS, then a letter; reminders favour SMS;
// general mailings go by email or by post.
func DefaultRoutes() Routes {
	legal := []Name{Email, SMS, Letter}
	return Routes{
		"default":                     legal,
		"rights_opened":               legal,
		"rights_changed":              legal,
		"no_rights":                   legal,
		"yearly_statement":            {Email, Letter},
		"general_information":         {Email, Letter},
		"outreach_first_birth":        {Email, SMS, Letter},
		"outreach_separation":         {Email, SMS, Letter},
		"outreach_child_death":        {Email, Letter},
		"outreach_parent_death":       {Email, Letter},
		"reminder_income_declaration": {SMS, Email},
		"reminder_missing_document":   {SMS, Email, Letter},
		"reminder_generic":            {SMS, Email},
		"request_acknowledgement":     {Email, SMS, Letter},
		"request_answer":              legal,
		"complaint_answer":            {Email, Letter},
	}
}

// ParseRoutes reads routes from lines such as "reminder_generic=sms,email".
func ParseRoutes(spec string) (Routes, error) {
	r := DefaultRoutes()
	for _, part := range strings.FieldsFunc(spec, func(c rune) bool { return c == ';' || c == '\n' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		kind, list, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("route %q: want kind=channel,channel", part)
		}
		var names []Name
		for _, c := range strings.Split(list, ",") {
			n := Name(strings.TrimSpace(c))
			if n != Email && n != SMS && n != Letter {
				return nil, fmt.Errorf("route %q: unknown channel %q (want email, sms or letter)", part, n)
			}
			names = append(names, n)
		}
		r[strings.TrimSpace(kind)] = names
	}
	return r, nil
}

// For returns the route of kind.
func (r Routes) For(kind string) []Name {
	if route, ok := r[kind]; ok {
		return route
	}
	return r["default"]
}

// String lists the routes, one per line, sorted by kind.
func (r Routes) String() string {
	kinds := make([]string, 0, len(r))
	for k := range r {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for _, k := range kinds {
		parts := make([]string, len(r[k]))
		for i, n := range r[k] {
			parts[i] = string(n)
		}
		fmt.Fprintf(&b, "%s=%s\n", k, strings.Join(parts, ","))
	}
	return b.String()
}

// Contact is what routing needs to know about a beneficiary.
type Contact struct {
	Email         string
	EmailOK       bool // not marked undeliverable
	Phone         string
	PhoneMobile   bool
	PhoneOK       bool
	PostalAddress string // empty when no complete address
	// PostalUndeliverable: letters to PostalAddress came back (returned mail).
	PostalUndeliverable bool
	ConsentEmail        bool
	ConsentSMS          bool
	ConsentLetter       bool
	// OutreachOptOut: the beneficiary unsubscribed from general mailings and
	// outreach; such messages then only go by post.
	OutreachOptOut bool
}

// Step is one channel of a plan with the address to use.
type Step struct {
	Channel Name
	Address string
}

// Plan returns the usable channels of route for c, in order, and why each
// other channel was skipped. bulk marks general mailings and outreach.
func Plan(route []Name, c Contact, bulk bool) (steps []Step, skipped []string) {
	for _, ch := range route {
		reason := ""
		addr := ""
		switch ch {
		case Email:
			switch {
			case c.Email == "":
				reason = "no email address"
			case !c.EmailOK:
				reason = "email address undeliverable"
			case !c.ConsentEmail:
				reason = "email consent withdrawn"
			case bulk && c.OutreachOptOut:
				reason = "unsubscribed from electronic mailings"
			default:
				addr = c.Email
			}
		case SMS:
			switch {
			case c.Phone == "":
				reason = "no phone number"
			case !c.PhoneMobile:
				reason = "phone is not a mobile"
			case !c.PhoneOK:
				reason = "phone number undeliverable"
			case !c.ConsentSMS:
				reason = "SMS consent withdrawn"
			case bulk && c.OutreachOptOut:
				reason = "unsubscribed from electronic mailings"
			default:
				addr = c.Phone
			}
		case Letter:
			switch {
			case c.PostalAddress == "":
				reason = "no postal address"
			case c.PostalUndeliverable:
				reason = "postal address undeliverable"
			case !c.ConsentLetter:
				reason = "letter consent withdrawn"
			default:
				addr = c.PostalAddress
			}
		default:
			reason = "unknown channel"
		}
		if reason != "" {
			skipped = append(skipped, string(ch)+": "+reason)
			continue
		}
		steps = append(steps, Step{Channel: ch, Address: addr})
	}
	return steps, skipped
}
