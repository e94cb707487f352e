package httpapi

import (
	"context"
	_ "embed"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/agencies"
	"github.com/courrier-dev/courrier/requests"
)

// Body limits.
const (
	DefaultMaxBodyBytes   = 1 << 20  // JSON bodies
	DefaultMaxImportBytes = 50 << 20 // CSV imports
)

//go:embed openapi.json
var openapiJSON []byte

// OpenAPI returns the OpenAPI document of the /v1 API, as served at
// GET /v1/openapi.json.
func OpenAPI() []byte { return openapiJSON }

// API is the /v1 intake and status API.
type API struct {
	DB *pgxpool.Pool
	// River inserts deliver jobs in the transaction of each write; an
	// insert-only client (jobs.NewInsertClient) is enough.
	River  *river.Client[pgx.Tx]
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Deadlines of requests and complaints.
	Deadlines requests.Settings
	// Agencies resolve each beneficiary's Caf (nil: the embedded example).
	Agencies *agencies.Set
	// MaxBodyBytes limits JSON bodies (default 1 MiB).
	MaxBodyBytes int64
	// MaxImportBytes limits CSV import bodies (default 50 MiB).
	MaxImportBytes int64
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *API) log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

func (a *API) maxBody() int64 {
	if a.MaxBodyBytes > 0 {
		return a.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

func (a *API) maxImport() int64 {
	if a.MaxImportBytes > 0 {
		return a.MaxImportBytes
	}
	return DefaultMaxImportBytes
}

// read and write name the scopes of each kind of endpoint.
const (
	scopeWrite        = ScopeIngest
	scopeRecipientPut = ScopeIngest + "|" + ScopeStaff
	scopeAnswer       = ScopeIngest + "|" + ScopeStaff
	scopeReadPersonal = ScopeStaff + "|" + ScopeAudit
	scopeReadStatus   = ScopeIngest + "|" + ScopeStaff + "|" + ScopeAudit
)

// Register mounts every /v1 route on s.
func (a *API) Register(s *Server) {
	auth := Authenticate(a.DB)
	route := func(pattern, scope string, h http.HandlerFunc) {
		s.Handle(pattern, auth(RequireScope(scope, h)))
	}
	jsonRoute := func(pattern, scope string, h http.HandlerFunc) {
		s.Handle(pattern, auth(RequireScope(scope, requireJSON(h))))
	}
	s.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapiJSON)
	})
	jsonRoute("PUT /v1/recipients/{ref}", scopeRecipientPut, a.putRecipient)
	route("GET /v1/recipients/{ref}", scopeReadPersonal, a.getRecipient)
	// An authenticated import may take longer than the server's read timeout.
	s.Handle("POST /v1/recipients:import", auth(RequireScope(scopeRecipientPut, ExtendDeadlines(10*time.Minute, 10*time.Minute, http.HandlerFunc(a.importRecipients)))))
	jsonRoute("POST /v1/events/rights", scopeWrite, a.postRightsEvent)
	jsonRoute("POST /v1/events/life", scopeWrite, a.postLifeEvent)
	jsonRoute("POST /v1/requests", scopeWrite, a.postRequest)
	jsonRoute("POST /v1/requests/{id}/answer", scopeAnswer, a.answerRequest)
	route("GET /v1/requests/{id}", scopeReadStatus, a.getRequest)
	route("GET /v1/notices/{id}", scopeReadStatus, a.getNotice)
	a.registerLists(route)
	route("POST /v1/letters/returned", scopeWrite, a.postReturnedLetters)
	s.Handle("/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("", "no such endpoint: see /v1/openapi.json"))
	}))
}

// fail writes err as an API error; internal errors are logged (ids only:
// error texts of this package never carry personal data).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(err)
	if e.Status >= 500 {
		if r.Context().Err() != nil {
			e = &Error{Status: http.StatusServiceUnavailable, Code: CodeInternal, Message: "request cancelled"}
		} else {
			a.log().Error("api request failed", "route", r.Pattern, "key_id", keyID(r.Context()), "error", err)
		}
	}
	writeError(w, e)
}

func keyID(ctx context.Context) int64 {
	k, _ := KeyFromContext(ctx)
	return k.ID
}

// inTx runs f in a transaction committed when f returns nil.
func (a *API) inTx(ctx context.Context, f func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, a.DB, f)
}

// page reads ?cursor=&limit= (default limit 50, at most 200). The cursor is
// opaque to clients: the last id seen, encoded.
func page(r *http.Request) (after int64, limit int, err error) {
	limit = 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return 0, 0, invalid("limit", "must be a whole number from 1 to 200")
		}
		limit = n
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err == nil {
			after, err = strconv.ParseInt(string(b), 10, 64)
		}
		if err != nil || after <= 0 {
			return 0, 0, invalid("cursor", "is not a cursor returned by this API")
		}
	}
	return after, limit, nil
}

func cursorFor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}
