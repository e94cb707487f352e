package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/jobs"
)

// Callbacks serves a key's own status callback registration:
//
//	PUT    /v1/callback           {"url": "https://…"} → the signing secret, once
//	GET    /v1/callback           the registration (never the secret)
//	DELETE /v1/callback
//	GET    /v1/callback/failures  callbacks whose last attempt failed (admin: ?key=ID for any key)
type Callbacks struct {
	DB     *pgxpool.Pool
	Logger *slog.Logger
}

const anyScope = ScopeIngest + "|" + ScopeStaff + "|" + ScopeAdmin + "|" + ScopeAudit

// Register mounts the callback endpoints; any authenticated key may
// manage its own callback.
func (h *Callbacks) Register(s *Server) {
	auth := Authenticate(h.DB)
	s.Handle("PUT /v1/callback", auth(RequireScope(anyScope, requireJSON(http.HandlerFunc(h.put)))))
	s.Handle("GET /v1/callback", auth(RequireScope(anyScope, http.HandlerFunc(h.get))))
	s.Handle("DELETE /v1/callback", auth(RequireScope(anyScope, http.HandlerFunc(h.delete))))
	s.Handle("GET /v1/callback/failures", auth(RequireScope(anyScope, http.HandlerFunc(h.failures))))
}

func (h *Callbacks) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, jobs.ErrNoCallback):
		writeError(w, notFound("", "this API key has no status callback: PUT /v1/callback"))
		return
	case errors.Is(err, jobs.ErrKeyNotFound):
		writeError(w, notFound("", "API key not found or revoked"))
		return
	}
	e := toError(err)
	if e.Status >= 500 {
		l := h.Logger
		if l == nil {
			l = slog.Default()
		}
		l.Error("callback request failed", "route", r.Pattern, "key_id", keyID(r.Context()), "error", err)
	}
	writeError(w, e)
}

func (h *Callbacks) put(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL string `json:"url"`
	}
	if err := decodeJSON(w, r, &req, DefaultMaxBodyBytes); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := jobs.CheckCallbackURL(req.URL); err != nil {
		writeError(w, invalid("url", "%s", err.Error()))
		return
	}
	secret, cb, err := jobs.SetCallback(r.Context(), h.DB, keyID(r.Context()), req.URL)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"callback": cb, "secret": secret,
		"message": "store the secret now: it is shown only once. Verify " + jobs.CallbackSignatureHeader +
			" (t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">) and reject timestamps outside your replay window.",
	})
}

func (h *Callbacks) get(w http.ResponseWriter, r *http.Request) {
	cb, err := jobs.GetCallback(r.Context(), h.DB, keyID(r.Context()))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cb)
}

func (h *Callbacks) delete(w http.ResponseWriter, r *http.Request) {
	if err := jobs.RemoveCallback(r.Context(), h.DB, keyID(r.Context())); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Callbacks) failures(w http.ResponseWriter, r *http.Request) {
	k, _ := KeyFromContext(r.Context())
	f := jobs.CallbackFilter{KeyID: k.ID}
	if v := r.URL.Query().Get("key"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 0 {
			writeError(w, invalid("key", "must be a key id"))
			return
		}
		if id != k.ID && !k.Has(ScopeAdmin) {
			writeError(w, &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "only an admin key may list another key's callbacks"})
			return
		}
		f.KeyID = id
	} else if k.Has(ScopeAdmin) {
		f.KeyID = 0
	}
	after, limit, err := page(r)
	if err != nil {
		writeError(w, toError(err))
		return
	}
	f.Before, f.Limit = after, limit
	list, err := jobs.ListFailedCallbacks(r.Context(), h.DB, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	body := map[string]any{"items": list}
	if len(list) == limit {
		body["next_cursor"] = cursorFor(list[len(list)-1].ID)
	}
	writeJSON(w, http.StatusOK, body)
}
