package main

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/netutil"

	"github.com/courrier-dev/courrier/httpapi"
)

// HTTP server limits. The webhook and unsubscribe endpoints face the
// internet unauthenticated: no client may hold a connection open for long,
// and the number of connections and of bodies being read is capped.
const (
	httpReadHeaderTimeout = 10 * time.Second
	// httpReadTimeout covers the whole request, body included; an
	// authenticated CSV import extends it (httpapi.ExtendDeadlines).
	httpReadTimeout  = 30 * time.Second
	httpWriteTimeout = 60 * time.Second
	httpIdleTimeout  = 60 * time.Second
	httpMaxHeader    = 64 << 10
	// bodyWait is how long a request waits for a body-reading slot.
	bodyWait = 5 * time.Second
)

// httpTimeouts are the server's timeouts; tests shorten them (Env.httpTimeouts).
type httpTimeouts struct {
	header, read, write, idle time.Duration
}

var defaultHTTPTimeouts = httpTimeouts{header: httpReadHeaderTimeout, read: httpReadTimeout, write: httpWriteTimeout, idle: httpIdleTimeout}

// listenHTTP returns the server of handler and its listener, with the
// timeouts above, at most COURRIER_HTTP_MAX_CONNS connections (default
// 1024) and COURRIER_HTTP_MAX_BODIES bodies read at once (default 64).
func (e *Env) listenHTTP(addr string, handler http.Handler) (*http.Server, net.Listener, error) {
	maxConns, err := e.int("COURRIER_HTTP_MAX_CONNS", 1024)
	if err != nil {
		return nil, nil, err
	}
	maxBodies, err := e.int("COURRIER_HTTP_MAX_BODIES", 64)
	if err != nil {
		return nil, nil, err
	}
	if maxConns < 1 || maxBodies < 1 {
		return nil, nil, fmt.Errorf("COURRIER_HTTP_MAX_CONNS and COURRIER_HTTP_MAX_BODIES must be at least 1")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("http listen: %w", err)
	}
	to := defaultHTTPTimeouts
	if e.httpTimeouts != nil {
		to = *e.httpTimeouts
	}
	srv := &http.Server{
		Handler:           httpapi.LimitBodies(maxBodies, bodyWait, handler),
		ReadHeaderTimeout: to.header,
		ReadTimeout:       to.read,
		WriteTimeout:      to.write,
		IdleTimeout:       to.idle,
		MaxHeaderBytes:    httpMaxHeader,
	}
	return srv, netutil.LimitListener(ln, maxConns), nil
}

// riverUIGuard protects River UI's mutating endpoints (cancel, retry,
// delete jobs, pause queues) from cross-site requests made with an admin's
// browser credentials (Basic authentication is sent automatically). The
// standard library's cross-origin protection refuses cross-origin unsafe
// requests (Sec-Fetch-Site, then Origin against Host); on top of it a
// mutating request must prove it comes from the UI's own origin with one of
// those headers, which a browser always sends and a page elsewhere cannot
// forge. (The UI sends no custom header or token of its own, and its POSTs
// are text/plain, so neither can be required.) Scripts calling the River
// UI API directly send "Sec-Fetch-Site: same-origin".
func riverUIGuard(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !sameOrigin(r) {
				http.Error(w, "River UI: a mutating request must come from the River UI page (Sec-Fetch-Site: same-origin or a matching Origin)", http.StatusForbidden)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
}

// sameOrigin reports whether r says it comes from its own origin.
func sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return true
	}
	o, err := url.Parse(r.Header.Get("Origin"))
	return err == nil && o.Host != "" && o.Host == r.Host
}

// riverUIDeadlines lets an authenticated River UI request keep its
// connection longer than httpWriteTimeout (its pages poll and may stream).
func riverUIDeadlines(h http.Handler) http.Handler {
	return httpapi.ExtendDeadlines(httpReadTimeout, 0, h)
}
