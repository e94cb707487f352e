package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// The signing key of checkpoints is never stored in the database: it comes
// from the environment (KeyEnv) or a file (KeyFileEnv).
const (
	KeyEnv     = "COURRIER_LEDGER_KEY"
	KeyFileEnv = "COURRIER_LEDGER_KEY_FILE"
	// PublicKeyEnv names the public key `courrier verify` checks signatures
	// with when no signing key is configured.
	PublicKeyEnv = "COURRIER_LEDGER_PUBLIC_KEY"
	// DefaultKeyName is the name of generated keys, and the origin line of
	// checkpoints they sign.
	DefaultKeyName = "courrier-ledger"
)

// ErrNoKey says no signing key is configured.
var ErrNoKey = errors.New("no ledger signing key: set " + KeyEnv + " or " + KeyFileEnv + " (courrier keys generate)")

// GenerateKey returns a new Ed25519 signing key and its public key, in the
// text forms of golang.org/x/mod/sumdb/note ("PRIVATE+KEY+name+hash+…",
// "name+hash+…").
func GenerateKey(name string) (private, public string, err error) {
	if name == "" {
		name = DefaultKeyName
	}
	return note.GenerateKey(rand.Reader, name)
}

// PublicKey returns the public key of a signing key.
func PublicKey(private string) (string, error) {
	s, err := note.NewSigner(strings.TrimSpace(private))
	if err != nil {
		return "", fmt.Errorf("ledger key: %w", err)
	}
	// PRIVATE+KEY+name+hash+base64(alg ‖ seed): derive alg ‖ public key.
	parts := strings.SplitN(strings.TrimSpace(private), "+", 5)
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return "", errors.New("ledger key: not an Ed25519 signing key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return fmt.Sprintf("%s+%08x+%s", s.Name(), s.KeyHash(), base64.StdEncoding.EncodeToString(append([]byte{raw[0]}, pub...))), nil
}

// Key is the ledger's signing key with its public half.
type Key struct {
	Signer   note.Signer
	Verifier note.Verifier
	Public   string // "name+hash+base64", what auditors are given
}

// ParseKey reads a signing key in its text form.
func ParseKey(private string) (*Key, error) {
	private = strings.TrimSpace(private)
	s, err := note.NewSigner(private)
	if err != nil {
		return nil, fmt.Errorf("ledger key: %w", err)
	}
	pub, err := PublicKey(private)
	if err != nil {
		return nil, err
	}
	v, err := NewVerifier(pub)
	if err != nil {
		return nil, err
	}
	return &Key{Signer: s, Verifier: v, Public: pub}, nil
}

// LoadKey reads the signing key from KeyEnv, or from the file KeyFileEnv
// names, or (when both are empty) from fallbackFile if it is not "",
// creating it there if missing, for the embedded default. created reports
// that a new key file was written, so that the caller can warn.
func LoadKey(getenv func(string) string, fallbackFile string) (k *Key, created bool, err error) {
	if v := strings.TrimSpace(getenv(KeyEnv)); v != "" {
		k, err = ParseKey(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", KeyEnv, err)
		}
		return k, false, nil
	}
	file := getenv(KeyFileEnv)
	if file == "" {
		file = fallbackFile
	}
	if file == "" {
		return nil, false, ErrNoKey
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) && getenv(KeyFileEnv) == "" {
		priv, _, gerr := GenerateKey(DefaultKeyName)
		if gerr != nil {
			return nil, false, gerr
		}
		f, werr := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if werr == nil {
			_, werr = f.WriteString(priv + "\n")
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
		}
		if werr != nil && !errors.Is(werr, os.ErrExist) {
			return nil, false, fmt.Errorf("write ledger key %s: %w", file, werr)
		}
		created = werr == nil
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, false, fmt.Errorf("read ledger key: %w", err)
	}
	k, err = ParseKey(string(b))
	if err != nil {
		return nil, false, fmt.Errorf("ledger key %s: %w", file, err)
	}
	return k, created, nil
}

// NewVerifier parses a public key ("name+hash+…").
func NewVerifier(public string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(public))
	if err != nil {
		return nil, fmt.Errorf("ledger public key: %w", err)
	}
	return v, nil
}
