package main

import (
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/console"
	"github.com/courrier-dev/courrier/httpapi"
	"github.com/courrier-dev/courrier/templates"
)

// mountConsole serves the staff console under /console. Cookies are Secure
// unless COURRIER_CONSOLE_INSECURE_COOKIES=1 (plain HTTP behind no TLS, other
// than localhost, which browsers treat as secure anyway).
func (e *Env) mountConsole(api *httpapi.Server, pool *pgxpool.Pool, client *river.Client[pgx.Tx], tpl *templates.Set,
	cfg *campaigns.Config, logger *slog.Logger) error {
	key, err := e.ledgerKey()
	if err != nil {
		return err
	}
	c := &console.Console{DB: pool, LedgerKey: key, River: client, Templates: tpl, Campaigns: cfg, Logger: logger,
		InsecureCookies: e.Getenv("COURRIER_CONSOLE_INSECURE_COOKIES") == "1"}
	h, err := c.Handler()
	if err != nil {
		return err
	}
	api.Handle(console.Prefix+"/", h)
	api.Handle("GET "+console.Prefix, http.RedirectHandler(console.Prefix+"/", http.StatusSeeOther))
	return nil
}
