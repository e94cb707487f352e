package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/jobs"
)

type keyCtx struct{}

// KeyFromContext returns the key that authenticated the request.
func KeyFromContext(ctx context.Context) (Key, bool) {
	k, ok := ctx.Value(keyCtx{}).(Key)
	return k, ok
}

// WithKey returns ctx carrying k (for code that acts on a key's behalf
// outside HTTP, and tests).
func WithKey(ctx context.Context, k Key) context.Context {
	return context.WithValue(ctx, keyCtx{}, k)
}

// Actor names who writes, for created_by columns: "key:12", or
// "key:12/Marie Curie" for a key that belongs to an operator. It is "" when
// ctx carries no key.
func Actor(ctx context.Context) string {
	k, ok := KeyFromContext(ctx)
	if !ok {
		return ""
	}
	s := "key:" + strconv.FormatInt(k.ID, 10)
	if k.Operator != "" {
		s += "/" + k.Operator
	}
	return s
}

// lastUsedEvery throttles the last_used_at writes of a busy key.
const lastUsedEvery = time.Minute

// Authenticate returns middleware that reads "Authorization: Bearer <key>",
// looks the key up by its hash and puts it in the request's context. A
// missing, unknown or revoked key is answered 401 before h runs.
func Authenticate(db *pgxpool.Pool) func(h http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k, err := lookupKey(r.Context(), db, r.Header.Get("Authorization"))
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					e = toError(err)
				}
				if e.Status == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="courrier"`)
				}
				writeError(w, e)
				return
			}
			h.ServeHTTP(w, r.WithContext(WithKey(r.Context(), k)))
		})
	}
}

func unauthorized(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: msg}
}

func lookupKey(ctx context.Context, db *pgxpool.Pool, header string) (Key, error) {
	scheme, secret, _ := strings.Cut(strings.TrimSpace(header), " ")
	secret = strings.TrimSpace(secret)
	if header == "" {
		return Key{}, unauthorized("an API key is required: send Authorization: Bearer <key>")
	}
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return Key{}, unauthorized("the Authorization header must be: Bearer <key>")
	}
	var k Key
	var revoked *time.Time
	err := db.QueryRow(ctx, `
		WITH k AS (
		    SELECT id, name, operator, scopes, test, revoked_at, last_used_at FROM api_keys WHERE hash = $1
		), touched AS (
		    UPDATE api_keys SET last_used_at = now()
		    WHERE id = (SELECT id FROM k WHERE revoked_at IS NULL)
		      AND (last_used_at IS NULL OR last_used_at < now() - $2::interval)
		)
		SELECT id, name, operator, scopes, test, revoked_at FROM k`,
		jobs.HashAPISecret(secret), fmt.Sprintf("%d seconds", int(lastUsedEvery.Seconds())),
	).Scan(&k.ID, &k.Name, &k.Operator, &k.Scopes, &k.Test, &revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, unauthorized("invalid API key")
	}
	if err != nil {
		return Key{}, fmt.Errorf("look up API key: %w", err)
	}
	if revoked != nil {
		return Key{}, unauthorized("this API key was revoked")
	}
	return k, nil
}

// RequireScope answers 403 unless the request's key has scope, which may
// list alternatives separated by "|" ("ingest|staff"). It answers 401 if the
// request was not authenticated (Authenticate must run first).
func RequireScope(scope string, h http.Handler) http.Handler {
	allowed := strings.Split(scope, "|")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := KeyFromContext(r.Context())
		if !ok {
			writeError(w, unauthorized("an API key is required: send Authorization: Bearer <key>"))
			return
		}
		for _, s := range allowed {
			if k.Has(s) {
				h.ServeHTTP(w, r)
				return
			}
		}
		quoted := make([]string, len(allowed))
		for i, s := range allowed {
			quoted[i] = strconv.Quote(s)
		}
		writeError(w, &Error{Status: http.StatusForbidden, Code: CodeForbidden,
			Message: fmt.Sprintf("this API key lacks the %s scope", strings.Join(quoted, " or "))})
	})
}
