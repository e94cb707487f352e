package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CodeUnsupportedMediaType is the code of a 415 answer: a JSON endpoint
// given a body of another type.
const CodeUnsupportedMediaType = "unsupported_media_type"

// checkJSONText refuses a body that encoding/json would accept but that
// must not be stored: invalid UTF-8, null or not an object, and strings with
// control characters. The field is named by its JSON path.
func checkJSONText(raw []byte) error {
	if !utf8.Valid(raw) {
		return invalid("", "request body is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return invalid("", "request body is empty: a JSON object is expected")
	}
	if trimmed[0] != '{' {
		if bytes.Equal(trimmed, []byte("null")) {
			return invalid("", "a JSON object is expected, not null")
		}
		return nil // the strict decoder names the wrong type
	}
	var v any
	if err := json.Unmarshal(trimmed, &v); err != nil {
		return nil // the strict decoder says what is wrong
	}
	return checkStrings("", v)
}

func checkStrings(path string, v any) error {
	switch v := v.(type) {
	case string:
		return checkString(path, v)
	case map[string]any:
		for k, e := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if err := checkString(p, k); err != nil {
				return err
			}
			if err := checkStrings(p, e); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := checkStrings(path+"["+strconv.Itoa(i)+"]", e); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkString refuses NUL and control characters other than tab, CR and LF
// (free text such as a reason may have lines; names and contacts are held
// to the stricter recipients.CheckText).
func checkString(field, s string) error {
	for i, r := range s {
		if r == '\t' || r == '\n' || r == '\r' {
			continue
		}
		if unicode.IsControl(r) {
			return invalid(field, "contains a control character (U+%04X at byte %d)", r, i)
		}
	}
	return nil
}

// requireJSON answers 415 to a request whose body is not declared as JSON
// (application/json or a +json type): a text/plain body must not be parsed
// as JSON, which is also what a cross-site form could send.
func requireJSON(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No body, no type: the handler answers that a body is required.
		hasBody := r.ContentLength != 0
		if hasBody && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
				writeError(w, &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType,
					Field: "Content-Type", Message: "the body must be JSON: send Content-Type: application/json"})
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// RequireJSON is requireJSON for handlers mounted outside Register.
func RequireJSON(h http.Handler) http.Handler { return requireJSON(h) }

// checkPath refuses a request path with invalid UTF-8 or control characters
// once unescaped (a NUL in a beneficiary number reached PostgreSQL and
// answered 500).
func checkPath(r *http.Request) *Error {
	p := r.URL.Path
	if !utf8.ValidString(p) {
		return invalid("path", "is not valid UTF-8")
	}
	for i, c := range p {
		if unicode.IsControl(c) {
			return invalid("path", "contains a control character (U+%04X at byte %d)", c, i)
		}
	}
	return nil
}

// dayInRange refuses dates PostgreSQL cannot store or that make no sense
// for a benefit (year 0, year 99999).
func dayInRange(field string, y int) error {
	if y < 1900 || y > 2200 {
		return invalid(field, "%s", fmt.Sprintf("year %d is out of range (1900 to 2200)", y))
	}
	return nil
}
