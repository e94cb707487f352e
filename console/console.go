// Package console is the staff web console, served under /console by
// `courrier serve`: server-rendered French pages (html/template, embedded
// assets, no build step) on the same operations as the CLI and the API.
//
// Every page needs a staff session (package staff: password + TOTP) whose
// role grants the page's permission; every form carries the session's CSRF
// token; every action is recorded in the staff action log with the account.
package console

import (
	"github.com/courrier-dev/courrier/ledger"

	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/staff"
	"github.com/courrier-dev/courrier/templates"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Prefix is where the console is mounted.
const Prefix = "/console"

// Cookie names.
const (
	sessionCookie = "courrier_session"
	loginCookie   = "courrier_login_csrf"
)

// Console serves the staff console.
type Console struct {
	DB *pgxpool.Pool
	// LedgerKey signs the manifests of evidence packs (ledger.LoadKey).
	LedgerKey *ledger.Key
	// River inserts jobs (notices, campaign fan-outs) in the caller's transaction.
	River *river.Client[pgx.Tx]
	// Templates are the message templates (previews, sending).
	Templates *templates.Set
	// Campaigns configures campaign creation (approval threshold, templates).
	Campaigns *campaigns.Config
	// Policy sets session lengths and lockout.
	Policy staff.Policy
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// InsecureCookies drops the Secure attribute of cookies, for plain-HTTP
	// test servers only. Browsers keep Secure cookies on http://localhost.
	InsecureCookies bool

	pages map[string]*template.Template
	mux   *http.ServeMux
}

func (c *Console) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Console) log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// Handler returns the console's handler; mount it on Prefix+"/".
func (c *Console) Handler() (http.Handler, error) {
	if err := c.parse(); err != nil {
		return nil, err
	}
	if c.Campaigns == nil {
		c.Campaigns = &campaigns.Config{Templates: c.Templates}
	}
	m := http.NewServeMux()
	c.mux = m
	assets, _ := fs.Sub(assetFS, "assets")
	m.Handle("GET "+Prefix+"/assets/", http.StripPrefix(Prefix+"/assets/", http.FileServerFS(assets)))
	m.HandleFunc("GET "+Prefix+"/login", c.loginForm)
	m.HandleFunc("POST "+Prefix+"/login", c.login)
	m.Handle("POST "+Prefix+"/logout", c.auth("", c.logout))
	m.Handle("GET "+Prefix+"/{$}", c.auth("", c.home))
	c.routes(m)
	return securityHeaders(m), nil
}

