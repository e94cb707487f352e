package territories

import (
	"fmt"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the overseas zones must resolve on machines without zoneinfo
)

// Territory is a département or an overseas collectivity.
type Territory struct {
	Code     string // département code: "75", "2A", "971" …
	Name     string
	TimeZone string // IANA name, e.g. "America/Guadeloupe"
	Region   string // telephone numbering region (ISO 3166): "FR", "GP" …
	local    []localHoliday
}

type localHoliday struct {
	name   string
	month  time.Month
	day    int // fixed date; 0 with easter set
	delta  int // days from Easter Sunday when easter is set
	easter bool
}

var (
	goodFriday    = localHoliday{name: "Vendredi saint", easter: true, delta: -2}
	saintStephen  = localHoliday{name: "Saint-Étienne", month: time.December, day: 26}
	alsaceMoselle = []localHoliday{goodFriday, saintStephen}
)

func abolition(m time.Month, d int) []localHoliday {
	return []localHoliday{{name: "Abolition de l'esclavage", month: m, day: d}}
}

// overseas lists the territories whose code has three digits.
var overseas = []Territory{
	{Code: "971", Name: "Guadeloupe", TimeZone: "America/Guadeloupe", Region: "GP", local: abolition(time.May, 27)},
	{Code: "972", Name: "Martinique", TimeZone: "America/Martinique", Region: "MQ", local: abolition(time.May, 22)},
	{Code: "973", Name: "Guyane", TimeZone: "America/Cayenne", Region: "GF", local: abolition(time.June, 10)},
	{Code: "974", Name: "La Réunion", TimeZone: "Indian/Reunion", Region: "RE", local: abolition(time.December, 20)},
	{Code: "975", Name: "Saint-Pierre-et-Miquelon", TimeZone: "America/Miquelon", Region: "PM"},
	{Code: "976", Name: "Mayotte", TimeZone: "Indian/Mayotte", Region: "YT", local: abolition(time.April, 27)},
	{Code: "977", Name: "Saint-Barthélemy", TimeZone: "America/St_Barthelemy", Region: "BL", local: abolition(time.October, 9)},
	{Code: "978", Name: "Saint-Martin", TimeZone: "America/Marigot", Region: "MF", local: abolition(time.May, 28)},
}

// Metropolitan returns the territory used when nothing better is known:
// metropolitan France without local holidays (Paris's calendar).
func Metropolitan() Territory {
	return Territory{Code: "75", Name: "Paris", TimeZone: "Europe/Paris", Region: "FR"}
}

// ForDepartement returns the territory of a département code ("01"–"95",
// "2A", "2B", "971"–"978"). ok is false for an unknown code.
func ForDepartement(code string) (t Territory, ok bool) {
	code = strings.ToUpper(strings.TrimSpace(code))
	for _, o := range overseas {
		if o.Code == code {
			return o, true
		}
	}
	switch {
	case code == "2A" || code == "2B":
	case len(code) == 2 && code[0] >= '0' && code[0] <= '9' && code[1] >= '0' && code[1] <= '9' && code != "00" && code != "20" && code <= "95":
	default:
		return Territory{}, false
	}
	t = Territory{Code: code, Name: "Département " + code, TimeZone: "Europe/Paris", Region: "FR"}
	if code == "57" || code == "67" || code == "68" {
		t.local = alsaceMoselle
	}
	return t, true
}

// DepartementOfPostalCode returns the département of a French postal code
// (five digits), or ok false when it is not one.
func DepartementOfPostalCode(postalCode string) (code string, ok bool) {
	pc := strings.TrimSpace(postalCode)
	if len(pc) != 5 {
		return "", false
	}
	for i := range 5 {
		if pc[i] < '0' || pc[i] > '9' {
			return "", false
		}
	}
	switch {
	case pc == "97133":
		return "977", true
	case pc == "97150":
		return "978", true
	case strings.HasPrefix(pc, "97"):
		code = pc[:3]
	case pc[:2] == "20":
		// Corse-du-Sud 200xx–201xx, Haute-Corse 202xx–206xx.
		if pc[2] <= '1' {
			code = "2A"
		} else {
			code = "2B"
		}
	default:
		code = pc[:2]
	}
	if _, known := ForDepartement(code); !known {
		return "", false
	}
	return code, true
}

// ForPostalCode returns the territory of a French postal code; ok is false
// when the code is not one (foreign, malformed or empty).
func ForPostalCode(postalCode string) (Territory, bool) {
	code, ok := DepartementOfPostalCode(postalCode)
	if !ok {
		return Territory{}, false
	}
	return ForDepartement(code)
}

// ForPhoneRegion returns the territory whose numbering region is region
// ("GP", "RE" …). "FR" gives Metropolitan. ok is false for other regions.
func ForPhoneRegion(region string) (Territory, bool) {
	if region == "FR" {
		return Metropolitan(), true
	}
	for _, o := range overseas {
		if o.Region == region {
			return o, true
		}
	}
	return Territory{}, false
}

// All returns the overseas territories followed by the metropolitan
// départements, in code order within each group.
func All() []Territory {
	out := append([]Territory(nil), overseas...)
	for i := 1; i <= 95; i++ {
		if i == 20 {
			for _, c := range []string{"2A", "2B"} {
				t, _ := ForDepartement(c)
				out = append(out, t)
			}
			continue
		}
		t, _ := ForDepartement(fmt.Sprintf("%02d", i))
		out = append(out, t)
	}
	return out
}

// Location returns the territory's time zone.
func (t Territory) Location() *time.Location {
	return location(t.TimeZone)
}

var zones sync.Map // name → *time.Location

func location(name string) *time.Location {
	if name == "" {
		name = "Europe/Paris"
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		// Unreachable for the zones above: time/tzdata embeds them.
		panic("territories: load " + name + ": " + err.Error())
	}
	zones.Store(name, l)
	return l
}

// Paris returns the Europe/Paris time zone.
func Paris() *time.Location { return location("Europe/Paris") }

// LoadLocation resolves an IANA zone name with the embedded database.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return nil, fmt.Errorf("empty time zone")
	}
	return time.LoadLocation(name)
}
