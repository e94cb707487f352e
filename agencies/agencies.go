package agencies

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/courrier-dev/courrier/territories"
)

//go:embed example-agencies.yaml
var exampleFile []byte

// ExampleYAML is the embedded example agency file: two Cafs, Paris (751)
// and La Réunion (974).
func ExampleYAML() []byte { return append([]byte(nil), exampleFile...) }

// EnvFile names the environment variable holding the agency file's path.
const EnvFile = "COURRIER_AGENCIES"

// Set is the Cafs of a deployment, in file order.
type Set struct {
	Agencies []*Agency `yaml:"agencies"`

	byCode map[string]*Agency
	source string
}

// Agency is one Caf.
type Agency struct {
	Code      string    `yaml:"code"` // e.g. "751", "974"
	Name      string    `yaml:"name"` // e.g. "Caf de Paris"
	Territory Territory `yaml:"territory"`
	// TimeZone is the IANA zone of the Caf's calendar (deadlines, pace
	// windows). Default: the zone of its first département.
	TimeZone string `yaml:"time_zone"`
	// Holidays are extra closure days of the Caf, besides the territory's
	// public holidays.
	Holidays        []ExtraHoliday      `yaml:"holidays"`
	Senders         Senders             `yaml:"senders"`
	Letterhead      []string            `yaml:"letterhead"` // lines at the top of letters; default the name
	Website         string              `yaml:"website"`
	Mediator        Mediator            `yaml:"mediator"`
	ReceptionPoints []ReceptionPoint    `yaml:"reception_points"`
	Phone           PhoneService        `yaml:"phone"`
	Routes          map[string][]string `yaml:"routes"`      // kind → channels, overriding the deployment's
	RateLimits      map[string]float64  `yaml:"rate_limits"` // channel → messages per second for this Caf

	line     int
	location *time.Location
	extra    []territories.Holiday
}

// Territory is what a Caf serves.
type Territory struct {
	Departements   []string `yaml:"departements"`    // "75", "2A", "974"
	PostalPrefixes []string `yaml:"postal_prefixes"` // e.g. "9713" for a subset
}

// ExtraHoliday is a closure day.
type ExtraHoliday struct {
	Date string `yaml:"date"` // YYYY-MM-DD
	Name string `yaml:"name"`
}

// Senders are the identities messages of the Caf are sent under.
type Senders struct {
	EmailFrom     string `yaml:"email_from"` // "Caf de Paris <ne-pas-repondre@caf75.fr>"
	ReplyTo       string `yaml:"reply_to"`
	SMSSender     string `yaml:"sms_sender"` // alphanumeric sender ID (≤ 11) or E.164 number
	ReturnAddress string `yaml:"letter_return_address"`
}

// Mediator is how to reach the Caf's mediator.
type Mediator struct {
	Name       string `yaml:"name"`
	Address    string `yaml:"address"`
	Email      string `yaml:"email"`
	Phone      string `yaml:"phone"`
	OnlineForm string `yaml:"online_form"`
}

// ReceptionPoint is a place where beneficiaries are received.
type ReceptionPoint struct {
	Name         string `yaml:"name"`
	Address      string `yaml:"address"`
	OpeningHours string `yaml:"opening_hours"` // "du lundi au vendredi, de 8 h 30 à 16 h 30"
	BusyHours    string `yaml:"busy_hours"`    // "le lundi matin et les 5 premiers jours du mois"
}

// PhoneService is the Caf's telephone line.
type PhoneService struct {
	Number string `yaml:"number"`
	Hours  string `yaml:"hours"`
}

// Error is a problem in the agency file, at a line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// LoadFile reads and validates the agency file at path (the value of
// COURRIER_AGENCIES), or the embedded example when path is empty.
func LoadFile(path string) (*Set, error) {
	if path == "" {
		return Parse("example-agencies.yaml (embedded)", exampleFile)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("agencies: %w", err)
	}
	return Parse(path, src)
}

// Example parses the embedded example.
func Example() *Set {
	s, err := Parse("example-agencies.yaml (embedded)", exampleFile)
	if err != nil {
		panic("agencies: embedded example: " + err.Error())
	}
	return s
}

var (
	yamlLine    = regexp.MustCompile(`^yaml: (?:unmarshal errors:\n\s*)?line (\d+): (.*)`)
	codeRE      = regexp.MustCompile(`^[0-9A-Za-z]{2,4}$`)
	prefixRE    = regexp.MustCompile(`^[0-9]{1,5}$`)
	smsSenderRE = regexp.MustCompile(`^(\+[1-9][0-9]{6,14}|[A-Za-z0-9][A-Za-z0-9 .-]{0,10})$`)
)

