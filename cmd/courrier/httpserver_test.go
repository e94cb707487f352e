package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestListenHTTPSetsEveryLimit(t *testing.T) {
	t.Parallel()
	env := &Env{Getenv: func(string) string { return "" }}
	srv, ln, err := env.listenHTTP("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	require.NoError(t, err)
	defer srv.Close()
	require.NotZero(t, srv.ReadHeaderTimeout)
	require.NotZero(t, srv.ReadTimeout)
	require.NotZero(t, srv.WriteTimeout)
	require.NotZero(t, srv.IdleTimeout)
	require.Equal(t, httpMaxHeader, srv.MaxHeaderBytes)
	go func() { _ = srv.Serve(ln) }()

	// A header over MaxHeaderBytes is refused.
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 2*httpMaxHeader))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)

	env = &Env{Getenv: func(k string) string {
		if k == "COURRIER_HTTP_MAX_CONNS" {
			return "0"
		}
		return ""
	}}
	_, _, err = env.listenHTTP("127.0.0.1:0", nil)
	require.Error(t, err)
}

func TestRiverUIGuardRefusesCrossSiteMutations(t *testing.T) {
	t.Parallel()
	reached := 0
	h := riverUIGuard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		w.WriteHeader(http.StatusNoContent)
	}))
	do := func(method, ctype string, headers map[string]string) int {
		req := httptest.NewRequest(method, "http://courrier.example/riverui/api/jobs/cancel", strings.NewReader(`{"job_ids":["1"]}`))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	// A page elsewhere posting text/plain with the admin's credentials.
	require.Equal(t, http.StatusForbidden, do("POST", "text/plain", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}))
	require.Equal(t, http.StatusForbidden, do("POST", "text/plain", map[string]string{"Origin": "https://evil.example"}))
	require.Equal(t, http.StatusForbidden, do("POST", "application/json", map[string]string{"Sec-Fetch-Site": "cross-site"}))
	// No origin header at all (not from the UI page): refused.
	require.Equal(t, http.StatusForbidden, do("POST", "text/plain", nil))
	require.Zero(t, reached)
	// The River UI's own requests (text/plain bodies) pass; reads pass.
	require.Equal(t, http.StatusNoContent, do("POST", "text/plain;charset=UTF-8", map[string]string{"Sec-Fetch-Site": "same-origin"}))
	require.Equal(t, http.StatusNoContent, do("PUT", "", map[string]string{"Origin": "http://courrier.example"}))
	require.Equal(t, http.StatusNoContent, do("GET", "", map[string]string{"Sec-Fetch-Site": "cross-site"}))
	require.Equal(t, 3, reached)
}

// Unauthenticated clients that send a request slowly (a header never
// finished, a body that stalls after a few bytes) or open a connection and
// say nothing are cut off by the server's timeouts: none can hold a
// connection open. The timeouts are shortened for the test; the assertion
// is that the server closes every connection, not how fast.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	env := &Env{Getenv: func(string) string { return "" },
		httpTimeouts: &httpTimeouts{header: 300 * time.Millisecond, read: 600 * time.Millisecond, write: time.Second, idle: 300 * time.Millisecond}}
	srv, ln, err := env.listenHTTP("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // like the webhook and unsubscribe handlers: read the whole form
		w.WriteHeader(http.StatusNoContent)
	}))
	require.NoError(t, err)
	defer srv.Close()
	go func() { _ = srv.Serve(ln) }()

	openings := map[string]string{
		"header never finished": "POST /webhooks/twilio/status HTTP/1.1\r\nHost: x\r\nX-Slow: ",
		"body stalls":           "POST /unsubscribe/abc HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nMessageSid=SM",
		"silent":                "",
	}
	var conns []net.Conn
	var names []string
	for range 20 {
		for name, opening := range openings {
			c, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			_, err = io.WriteString(c, opening)
			require.NoError(t, err)
			conns, names = append(conns, c), append(names, name)
		}
	}
	for i, c := range conns {
		// Far above the shortened timeouts: only a connection the server
		// never closes reaches this deadline.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
		_, err := io.Copy(io.Discard, c) // returns when the server closes
		require.NoError(t, err, "connection %d (%s) was not closed by the server", i, names[i])
	}
}
