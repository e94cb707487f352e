package bounce

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// VERP makes and verifies variable envelope return paths of the form
// local+d<delivery id>.<tag>@domain, where tag is a truncated HMAC-SHA256 of
// "d<delivery id>" under a secret key. The tag is lower-case base32 because
// some MTAs lower-case local parts.
type VERP struct {
	Local  string // e.g. "bounces"
	Domain string // e.g. "bounce.caf.example"
	Key    []byte // at least 16 bytes, from COURRIER_BOUNCE_SECRET
}

// tagLen is the length of the tag in base32 characters (65 bits).
const tagLen = 13

// Errors returned by VERP.Parse.
var (
	// ErrNotVERP: the address is not one of ours (other local part or domain).
	ErrNotVERP = errors.New("not a VERP address")
	// ErrForged: the address has our shape but its tag does not verify.
	ErrForged = errors.New("VERP tag does not verify")
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewVERP returns a VERP for local@domain with key, or an error naming the
// setting that is wrong.
func NewVERP(local, domain string, key []byte) (*VERP, error) {
	if local == "" || strings.ContainsAny(local, "+@ ") {
		return nil, fmt.Errorf("bounce local part %q must be non-empty, without '+', '@' or spaces", local)
	}
	if domain == "" || strings.ContainsAny(domain, "@ ") {
		return nil, fmt.Errorf("bounce domain %q is not a domain", domain)
	}
	if len(key) < 16 {
		return nil, errors.New("COURRIER_BOUNCE_SECRET must be at least 16 bytes")
	}
	return &VERP{Local: strings.ToLower(local), Domain: strings.ToLower(domain), Key: key}, nil
}

func (v *VERP) tag(id string) string {
	m := hmac.New(sha256.New, v.Key)
	m.Write([]byte(id))
	return b32.EncodeToString(m.Sum(nil))[:tagLen]
}

// Address returns the return path of delivery id.
func (v *VERP) Address(deliveryID int64) string {
	id := "d" + strconv.FormatInt(deliveryID, 10)
	return v.Local + "+" + id + "." + v.tag(id) + "@" + v.Domain
}

// Parse returns the delivery id named by addr (with or without angle
// brackets). It returns ErrNotVERP for an address that is not ours and
// ErrForged for one whose tag does not verify.
func (v *VERP) Parse(addr string) (int64, error) {
	addr = strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || addr[at+1:] != v.Domain {
		return 0, ErrNotVERP
	}
	local, ok := strings.CutPrefix(addr[:at], v.Local+"+")
	if !ok {
		return 0, ErrNotVERP
	}
	id, tag, ok := strings.Cut(local, ".")
	if !ok || len(id) < 2 || id[0] != 'd' {
		return 0, ErrForged
	}
	n, err := strconv.ParseInt(id[1:], 10, 64)
	if err != nil || n <= 0 {
		return 0, ErrForged
	}
	if !hmac.Equal([]byte(tag), []byte(v.tag(id))) {
		return 0, ErrForged
	}
	return n, nil
}