// Parse decodes and validates an agency file; name is used in errors.
func Parse(name string, src []byte) (*Set, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, yamlError(name, err)
	}
	var s Set
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, yamlError(name, err)
	}
	s.source = name
	lines := fieldLines(&root)
	if err := s.validate(name, lines); err != nil {
		return nil, err
	}
	return &s, nil
}

func yamlError(name string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return &Error{File: name, Line: line, Msg: m[2]}
	}
	if errors.Is(err, io.EOF) {
		return &Error{File: name, Msg: "is empty: want an \"agencies:\" list"}
	}
	return &Error{File: name, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// fieldLines returns, per agency index, the line of each of its keys
// ("" for the item itself, "mediator.email" for nested ones).
func fieldLines(root *yaml.Node) []map[string]int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	doc := root.Content[0]
	var list *yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "agencies" {
			list = doc.Content[i+1]
		}
	}
	if list == nil {
		return nil
	}
	out := make([]map[string]int, len(list.Content))
	for i, item := range list.Content {
		m := map[string]int{"": item.Line}
		var walk func(prefix string, n *yaml.Node)
		walk = func(prefix string, n *yaml.Node) {
			switch n.Kind {
			case yaml.MappingNode:
				for j := 0; j+1 < len(n.Content); j += 2 {
					k := prefix + n.Content[j].Value
					m[k] = n.Content[j].Line
					walk(k+".", n.Content[j+1])
				}
			case yaml.SequenceNode:
				for j, c := range n.Content {
					k := fmt.Sprintf("%s[%d]", strings.TrimSuffix(prefix, "."), j)
					m[k] = c.Line
					walk(k+".", c)
				}
			}
		}
		walk("", item)
		out[i] = m
	}
	return out
}

func (s *Set) validate(name string, lines []map[string]int) error {
	if len(s.Agencies) == 0 {
		return &Error{File: name, Msg: "no agency: want at least one under \"agencies:\""}
	}
	s.byCode = map[string]*Agency{}
	claimed := map[string]string{} // département or prefix → agency code
	for i, a := range s.Agencies {
		if a == nil {
			return &Error{File: name, Msg: fmt.Sprintf("agencies[%d] is empty", i)}
		}
		var l map[string]int
		if i < len(lines) {
			l = lines[i]
		}
		a.line = l[""]
		bad := func(field, format string, args ...any) error {
			line := a.line
			for f := field; f != ""; {
				if n, ok := l[f]; ok {
					line = n
					break
				}
				cut := strings.LastIndexAny(f, ".[")
				if cut < 0 {
					break
				}
				f = f[:cut]
			}
			return &Error{File: name, Line: line, Msg: fmt.Sprintf("agencies[%d].%s: ", i, field) + fmt.Sprintf(format, args...)}
		}
		a.Code = strings.TrimSpace(a.Code)
		if !codeRE.MatchString(a.Code) {
			return bad("code", "%q must be 2 to 4 letters or digits, e.g. \"751\"", a.Code)
		}
		if _, dup := s.byCode[a.Code]; dup {
			return bad("code", "%q is used by another agency", a.Code)
		}
		s.byCode[a.Code] = a
		if strings.TrimSpace(a.Name) == "" {
			return bad("name", "is required")
		}
		if len(a.Territory.Departements)+len(a.Territory.PostalPrefixes) == 0 {
			return bad("territory", "needs departements or postal_prefixes")
		}
		var first territories.Territory
		for j, d := range a.Territory.Departements {
			t, ok := territories.ForDepartement(d)
			if !ok {
				return bad(fmt.Sprintf("territory.departements[%d]", j), "%q is not a French département code", d)
			}
			if j == 0 {
				first = t
			}
			a.Territory.Departements[j] = t.Code
			if other, dup := claimed["d"+t.Code]; dup {
				return bad(fmt.Sprintf("territory.departements[%d]", j), "%s is already served by agency %s", t.Code, other)
			}
			claimed["d"+t.Code] = a.Code
		}
		for j, p := range a.Territory.PostalPrefixes {
			if !prefixRE.MatchString(p) {
				return bad(fmt.Sprintf("territory.postal_prefixes[%d]", j), "%q must be 1 to 5 digits", p)
			}
			if other, dup := claimed["p"+p]; dup {
				return bad(fmt.Sprintf("territory.postal_prefixes[%d]", j), "%s is already served by agency %s", p, other)
			}
			claimed["p"+p] = a.Code
			if first.Code == "" {
				if t, ok := territories.ForPostalCode((p + "00000")[:5]); ok {
					first = t
				}
			}
		}
		if first.Code == "" {
			first = territories.Metropolitan()
		}
		if a.TimeZone == "" {
			a.TimeZone = first.TimeZone
		}
		loc, err := territories.LoadLocation(a.TimeZone)
		if err != nil {
			return bad("time_zone", "%q is not a time zone (e.g. Europe/Paris, Indian/Reunion)", a.TimeZone)
		}
		a.location = loc
		for j, h := range a.Holidays {
			d, err := time.Parse(time.DateOnly, h.Date)
			if err != nil {
				return bad(fmt.Sprintf("holidays[%d].date", j), "%q is not a date (YYYY-MM-DD)", h.Date)
			}
			name := h.Name
			if name == "" {
				name = "Fermeture de la Caf"
			}
			a.extra = append(a.extra, territories.Holiday{Date: d, Name: name})
		}
		if v := a.Senders.EmailFrom; v != "" {
			if _, err := mail.ParseAddress(v); err != nil {
				return bad("senders.email_from", "%q is not an email address", v)
			}
		}
		if v := a.Senders.ReplyTo; v != "" {
			if _, err := mail.ParseAddress(v); err != nil {
				return bad("senders.reply_to", "%q is not an email address", v)
			}
		}
		if v := a.Senders.SMSSender; v != "" && !smsSenderRE.MatchString(v) {
			return bad("senders.sms_sender", "%q must be an E.164 number or at most 11 letters and digits", v)
		}
		if v := a.Mediator.Email; v != "" {
			if _, err := mail.ParseAddress(v); err != nil {
				return bad("mediator.email", "%q is not an email address", v)
			}
		}
		for field, v := range map[string]string{"website": a.Website, "mediator.online_form": a.Mediator.OnlineForm} {
			if v == "" {
				continue
			}
			if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return bad(field, "%q is not an http(s) URL", v)
			}
		}
		for j, p := range a.ReceptionPoints {
			if strings.TrimSpace(p.Name) == "" {
				return bad(fmt.Sprintf("reception_points[%d].name", j), "is required")
			}
			if strings.TrimSpace(p.OpeningHours) == "" {
				return bad(fmt.Sprintf("reception_points[%d].opening_hours", j), "is required")
			}
		}
		for kind, chans := range a.Routes {
			if len(chans) == 0 {
				return bad("routes."+kind, "is empty")
			}
			for _, c := range chans {
				if c != "email" && c != "sms" && c != "letter" {
					return bad("routes."+kind, "unknown channel %q (want email, sms or letter)", c)
				}
			}
		}
		for ch, r := range a.RateLimits {
			if ch != "email" && ch != "sms" && ch != "letter" {
				return bad("rate_limits."+ch, "unknown channel (want email, sms or letter)")
			}
			if r <= 0 {
				return bad("rate_limits."+ch, "must be a positive number of messages per second")
			}
		}
	}
	return nil
}

