package jobs

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// API key scopes.
const (
	ScopeIngest = "ingest" // upstream systems: beneficiaries, events, requests
	ScopeStaff  = "staff"  // agency staff: reminders, campaigns, answers
	ScopeAdmin  = "admin"  // keys, configuration, River UI
	ScopeAudit  = "audit"  // read-only reports and evidence
)

// APIScopes lists every scope.
var APIScopes = []string{ScopeIngest, ScopeStaff, ScopeAdmin, ScopeAudit}

// Secret prefixes: a test key is recognisable at a glance.
const (
	LivePrefix = "ck_live_"
	TestPrefix = "ck_test_"
)

// APIKeyShownPrefix is how many characters of a secret lists show.
const APIKeyShownPrefix = 12

// ErrKeyNotFound is returned for an unknown API key id.
var ErrKeyNotFound = errors.New("API key not found")

var secretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// APIKey is an API key as requests carry it: never its secret.
type APIKey struct {
	ID       int64    `json:"id"`
	Name     string   `json:"name"`
	Operator string   `json:"operator,omitempty"` // staff person the key belongs to
	Scopes   []string `json:"scopes"`
	Test     bool     `json:"test"` // notices created with it go to the outbox only
}

// Has reports whether k carries scope.
func (k APIKey) Has(scope string) bool { return slices.Contains(k.Scopes, scope) }

// HashAPISecret is what api_keys.hash stores for a secret.
func HashAPISecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// newSecret returns prefix followed by 160 random bits in lower-case base32.
func newSecret(prefix string) (string, error) {
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return prefix + strings.ToLower(secretEncoding.EncodeToString(raw)), nil
}

// NewAPIKey says what key CreateAPIKey creates.
type NewAPIKey struct {
	Name     string
	Operator string // required with the staff scope
	Scopes   []string
	Test     bool
}

// CreateAPIKey creates an API key and returns its secret, which is stored
// only hashed and cannot be shown again. A key with the staff scope must
// name its operator (the person whose actions it records).
func CreateAPIKey(ctx context.Context, db *pgxpool.Pool, n NewAPIKey) (secret string, key APIKey, err error) {
	name, operator := strings.TrimSpace(n.Name), strings.TrimSpace(n.Operator)
	switch {
	case name == "":
		return "", APIKey{}, errors.New("a key needs a name (--name)")
	case len(name) > 100 || len(operator) > 100:
		return "", APIKey{}, errors.New("name and operator are at most 100 characters")
	case len(n.Scopes) == 0:
		return "", APIKey{}, fmt.Errorf("a key needs at least one scope (--scope) among %s", strings.Join(APIScopes, ", "))
	case strings.ContainsAny(operator, "\n\r"):
		return "", APIKey{}, errors.New("the operator name must be on one line")
	}
	var clean []string
	for _, s := range n.Scopes {
		s = strings.TrimSpace(s)
		if !slices.Contains(APIScopes, s) {
			return "", APIKey{}, fmt.Errorf("unknown scope %q: scopes are %s", s, strings.Join(APIScopes, ", "))
		}
		if !slices.Contains(clean, s) {
			clean = append(clean, s)
		}
	}
	if slices.Contains(clean, ScopeStaff) && operator == "" {
		return "", APIKey{}, errors.New("a staff key belongs to a person: give --operator NAME")
	}
	prefix := LivePrefix
	if n.Test {
		prefix = TestPrefix
	}
	if secret, err = newSecret(prefix); err != nil {
		return "", APIKey{}, err
	}
	key = APIKey{Name: name, Operator: operator, Scopes: clean, Test: n.Test}
	err = db.QueryRow(ctx, `
		INSERT INTO api_keys (name, operator, scopes, test, hash, prefix)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		name, operator, clean, n.Test, HashAPISecret(secret), secret[:APIKeyShownPrefix]).Scan(&key.ID)
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create API key: %w", err)
	}
	return secret, key, nil
}

// APIKeyRecord is an API key as listed: never its secret.
type APIKeyRecord struct {
	APIKey
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// ListAPIKeys lists every API key, revoked ones included, oldest first.
func ListAPIKeys(ctx context.Context, db *pgxpool.Pool) ([]APIKeyRecord, error) {
	rows, err := db.Query(ctx, `
		SELECT id, name, operator, scopes, test, prefix, created_at, revoked_at, last_used_at
		FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIKeyRecord, error) {
		var k APIKeyRecord
		err := row.Scan(&k.ID, &k.Name, &k.Operator, &k.Scopes, &k.Test, &k.Prefix, &k.CreatedAt, &k.RevokedAt, &k.LastUsedAt)
		return k, err
	})
}

// RevokeAPIKey revokes key id at once: its next request is answered 401.
// Revoking a revoked key changes nothing.
func RevokeAPIKey(ctx context.Context, db *pgxpool.Pool, id int64) error {
	var exists bool
	err := db.QueryRow(ctx, `
		WITH revoked AS (UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL)
		SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = $1)`, id).Scan(&exists)
	if err != nil {
		return fmt.Errorf("revoke API key %d: %w", id, err)
	}
	if !exists {
		return fmt.Errorf("%w: %d", ErrKeyNotFound, id)
	}
	return nil
}
