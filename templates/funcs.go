package templates

import (
	"fmt"
	"strings"
)

// funcs are the helpers every template may call. They are the same for
// html/template and text/template.
func funcs() map[string]any {
	return map[string]any{
		"date":       formatDate,
		"money":      formatMoney,
		"civility":   civility,
		"salutation": salutation,
		"fullname":   fullName,
		"join":       join,
		"plural":     plural,
		"site":       site,
		"paragraphs": paragraphs,
	}
}

// formatDate is the "date" helper: "15 mars 2027".
func formatDate(v any) (string, error) {
	d, reason := convert(TypeDate, v)
	if reason != "" {
		return "", fmt.Errorf("date: %s", reason)
	}
	return d.(Date).String(), nil
}

// formatMoney is the "money" helper: "1 234,56 €".
func formatMoney(v any) (string, error) {
	m, reason := convert(TypeMoney, v)
	if reason != "" {
		return "", fmt.Errorf("money: %s", reason)
	}
	return m.(Money).String(), nil
}

// civility is "Madame", "Monsieur", or "Madame, Monsieur" when unknown.
func civility(r Recipient) string {
	switch r.Civility {
	case "Mme":
		return "Madame"
	case "M.":
		return "Monsieur"
	}
	return "Madame, Monsieur"
}

// salutation names the recipient after "Bonjour": "Madame Martin",
// "Claire Martin" without a civility, "Madame, Monsieur" without a name.
func salutation(r Recipient) string {
	family := strings.TrimSpace(r.FamilyName)
	if family == "" {
		return civility(r)
	}
	if r.Civility == "Mme" || r.Civility == "M." {
		return civility(r) + " " + family
	}
	return strings.TrimSpace(strings.TrimSpace(r.GivenName) + " " + family)
}

// fullName is the recipient as on an envelope: "Mme Claire Martin".
func fullName(r Recipient) string {
	parts := []string{}
	for _, p := range []string{r.Civility, r.GivenName, r.FamilyName} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// join joins a list with sep, and the last two items with " et ".
func join(list []string, sep string) string {
	switch len(list) {
	case 0:
		return ""
	case 1:
		return list[0]
	}
	return strings.Join(list[:len(list)-1], sep) + " et " + list[len(list)-1]
}

// plural picks the singular for 0 and 1 (French usage), else the plural.
func plural(n any, singular, pluralForm string) string {
	var c int64
	switch x := n.(type) {
	case int:
		c = int64(x)
	case int64:
		c = x
	case []string:
		c = int64(len(x))
	}
	if c > 1 || c < -1 {
		return pluralForm
	}
	return singular
}

// site is a web address without its scheme, for texts: "www.caf.fr".
func site(url string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://")
	return strings.TrimSuffix(s, "/")
}

// paragraphs splits a free text on blank lines, so that HTML templates can
// wrap each paragraph in <p> while the text is still escaped.
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
