package staff

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pquerna/otp/totp"
)

// Role is what an account may do.
type Role string

// The roles.
const (
	RoleAgent    Role = "agent"
	RoleOperator Role = "operator"
	RoleApprover Role = "approver"
	RoleAuditor  Role = "auditor"
	RoleAdmin    Role = "admin"
)

// Roles lists every role.
var Roles = []Role{RoleAgent, RoleOperator, RoleApprover, RoleAuditor, RoleAdmin}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Permission is one thing a role may do in the console.
type Permission string

// The permissions.
const (
	PermViewRecipients Permission = "view_recipients" // search beneficiaries, see their page and timeline
	PermSend           Permission = "send"            // send one notice or reminder
	PermViewCampaigns  Permission = "view_campaigns"
	PermRunCampaigns   Permission = "run_campaigns" // create, start, pause, resume, cancel, retry
	PermApprove        Permission = "approve"       // approve a campaign someone else created
	PermImport         Permission = "import"        // import beneficiaries from CSV
	PermRequests       Permission = "requests"      // list requests and complaints
	PermCompliance     Permission = "compliance"    // compliance dashboard and evidence packs
	PermTemplates      Permission = "templates"     // list and preview templates
	PermAccounts       Permission = "accounts"      // manage staff accounts
)

var grants = map[Role][]Permission{
	RoleAgent:    {PermViewRecipients, PermSend, PermRequests, PermTemplates},
	RoleOperator: {PermViewRecipients, PermViewCampaigns, PermRunCampaigns, PermImport, PermRequests, PermTemplates},
	RoleApprover: {PermViewRecipients, PermViewCampaigns, PermApprove, PermTemplates},
	RoleAuditor:  {PermViewRecipients, PermViewCampaigns, PermRequests, PermCompliance, PermTemplates},
}

// Can reports whether role r grants p. An admin can do everything.
func (r Role) Can(p Permission) bool {
	return r == RoleAdmin || slices.Contains(grants[r], p)
}

// Account is a staff account (secrets left out).
type Account struct {
	ID          int64      `json:"id"`
	Login       string     `json:"login"`
	DisplayName string     `json:"display_name"`
	Role        Role       `json:"role"`
	Disabled    bool       `json:"disabled"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	LastLoginAt *time.Time `json:"last_login_at,omitempty"`
}

// Actor is how the account is named in the created_by and actor columns of
// other tables: "staff:<login>".
func (a *Account) Actor() string { return "staff:" + a.Login }

// DBTX is what staff functions need from a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrNotFound is returned for an unknown login.
var ErrNotFound = errors.New("staff account not found")

// ErrExists is returned when creating a login that is taken.
var ErrExists = errors.New("staff account already exists")

const accountColumns = `id, login, display_name, role, disabled_at IS NOT NULL, locked_until, created_at, last_login_at`

func scanAccount(row pgx.Row) (*Account, error) {
	var a Account
	var role string
	if err := row.Scan(&a.ID, &a.Login, &a.DisplayName, &role, &a.Disabled, &a.LockedUntil, &a.CreatedAt, &a.LastLoginAt); err != nil {
		return nil, err
	}
	a.Role = Role(role)
	return &a, nil
}

// NewAccount describes an account to create.
type NewAccount struct {
	Login       string
	DisplayName string
	Role        Role
	// Password is the initial password; empty: one is generated and returned.
	Password  string
	CreatedBy string
	// Issuer names the service in authenticator apps (default "courrier").
	Issuer string
}

// Created is the result of Create: the account, its password when it was
// generated, and its TOTP secret and otpauth:// URL to enrol an
// authenticator app. They are shown once and never stored in clear.
type Created struct {
	Account    *Account
	Password   string
	TOTPSecret string
	TOTPURL    string
}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// Create creates an account with a fresh TOTP secret.
func Create(ctx context.Context, db DBTX, n NewAccount) (*Created, error) {
	n.Login = strings.ToLower(strings.TrimSpace(n.Login))
	if n.Login == "" || strings.ContainsAny(n.Login, " \t\r\n:/") {
		return nil, errors.New("login: required, without spaces, ':' or '/'")
	}
	if !n.Role.Valid() {
		return nil, fmt.Errorf("role: must be one of agent, operator, approver, auditor, admin (got %q)", n.Role)
	}
	out := &Created{}
	if n.Password == "" {
		b := make([]byte, 15)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		n.Password = base64.RawURLEncoding.EncodeToString(b)
		out.Password = n.Password
	}
	if len([]rune(n.Password)) < MinPasswordLength {
		return nil, fmt.Errorf("password: at least %d characters", MinPasswordLength)
	}
	if n.Issuer == "" {
		n.Issuer = "courrier"
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: n.Issuer, AccountName: n.Login})
	if err != nil {
		return nil, fmt.Errorf("generate TOTP secret: %w", err)
	}
	hash, err := HashPassword(n.Password)
	if err != nil {
		return nil, err
	}
	out.TOTPSecret, out.TOTPURL = key.Secret(), key.URL()
	out.Account, err = scanAccount(db.QueryRow(ctx, `
		INSERT INTO staff_accounts (login, display_name, role, password_hash, totp_secret, created_by)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (login) DO NOTHING
		RETURNING `+accountColumns, n.Login, n.DisplayName, string(n.Role), hash, key.Secret(), n.CreatedBy))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrExists, n.Login)
	}
	if err != nil {
		return nil, fmt.Errorf("create staff account: %w", err)
	}
	if err := Record(ctx, db, out.Account, "account_created", "staff:"+n.Login, "role "+string(n.Role)+" by "+n.CreatedBy); err != nil {
		return nil, err
	}
	return out, nil
}

// Get loads an account by login.
func Get(ctx context.Context, db DBTX, login string) (*Account, error) {
	a, err := scanAccount(db.QueryRow(ctx, `SELECT `+accountColumns+` FROM staff_accounts WHERE login = $1`,
		strings.ToLower(strings.TrimSpace(login))))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, login)
	}
	return a, err
}

// List returns every account, by login.
func List(ctx context.Context, db DBTX) ([]*Account, error) {
	rows, err := db.Query(ctx, `SELECT `+accountColumns+` FROM staff_accounts ORDER BY login`)
	if err != nil {
		return nil, fmt.Errorf("list staff accounts: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Account, error) { return scanAccount(row) })
}

// Disable disables an account and ends its sessions. by names who did it.
func Disable(ctx context.Context, db DBTX, login, by string) (*Account, error) {
	a, err := scanAccount(db.QueryRow(ctx, `
		WITH a AS (
		    UPDATE staff_accounts SET disabled_at = coalesce(disabled_at, now()) WHERE login = $1
		    RETURNING `+accountColumns+`
		), s AS (
		    UPDATE staff_sessions SET ended_at = now() WHERE account_id = (SELECT id FROM a) AND ended_at IS NULL
		)
		SELECT * FROM a`, strings.ToLower(strings.TrimSpace(login))))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, login)
	}
	if err != nil {
		return nil, fmt.Errorf("disable staff account: %w", err)
	}
	return a, Record(ctx, db, a, "account_disabled", "staff:"+a.Login, "by "+by)
}
