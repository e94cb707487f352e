package rfc3161_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/tsatest"
	"github.com/courrier-dev/courrier/ledger/rfc3161"
)

func TestTokenFromARealTSA(t *testing.T) {
	t.Parallel()
	url, roots := tsatest.Start(t)
	c := &rfc3161.Client{URL: url}
	data := []byte("courrier-ledger\n12\nAAAA\n")
	token, err := c.Timestamp(context.Background(), data)
	require.NoError(t, err)

	v := &rfc3161.Verifier{Roots: roots}
	at, err := v.VerifyToken(token, data)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), at, 5*time.Minute)

	_, err = v.VerifyToken(token, []byte("another checkpoint"))
	require.ErrorContains(t, err, "for other data")

	_, err = (&rfc3161.Verifier{Roots: x509.NewCertPool()}).VerifyToken(token, data)
	require.ErrorContains(t, err, "not signed by the configured timestamp authority")

	bad := append([]byte(nil), token...)
	bad[len(bad)-3] ^= 0xff // inside the signature
	_, err = v.VerifyToken(bad, data)
	require.Error(t, err)
}
