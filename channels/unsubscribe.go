package channels

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The errors VerifyUnsubscribe returns (wrapped with detail).
var (
	ErrTokenMalformed = errors.New("unsubscribe token is malformed")
	ErrTokenSignature = errors.New("unsubscribe token has a bad signature")
	ErrTokenExpired   = errors.New("unsubscribe token has expired")
)

const tokenVersion = "u1"

var b64 = base64.RawURLEncoding

// SignUnsubscribe returns a URL-safe token that lets recipientID opt out of
// mailings of kind until expires. The token is the base64url payload
// "u1|recipientID|kind|expiresUnix" and its HMAC-SHA256 under secret,
// joined by a dot; it names no personal data beyond the recipient id.
func SignUnsubscribe(secret []byte, recipientID int64, kind string, expires time.Time) string {
	payload := strings.Join([]string{tokenVersion, strconv.FormatInt(recipientID, 10), kind, strconv.FormatInt(expires.Unix(), 10)}, "|")
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(unsubscribeMAC(secret, payload))
}

func unsubscribeMAC(secret []byte, payload string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// VerifyUnsubscribe checks token's signature and expiry at now and returns
// what it was signed for. Errors wrap ErrTokenMalformed, ErrTokenSignature
// or ErrTokenExpired.
func VerifyUnsubscribe(secret []byte, token string, now time.Time) (recipientID int64, kind string, err error) {
	p64, s64, ok := strings.Cut(token, ".")
	if !ok || p64 == "" || s64 == "" {
		return 0, "", fmt.Errorf("%w: expected payload.signature", ErrTokenMalformed)
	}
	payloadB, err := b64.DecodeString(p64)
	if err != nil {
		return 0, "", fmt.Errorf("%w: payload is not base64url", ErrTokenMalformed)
	}
	sig, err := b64.DecodeString(s64)
	if err != nil {
		return 0, "", fmt.Errorf("%w: signature is not base64url", ErrTokenMalformed)
	}
	payload := string(payloadB)
	// Check the signature before trusting anything in the payload.
	if !hmac.Equal(sig, unsubscribeMAC(secret, payload)) {
		return 0, "", ErrTokenSignature
	}
	parts := strings.Split(payload, "|")
	if len(parts) != 4 || parts[0] != tokenVersion {
		return 0, "", fmt.Errorf("%w: unknown payload layout", ErrTokenMalformed)
	}
	recipientID, err = strconv.ParseInt(parts[1], 10, 64)
	if err != nil || recipientID <= 0 {
		return 0, "", fmt.Errorf("%w: bad recipient id", ErrTokenMalformed)
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("%w: bad expiry", ErrTokenMalformed)
	}
	if expires := time.Unix(exp, 0); !now.Before(expires) {
		return 0, "", fmt.Errorf("%w (on %s)", ErrTokenExpired, expires.UTC().Format(time.DateOnly))
	}
	return recipientID, parts[2], nil
}
