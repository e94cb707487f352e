package channels

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestUnsubscribeToken(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2025, time.March, 1, 10, 0, 0, 0, time.UTC)
	tok := SignUnsubscribe(secret, 4242, "general_mailing", now.Add(90*24*time.Hour))
	require.Equal(t, url.PathEscape(tok), tok, "token is URL-safe")

	id, kind, err := VerifyUnsubscribe(secret, tok, now)
	require.NoError(t, err)
	require.EqualValues(t, 4242, id)
	require.Equal(t, "general_mailing", kind)

	_, _, err = VerifyUnsubscribe(secret, tok, now.Add(91*24*time.Hour))
	require.ErrorIs(t, err, ErrTokenExpired)

	_, _, err = VerifyUnsubscribe([]byte("another secret"), tok, now)
	require.ErrorIs(t, err, ErrTokenSignature)

	// A forged payload with the old signature.
	p, s, _ := strings.Cut(tok, ".")
	forged := b64.EncodeToString([]byte("u1|1|general_mailing|9999999999")) + "." + s
	_, _, err = VerifyUnsubscribe(secret, forged, now)
	require.ErrorIs(t, err, ErrTokenSignature)
	require.NotEmpty(t, p)

	for _, bad := range []string{"", "abc", ".", "abc.", "!!.!!", p + ".!!"} {
		_, _, err = VerifyUnsubscribe(secret, bad, now)
		require.ErrorIs(t, err, ErrTokenMalformed, bad)
	}

	// Well signed but not our layout.
	odd := "x|1"
	weird := b64.EncodeToString([]byte(odd)) + "." + b64.EncodeToString(unsubscribeMAC(secret, odd))
	_, _, err = VerifyUnsubscribe(secret, weird, now)
	require.ErrorIs(t, err, ErrTokenMalformed)
}
