// Package tsatest runs a real RFC 3161 timestamp authority for tests:
// OpenSSL's `openssl ts -reply` (Debian's openssl package) behind an
// in-process HTTP handler, with a key and certificate made for the test.
package tsatest

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Start starts a TSA and returns its URL and the pool holding its
// certificate (what a verifier trusts).
func Start(t testing.TB) (url string, roots *x509.CertPool) {
	url, roots, _ = StartWithCert(t)
	return url, roots
}

// StartWithCert is Start that also returns the PEM file of the TSA's
// certificate.
func StartWithCert(t testing.TB) (url string, roots *x509.CertPool, certFile string) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is required (apt-get install -y openssl): %v", err)
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tsa.key", "-out", "tsa.crt",
		"-days", "2", "-subj", "/CN=courrier test TSA", "-addext", "extendedKeyUsage=critical,timeStamping",
		"-addext", "keyUsage=critical,digitalSignature")
	cfg := `[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = ` + dir + `
serial = ` + dir + `/serial
crypto_device = builtin
signer_cert = ` + dir + `/tsa.crt
signer_key = ` + dir + `/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`
	for name, body := range map[string]string{"tsa.cnf": cfg, "serial": "01\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := io.ReadAll(r.Body)
		if err != nil || r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		req, err := os.CreateTemp(dir, "q-*.tsq")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = req.Write(q)
		req.Close()
		resp := req.Name() + ".tsr"
		cmd := exec.Command("openssl", "ts", "-reply", "-config", filepath.Join(dir, "tsa.cnf"), "-queryfile", req.Name(), "-out", resp)
		if out, err := cmd.CombinedOutput(); err != nil {
			http.Error(w, string(out), http.StatusInternalServerError)
			return
		}
		b, err := os.ReadFile(resp)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	pemBytes, err := os.ReadFile(filepath.Join(dir, "tsa.crt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return srv.URL, roots, filepath.Join(dir, "tsa.crt")
}
