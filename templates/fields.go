package templates

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // dates are shown in Europe/Paris whatever the host has installed
)

// FieldType is the declared type of a template data field.
type FieldType string

// The field types a template may declare.
const (
	TypeString FieldType = "string" // a JSON string
	TypeDate   FieldType = "date"   // "2027-03-15" or an RFC 3339 timestamp (shown as its Europe/Paris date)
	TypeMoney  FieldType = "money"  // euros as a number (1234.56) or a decimal string ("1234.56")
	TypeInt    FieldType = "int"    // a whole number
	TypeBool   FieldType = "bool"   // true or false
	TypeList   FieldType = "list"   // a list of strings
)

var fieldTypes = []FieldType{TypeString, TypeDate, TypeMoney, TypeInt, TypeBool, TypeList}

func (t FieldType) valid() bool {
	for _, ft := range fieldTypes {
		if t == ft {
			return true
		}
	}
	return false
}

func typeList() string {
	s := make([]string, len(fieldTypes))
	for i, t := range fieldTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// Field is a data field a template declares in its front matter.
type Field struct {
	Name        string
	Type        FieldType
	Description string // the comment after the declaration, if any
	Line        int    // line of the declaration in the template file
}

var paris = mustLocation("Europe/Paris")

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// Date is a calendar date. It prints in French ("15 mars 2027").
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

var frenchMonths = [...]string{"janvier", "février", "mars", "avril", "mai", "juin",
	"juillet", "août", "septembre", "octobre", "novembre", "décembre"}

// String formats d the French way: "1er mars 2027", "15 mars 2027".
func (d Date) String() string {
	if d.Month < time.January || d.Month > time.December {
		return ""
	}
	day := strconv.Itoa(d.Day)
	if d.Day == 1 {
		day = "1er"
	}
	return day + " " + frenchMonths[d.Month-1] + " " + strconv.Itoa(d.Year)
}

// Money is an amount in euro cents. It prints in French ("1 234,56 €").
type Money int64

// String formats m with a narrow no-break space (U+202F) between thousands, a
// decimal comma and a no-break space (U+00A0) before the euro sign.
func (m Money) String() string {
	neg := m < 0
	c := int64(m)
	if neg {
		c = -c
	}
	units := strconv.FormatInt(c/100, 10)
	var b strings.Builder
	if neg {
		b.WriteString("-")
	}
	for i, r := range units {
		if i > 0 && (len(units)-i)%3 == 0 {
			b.WriteRune('\u202F')
		}
		b.WriteRune(r)
	}
	fmt.Fprintf(&b, ",%02d\u00A0€", c%100)
	return b.String()
}

// convert checks v against the field type and returns the value templates see.
func convert(t FieldType, v any) (any, string) {
	switch t {
	case TypeString:
		if s, ok := v.(string); ok {
			return s, ""
		}
	case TypeBool:
		if b, ok := v.(bool); ok {
			return b, ""
		}
	case TypeInt:
		switch n := v.(type) {
		case int:
			return int64(n), ""
		case int64:
			return n, ""
		case int32:
			return int64(n), ""
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				return int64(n), ""
			}
			return nil, fmt.Sprintf("got %v, not a whole number", n)
		case json.Number:
			i, err := n.Int64()
			if err != nil {
				return nil, fmt.Sprintf("got %s, not a whole number", n)
			}
			return i, ""
		}
	case TypeMoney:
		switch n := v.(type) {
		case float64:
			c, err := CentsFromEuros(n)
			if err != nil {
				return nil, fmt.Sprintf("got %v, which %v", n, err)
			}
			return Money(c), ""
		case int:
			return Money(int64(n) * 100), ""
		case int64:
			return Money(n * 100), ""
		case Money:
			return n, ""
		case json.Number:
			return parseMoney(string(n))
		case string:
			return parseMoney(n)
		}
	case TypeDate:
		switch d := v.(type) {
		case string:
			return parseDate(d)
		case time.Time:
			p := d.In(paris)
			return Date{p.Year(), p.Month(), p.Day()}, ""
		case Date:
			return d, ""
		}
	case TypeList:
		switch l := v.(type) {
		case []string:
			return l, ""
		case []any:
			out := make([]string, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Sprintf("item %d is %s, not a string", i, describe(e))
				}
				out[i] = s
			}
			return out, ""
		}
	}
	return nil, "got " + describe(v)
}

// ErrAmount is returned by CentsFromEuros.
var ErrAmount = errors.New("is not an amount of euros with at most two decimals")

// CentsFromEuros converts an amount of euros given as a number to cents.
// It is the one check of amounts: the API, `courrier send` and the
// templates all reject 12.345 rather than round it.
func CentsFromEuros(euros float64) (int64, error) {
	c := euros * 100
	r := math.Round(c)
	if math.IsNaN(c) || math.IsInf(c, 0) || math.Abs(c-r) > 1e-6 || math.Abs(r) > 1e15 {
		return 0, ErrAmount
	}
	return int64(r), nil
}

// parseMoney reads a decimal amount of euros with at most two decimals.
func parseMoney(s string) (any, string) {
	t := strings.TrimSpace(s)
	neg := strings.HasPrefix(t, "-")
	t = strings.TrimPrefix(t, "-")
	units, frac, _ := strings.Cut(t, ".")
	bad := func() (any, string) { return nil, "got a string that is not an amount like \"1234.56\"" }
	if units == "" || len(frac) > 2 || len(units) > 13 {
		return bad()
	}
	for _, r := range units + frac {
		if r < '0' || r > '9' {
			return bad()
		}
	}
	u, _ := strconv.ParseInt(units, 10, 64)
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt((frac + "0")[:2], 10, 64)
	}
	c := u*100 + f
	if neg {
		c = -c
	}
	return Money(c), ""
}

// parseDate reads "2027-03-15" or an RFC 3339 timestamp.
func parseDate(s string) (any, string) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return Date{d.Year(), d.Month(), d.Day()}, ""
	}
	if ts, err := time.Parse(time.RFC3339, s); err == nil {
		p := ts.In(paris)
		return Date{p.Year(), p.Month(), p.Day()}, ""
	}
	return nil, "got a string that is not a date like \"2027-03-15\" or RFC 3339"
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case Date, time.Time:
		return "a date"
	case string:
		_ = x
		return "a string" // values stay out of errors: they may be personal data
	case bool:
		return fmt.Sprintf("a bool (%v)", x)
	case float64, json.Number, int, int64:
		return fmt.Sprintf("a number (%v)", x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}
