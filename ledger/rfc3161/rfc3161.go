// Package rfc3161 obtains and verifies RFC 3161 timestamp tokens: a
// timestamp authority (TSA) signs "this hash existed at this time". The
// ledger has each signed checkpoint countersigned by one.
//
// It is written on encoding/asn1 and crypto/x509 rather than on
// github.com/digitorus/timestamp, whose releases require a newer Go than
// this module's. It supports what a TSA returns in practice: a CMS
// SignedData token with signed attributes, SHA-256 message imprints, and RSA
// or ECDSA signatures with SHA-256/384/512.
package rfc3161

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"
)

var (
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type messageImprint struct {
	HashAlgorithm algorithmIdentifier
	HashedMessage []byte
}

type timeStampReq struct {
	Version        int
	MessageImprint messageImprint
	Nonce          *big.Int `asn1:"optional"`
	CertReq        bool     `asn1:"optional,default:false"`
}

type pkiStatusInfo struct {
	Status       int
	StatusString asn1.RawValue  `asn1:"optional"`
	FailInfo     asn1.BitString `asn1:"optional"`
}

type timeStampResp struct {
	Status         pkiStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     []byte `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    algorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm algorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint messageImprint
	SerialNumber   *big.Int
	GenTime        time.Time     `asn1:"generalized"`
	Rest           asn1.RawValue `asn1:"optional"`
}

// Client asks a TSA for tokens over HTTP (RFC 3161 §3.4).
type Client struct {
	URL  string
	HTTP *http.Client
}

// Timestamp returns a token over SHA-256(data).
func (c *Client) Timestamp(ctx context.Context, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	req, err := asn1.Marshal(timeStampReq{Version: 1, MessageImprint: messageImprint{
		HashAlgorithm: algorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}, HashedMessage: sum[:]},
		Nonce: nonce, CertReq: true})
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(req))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/timestamp-query")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("timestamp authority: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("timestamp authority: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("timestamp authority: HTTP %d", resp.StatusCode)
	}
	var tr timeStampResp
	if _, err := asn1.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("timestamp authority: response: %w", err)
	}
	if tr.Status.Status > 1 || len(tr.TimeStampToken.FullBytes) == 0 {
		return nil, fmt.Errorf("timestamp authority refused the request (status %d)", tr.Status.Status)
	}
	info, _, err := parse(tr.TimeStampToken.FullBytes)
	if err != nil {
		return nil, err
	}
	if info.nonce != nil && info.nonce.Cmp(nonce) != 0 {
		return nil, errors.New("timestamp authority: the token answers another request (nonce)")
	}
	return tr.TimeStampToken.FullBytes, nil
}

// parsedInfo is a TSTInfo with its raw tail (nonce and the rest).
type parsedInfo struct {
	tstInfo
	nonce *big.Int
}

func (p parsedInfo) Nonce() *big.Int {
	if p.nonce == nil {
		return new(big.Int)
	}
	return p.nonce
}

func parse(token []byte) (parsedInfo, *signedData, error) {
	var ci contentInfo
	if _, err := asn1.Unmarshal(token, &ci); err != nil {
		return parsedInfo{}, nil, fmt.Errorf("timestamp token: %w", err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return parsedInfo{}, nil, errors.New("timestamp token: not CMS signed data")
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return parsedInfo{}, nil, fmt.Errorf("timestamp token: signed data: %w", err)
	}
	if !sd.EncapContentInfo.EContentType.Equal(oidTSTInfo) {
		return parsedInfo{}, nil, errors.New("timestamp token: content is not a TSTInfo")
	}
	var info parsedInfo
	rest, err := asn1.Unmarshal(sd.EncapContentInfo.EContent, &info.tstInfo)
	if err != nil || len(rest) != 0 {
		return parsedInfo{}, nil, fmt.Errorf("timestamp token: TSTInfo: %v", err)
	}
	// TSTInfo's INTEGERs at top level are version, serialNumber and, if
	// present, the nonce.
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(sd.EncapContentInfo.EContent, &seq); err == nil {
		ints := 0
		for b := seq.Bytes; len(b) > 0; {
			var v asn1.RawValue
			r, err := asn1.Unmarshal(b, &v)
			if err != nil {
				break
			}
			if v.Class == asn1.ClassUniversal && v.Tag == asn1.TagInteger {
				if ints++; ints == 3 {
					n := new(big.Int)
					if _, err := asn1.Unmarshal(v.FullBytes, &n); err == nil {
						info.nonce = n
					}
				}
			}
			b = r
		}
	}
	return info, &sd, nil
}

// Verifier checks tokens against the TSA's certificate(s).
type Verifier struct {
	Roots *x509.CertPool
}

// VerifyToken checks that token is a timestamp over SHA-256(data), signed
// by a certificate that chains to v.Roots and may sign timestamps, and
// returns the time it states.
func (v *Verifier) VerifyToken(token, data []byte) (time.Time, error) {
	info, sd, err := parse(token)
	if err != nil {
		return time.Time{}, err
	}
	sum := sha256.Sum256(data)
	if !info.MessageImprint.HashAlgorithm.Algorithm.Equal(oidSHA256) || !bytes.Equal(info.MessageImprint.HashedMessage, sum[:]) {
		return time.Time{}, errors.New("the timestamp token is for other data (message imprint differs)")
	}
	if len(sd.SignerInfos) != 1 {
		return time.Time{}, errors.New("timestamp token: want one signer")
	}
	si := sd.SignerInfos[0]
	var certs []*x509.Certificate
	if len(sd.Certificates.Bytes) > 0 {
		if certs, err = x509.ParseCertificates(sd.Certificates.Bytes); err != nil {
			return time.Time{}, fmt.Errorf("timestamp token: certificates: %w", err)
		}
	}
	var signer *x509.Certificate
	for _, c := range certs {
		if _, err := c.Verify(x509.VerifyOptions{Roots: v.Roots, CurrentTime: info.GenTime,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err == nil {
			signer = c
			break
		}
	}
	if signer == nil {
		return time.Time{}, errors.New("timestamp token: not signed by the configured timestamp authority")
	}
	// Signed attributes: the content type and digest of the TSTInfo.
	if len(si.SignedAttrs.FullBytes) == 0 {
		return time.Time{}, errors.New("timestamp token: no signed attributes")
	}
	hash, err := hashFor(si.DigestAlgorithm.Algorithm)
	if err != nil {
		return time.Time{}, err
	}
	var attrs []attribute
	if _, err := asn1.UnmarshalWithParams(si.SignedAttrs.FullBytes, &attrs, "set,tag:0"); err != nil {
		return time.Time{}, fmt.Errorf("timestamp token: signed attributes: %w", err)
	}
	h := hash.New()
	h.Write(sd.EncapContentInfo.EContent)
	var digestOK, typeOK bool
	for _, a := range attrs {
		var vals []asn1.RawValue
		if _, err := asn1.UnmarshalWithParams(a.Values.FullBytes, &vals, "set"); err != nil || len(vals) != 1 {
			continue
		}
		switch {
		case a.Type.Equal(oidMessageDigest):
			var d []byte
			if _, err := asn1.Unmarshal(vals[0].FullBytes, &d); err == nil && bytes.Equal(d, h.Sum(nil)) {
				digestOK = true
			}
		case a.Type.Equal(oidContentType):
			var ct asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(vals[0].FullBytes, &ct); err == nil && ct.Equal(oidTSTInfo) {
				typeOK = true
			}
		}
	}
	if !digestOK || !typeOK {
		return time.Time{}, errors.New("timestamp token: signed attributes do not match its content")
	}
	// The signature is over the attributes re-tagged as a SET.
	signed := append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
	algo := signatureAlgorithm(signer, hash)
	if err := signer.CheckSignature(algo, signed, si.Signature); err != nil {
		return time.Time{}, fmt.Errorf("timestamp token: signature: %w", err)
	}
	return info.GenTime, nil
}

func hashFor(oid asn1.ObjectIdentifier) (crypto.Hash, error) {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256, nil
	case oid.Equal(oidSHA384):
		return crypto.SHA384, nil
	case oid.Equal(oidSHA512):
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("timestamp token: digest algorithm %v not supported", oid)
}

func signatureAlgorithm(c *x509.Certificate, h crypto.Hash) x509.SignatureAlgorithm {
	ecdsa := c.PublicKeyAlgorithm == x509.ECDSA
	switch h {
	case crypto.SHA384:
		if ecdsa {
			return x509.ECDSAWithSHA384
		}
		return x509.SHA384WithRSA
	case crypto.SHA512:
		if ecdsa {
			return x509.ECDSAWithSHA512
		}
		return x509.SHA512WithRSA
	}
	if ecdsa {
		return x509.ECDSAWithSHA256
	}
	return x509.SHA256WithRSA
}
