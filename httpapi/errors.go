package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/requests"
)

// Error codes of the JSON error body.
const (
	CodeUnauthorized = "unauthorized" // 401: no key, unknown key, revoked key
	CodeForbidden    = "forbidden"    // 403: the key lacks the scope
	CodeInvalid      = "invalid"      // 400: bad input; field names it
	CodeNotFound     = "not_found"    // 404
	CodeConflict     = "conflict"     // 409: an id replayed with different content
	CodeTooLarge     = "too_large"    // 413: body over the limit
	CodeInternal     = "internal"     // 500
)

// Error is an API error, written as {"error": {"code", "message", "field"}}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Code + ": " + e.Field + ": " + e.Message
	}
	return e.Code + ": " + e.Message
}

func invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Field: field, Message: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, map[string]*Error{"error": e})
}

// toError maps an error of the packages below to an API error; anything
// unknown is internal.
func toError(err error) *Error {
	var (
		apiErr   *Error
		tooLarge *http.MaxBytesError
		inv      *requests.InvalidError
		field    *recipients.FieldError
		fileErr  *recipients.FileError
	)
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &tooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)}
	case errors.As(err, &inv):
		return invalid(inv.Field, "%s", inv.Reason)
	case errors.As(err, &field):
		return invalid(field.Field, "%s", recipients.RedactedReason(field))
	case errors.As(err, &fileErr):
		return invalid(fileErr.Field, "%s", fileErr.Reason)
	case errors.Is(err, jobs.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: conflictMessage(err)}
	case errors.Is(err, requests.ErrNotFound):
		return notFound("", "no such request")
	case errors.Is(err, notices.ErrNotFound):
		return notFound("", "no such notice")
	case errors.Is(err, recipients.ErrNotFound):
		return notFound("recipient_ref", "no beneficiary has this number")
	case errors.Is(err, notices.ErrInvalid):
		return invalid("", "%s", err.Error())
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
}

// conflictMessage keeps the message of a conflict after its "conflict: "
// prefix.
func conflictMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, jobs.ErrConflict.Error()+": "); i >= 0 {
		return msg[i+len(jobs.ErrConflict.Error())+2:]
	}
	return msg
}

// decodeJSON reads one JSON object into dst, rejecting unknown fields,
// trailing data, bodies over max bytes, a null body, invalid UTF-8 (which
// encoding/json would store as U+FFFD) and control characters in strings
// (NUL anywhere; any but tab, CR and LF), naming the field.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any, max int64) error {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		return err
	}
	if err := checkJSONText(raw); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil {
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return invalid("", "malformed JSON: data after the object")
		}
		return nil
	}
	var (
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		unmarshal *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &tooLarge):
		return err
	case errors.Is(err, io.EOF):
		return invalid("", "request body is empty: a JSON object is expected")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("", "malformed JSON: unexpected end of body")
	case errors.As(err, &syntax):
		return invalid("", "malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return invalid("", "a JSON object is expected, not %s", typeErr.Value)
		}
		return invalid(typeErr.Field, "must be %s, not %s", jsonType(typeErr.Type.Kind().String()), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(name, "unknown field")
	case errors.As(err, &unmarshal):
		return err
	}
	return invalid("", "malformed JSON: %s", err.Error())
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int64", "int32", "float64", "float32":
		return "a number"
	}
	return "a " + kind
}

// createdStatus is 201 for what a request created and 200 for an
// idempotent replay that found it already there.
func createdStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}