// Source is the name of the file the set was read from.
func (s *Set) Source() string { return s.source }

// Get returns the agency with code, or nil.
func (s *Set) Get(code string) *Agency { return s.byCode[code] }

// Default is the first agency of the file: the one of beneficiaries outside
// every territory.
func (s *Set) Default() *Agency { return s.Agencies[0] }

// ForPostalCode returns the Caf whose territory holds postalCode: the
// longest matching postal prefix, else the département's Caf, else Default.
func (s *Set) ForPostalCode(postalCode string) *Agency {
	pc := strings.TrimSpace(postalCode)
	var best *Agency
	bestLen := 0
	for _, a := range s.Agencies {
		for _, p := range a.Territory.PostalPrefixes {
			if len(p) > bestLen && strings.HasPrefix(pc, p) {
				best, bestLen = a, len(p)
			}
		}
	}
	if best != nil {
		return best
	}
	if dept, ok := territories.DepartementOfPostalCode(pc); ok {
		for _, a := range s.Agencies {
			for _, d := range a.Territory.Departements {
				if d == dept {
					return a
				}
			}
		}
	}
	return s.Default()
}

// Resolve returns the Caf of a beneficiary: code when it names one of the
// set (given at intake), else the Caf of postalCode.
func (s *Set) Resolve(code, postalCode string) *Agency {
	if a := s.Get(code); a != nil {
		return a
	}
	return s.ForPostalCode(postalCode)
}

// Line is the line of the agency in its file.
func (a *Agency) Line() int { return a.line }

// Location is the Caf's time zone.
func (a *Agency) Location() *time.Location {
	if a.location == nil {
		return territories.Paris()
	}
	return a.location
}

// Calendar is the Caf's calendar for deadlines and pace windows: its time
// zone, the public holidays of its first territory, and its closure days.
func (a *Agency) Calendar() territories.Calendar {
	t := territories.Metropolitan()
	if len(a.Territory.Departements) > 0 {
		t, _ = territories.ForDepartement(a.Territory.Departements[0])
	}
	return t.Calendar().In(a.Location()).WithExtra(a.extra...)
}

// CalendarFor is the calendar of a beneficiary living in territory t and
// served by the Caf: t's zone and public holidays, plus the Caf's closures.
func (a *Agency) CalendarFor(t territories.Territory) territories.Calendar {
	return t.Calendar().WithExtra(a.extra...)
}
