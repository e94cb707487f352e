package main

import (
	"fmt"
	"net"
	"net/http"
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
	srv := &http.Server{
		Handler:           httpapi.LimitBodies(maxBodies, bodyWait, handler),
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeader,
	}
	return srv, netutil.LimitListener(ln, maxConns), nil
}

// riverUIDeadlines lets an authenticated River UI request keep its
// connection longer than httpWriteTimeout (its pages poll and may stream).
func riverUIDeadlines(h http.Handler) http.Handler {
	return httpapi.ExtendDeadlines(httpReadTimeout, 0, h)
}
