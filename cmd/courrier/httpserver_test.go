package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

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