// routes mounts the pages; each names the permission it needs.
func (c *Console) routes(m *http.ServeMux) {
	page := func(pattern string, p staff.Permission, h func(w http.ResponseWriter, r *http.Request, s *staff.Session)) {
		method, path, _ := strings.Cut(pattern, " ")
		m.Handle(method+" "+Prefix+path, c.auth(p, h))
	}
	page("GET /recipients", staff.PermViewRecipients, c.searchPage)
	page("GET /recipients/{ref}", staff.PermViewRecipients, c.recipientPage)
	page("GET /recipients/{ref}/evidence", staff.PermViewRecipients, c.recipientEvidence)
	page("GET /recipients/{ref}/send", staff.PermSend, c.sendForm)
	page("POST /recipients/{ref}/send", staff.PermSend, c.send)
	page("GET /requests", staff.PermRequests, c.requestsPage)
	page("GET /compliance", staff.PermCompliance, c.compliancePage)
	page("GET /compliance/{rule}", staff.PermCompliance, c.ruleListPage)
	page("GET /compliance/{rule}/evidence", staff.PermCompliance, c.ruleEvidence)
	page("GET /callbacks", staff.PermCompliance, c.callbacksPage)
	page("GET /templates", staff.PermTemplates, c.templatesPage)
	page("GET /templates/{key}", staff.PermTemplates, c.templatePage)
	c.campaignRoutes(page)
	c.importRoutes(page)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

type sessionKey struct{}

// auth runs h with the request's session when it is valid and its role
// grants perm ("" : any role); otherwise it redirects to the login page or
// answers 403. Every POST must carry the session's CSRF token.
func (c *Console) auth(perm staff.Permission, h func(w http.ResponseWriter, r *http.Request, s *staff.Session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var token string
		if ck, err := r.Cookie(sessionCookie); err == nil {
			token = ck.Value
		}
		s, err := staff.Lookup(r.Context(), c.DB, token, c.now(), c.Policy)
		if errors.Is(err, staff.ErrNoSession) {
			if r.Method != http.MethodGet {
				c.errorPage(w, r, nil, http.StatusUnauthorized, "Votre session a expiré. Reconnectez-vous.")
				return
			}
			http.Redirect(w, r, Prefix+"/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if err != nil {
			c.fail(w, r, nil, err)
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseMultipartForm(32 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
				c.errorPage(w, r, s, http.StatusBadRequest, "Formulaire illisible.")
				return
			}
			if !s.CheckCSRF(r.PostFormValue("csrf")) {
				_ = staff.Record(r.Context(), c.DB, s.Account, "csrf_refused", "", r.URL.Path)
				c.errorPage(w, r, s, http.StatusForbidden, "Jeton de sécurité (CSRF) absent ou invalide : rechargez la page et recommencez.")
				return
			}
		}
		if perm != "" && !s.Account.Role.Can(perm) {
			_ = staff.Record(r.Context(), c.DB, s.Account, "forbidden", "", r.Method+" "+r.URL.Path)
			c.errorPage(w, r, s, http.StatusForbidden, "Accès refusé : votre rôle ("+roleLabel(s.Account.Role)+") ne permet pas cette action.")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)), s)
	})
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	target := "/recipients"
	switch {
	case s.Account.Role.Can(staff.PermViewCampaigns) && s.Account.Role != staff.RoleAgent && s.Account.Role != staff.RoleAuditor:
		target = "/campaigns"
	case s.Account.Role == staff.RoleAuditor:
		target = "/compliance"
	}
	http.Redirect(w, r, Prefix+target, http.StatusSeeOther)
}

// view is what every page template receives.
type view struct {
	S     *staff.Session
	Title string
	Flash string
	D     any
}

func (v view) Can(p string) bool { return v.S != nil && v.S.Account.Role.Can(staff.Permission(p)) }

func (c *Console) render(w http.ResponseWriter, r *http.Request, s *staff.Session, status int, name, title string, data any) {
	t, ok := c.pages[name]
	if !ok {
		c.fail(w, r, s, fmt.Errorf("console: no page template %q", name))
		return
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", view{S: s, Title: title, Flash: r.URL.Query().Get("ok"), D: data}); err != nil {
		c.fail(w, r, s, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, s *staff.Session, status int, msg string) {
	c.render(w, r, s, status, "error", "Erreur", msg)
}

// fail logs an internal error (ids only) and shows a generic page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *staff.Session, err error) {
	var login string
	if s != nil {
		login = s.Account.Login
	}
	c.log().Error("console request failed", "route", r.Pattern, "staff", login, "error", err)
	c.errorPage(w, r, s, http.StatusInternalServerError, "Erreur interne : l'incident est journalisé. Réessayez plus tard.")
}

func (c *Console) parse() error {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	c.pages = map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs()).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("console template %s: %w", base, err)
		}
		c.pages[base] = t
	}
	return nil
}

// renderFragment renders one named block of a page, without the layout.
func (c *Console) renderFragment(w http.ResponseWriter, r *http.Request, s *staff.Session, page, block string, data any) {
	t, ok := c.pages[page]
	if !ok {
		c.fail(w, r, s, fmt.Errorf("console: no page template %q", page))
		return
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, block, view{S: s, D: data}); err != nil {
		c.fail(w, r, s, fmt.Errorf("render %s/%s: %w", page, block, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
