// Package recipients is the beneficiary registry: who they are, how to reach
// them (normalised email, E.164 phone, postal address), and what they agreed
// to receive on which channel.
package recipients

import (
	"context"
	"errors"
	"fmt"
	"github.com/courrier-dev/courrier/channels/postal"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nyaruka/phonenumbers"

	"github.com/courrier-dev/courrier/agencies"
	"github.com/courrier-dev/courrier/territories"
)

// ErrNotFound is returned when a beneficiary does not exist.
var ErrNotFound = errors.New("beneficiary not found")

// Recipient is a beneficiary ("allocataire").
type Recipient struct {
	ID             int64    `json:"id"`
	Ref            string   `json:"ref"` // beneficiary number
	Civility       string   `json:"civility"`
	GivenName      string   `json:"given_name"`
	FamilyName     string   `json:"family_name"`
	Email          string   `json:"email,omitempty"`
	EmailStatus    string   `json:"email_status"`
	Phone          string   `json:"phone,omitempty"` // E.164
	PhoneType      string   `json:"phone_type"`
	PhoneStatus    string   `json:"phone_status"`
	AddressLine1   string   `json:"address_line1,omitempty"`
	AddressLine2   string   `json:"address_line2,omitempty"`
	PostalCode     string   `json:"postal_code,omitempty"`
	City           string   `json:"city,omitempty"`
	AddressStatus  string   `json:"address_status"` // ok, or undeliverable after returned mail
	Country        string   `json:"country"`
	Language       string   `json:"language"`
	ConsentEmail   bool     `json:"consent_email"`
	ConsentSMS     bool     `json:"consent_sms"`
	ConsentLetter  bool     `json:"consent_letter"`
	OutreachOptOut bool     `json:"outreach_opt_out"`
	Benefits       []string `json:"benefits"`
	// Caf is the code of the beneficiary's Caf (agencies): given at intake
	// or derived from the postal code.
	Caf    string `json:"caf,omitempty"`
	Active bool   `json:"active"`
	// Test marks a beneficiary created with a test API key: test keys see
	// only test beneficiaries, live ones and live campaigns never do.
	Test      bool      `json:"test"`
	JoinedAt  time.Time `json:"joined_at"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DisplayName is "Given Family".
func (r *Recipient) DisplayName() string {
	return strings.TrimSpace(r.GivenName + " " + r.FamilyName)
}

// Territory is where the beneficiary lives, for time zone and holidays: the
// territory of the postal code, else of the phone number's numbering region
// (+590 is Guadeloupe), else metropolitan France.
func (r *Recipient) Territory() territories.Territory {
	if r.Country == "" || r.Country == "FR" {
		if t, ok := territories.ForPostalCode(r.PostalCode); ok {
			return t
		}
	}
	if r.Phone != "" {
		if num, err := phonenumbers.Parse(r.Phone, "FR"); err == nil {
			if t, ok := territories.ForPhoneRegion(phonenumbers.GetRegionCodeForNumber(num)); ok {
				return t
			}
		}
	}
	return territories.Metropolitan()
}

// resolveCaf returns the code of r's Caf in set (the embedded example when
// nil): r.Caf when it names one, else the Caf of r's postal code. An
// unknown r.Caf is a *FieldError.
func resolveCaf(r *Recipient, set *agencies.Set) (string, error) {
	if set == nil {
		set = agencies.Example()
	}
	r.Caf = strings.TrimSpace(r.Caf)
	if r.Caf != "" && set.Get(r.Caf) == nil {
		return "", &FieldError{Field: "caf", Reason: fmt.Sprintf("%q is not a Caf of the agency file %s", r.Caf, set.Source())}
	}
	return set.Resolve(r.Caf, r.PostalCode).Code, nil
}

// HasPostalAddress reports whether a letter can be addressed.
func (r *Recipient) HasPostalAddress() bool {
	return r.AddressLine1 != "" && r.PostalCode != "" && r.City != ""
}

// Postal is the beneficiary's address for the letter rules of package postal.
func (r *Recipient) Postal() postal.Address {
	return postal.Address{
		Addressee: strings.TrimSpace(r.Civility + " " + r.DisplayName()),
		Line1:     r.AddressLine1, Line2: r.AddressLine2, PostalCode: r.PostalCode, City: r.City, Country: r.Country,
	}
}

// PostalAddress is the address block of a letter, one line per line of the
// window (NF Z10-011, see package postal).
func (r *Recipient) PostalAddress() string {
	return strings.Join(r.Postal().Lines(), "\n")
}

// DBTX is what recipients functions need from a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Columns is the column list that Scan reads.
const Columns = `id, ref, civility, given_name, family_name, coalesce(email, ''), email_status, coalesce(phone, ''),
	phone_type, phone_status, address_line1, address_line2, postal_code, city, address_status, country, language,
	consent_email, consent_sms, consent_letter, outreach_opt_out, benefits, active, joined_at, created_at, updated_at,
	coalesce(caf, ''), test`

// Scan reads a recipient from a row selected with Columns.
func Scan(row pgx.Row) (*Recipient, error) {
	r := &Recipient{}
	if err := row.Scan(ScanDest(r)...); err != nil {
		return nil, err
	}
	return r, nil
}

// ScanDest returns the scan destinations of Columns for r, so that a query
// can select a recipient together with other columns.
func ScanDest(r *Recipient) []any {
	return []any{&r.ID, &r.Ref, &r.Civility, &r.GivenName, &r.FamilyName, &r.Email, &r.EmailStatus, &r.Phone,
		&r.PhoneType, &r.PhoneStatus, &r.AddressLine1, &r.AddressLine2, &r.PostalCode, &r.City, &r.AddressStatus, &r.Country, &r.Language,
		&r.ConsentEmail, &r.ConsentSMS, &r.ConsentLetter, &r.OutreachOptOut, &r.Benefits, &r.Active, &r.JoinedAt,
		&r.CreatedAt, &r.UpdatedAt, &r.Caf, &r.Test}
}

// Get loads a beneficiary by id.
func Get(ctx context.Context, db DBTX, id int64) (*Recipient, error) {
	r, err := Scan(db.QueryRow(ctx, `SELECT `+Columns+` FROM recipients WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	return r, err
}

// GetByRef loads a live beneficiary by beneficiary number.
func GetByRef(ctx context.Context, db DBTX, ref string) (*Recipient, error) {
	return GetByRefIn(ctx, db, ref, false)
}

// GetByRefIn loads a beneficiary by number among test beneficiaries (test
// true) or live ones: the two never mix.
func GetByRefIn(ctx context.Context, db DBTX, ref string, test bool) (*Recipient, error) {
	r, err := Scan(db.QueryRow(ctx, `SELECT `+Columns+` FROM recipients WHERE ref = $1 AND test = $2`, ref, test))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	return r, err
}

// Upsert inserts or updates a beneficiary by its beneficiary number and
// returns its id and whether it was inserted. Contacts must already be
// normalised (see NormalizePhone and NormalizeEmail). A changed email or
// phone number is considered deliverable again. Consents and the outreach
// opt-out are taken only when the beneficiary is inserted: afterwards they
// change only through consent events (STOP, unsubscribe), so that a
// re-import never undoes a beneficiary's choice.
func Upsert(ctx context.Context, db DBTX, r *Recipient) (id int64, inserted bool, err error) {
	if r.Ref == "" {
		return 0, false, errors.New("ref: beneficiary number is required")
	}
	if r.Country == "" {
		r.Country = "FR"
	}
	if r.Language == "" {
		r.Language = "fr"
	}
	if r.PhoneType == "" {
		r.PhoneType = "mobile"
	}
	if r.Benefits == nil {
		r.Benefits = []string{}
	}
	caf, err := resolveCaf(r, nil)
	if err != nil {
		return 0, false, err
	}
	r.Caf = caf
	joined := r.JoinedAt
	if joined.IsZero() {
		joined = time.Now()
	}
	err = db.QueryRow(ctx, `
		INSERT INTO recipients (ref, civility, given_name, family_name, email, phone, phone_type, address_line1,
		    address_line2, postal_code, city, country, language, consent_email, consent_sms, consent_letter,
		    outreach_opt_out, benefits, active, joined_at, caf, test)
		VALUES ($1, $2, $3, $4, nullif($5, ''), nullif($6, ''), $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
		ON CONFLICT (ref, test) DO UPDATE SET
		    civility = EXCLUDED.civility, given_name = EXCLUDED.given_name, family_name = EXCLUDED.family_name,
		    email_status = CASE WHEN recipients.email IS DISTINCT FROM EXCLUDED.email THEN 'ok' ELSE recipients.email_status END,
		    phone_status = CASE WHEN recipients.phone IS DISTINCT FROM EXCLUDED.phone THEN 'ok' ELSE recipients.phone_status END,
		    address_status = CASE WHEN (recipients.address_line1, recipients.address_line2, recipients.postal_code, recipients.city)
		        IS DISTINCT FROM (EXCLUDED.address_line1, EXCLUDED.address_line2, EXCLUDED.postal_code, EXCLUDED.city)
		        THEN 'ok' ELSE recipients.address_status END,
		    email = EXCLUDED.email, phone = EXCLUDED.phone, phone_type = EXCLUDED.phone_type,
		    address_line1 = EXCLUDED.address_line1, address_line2 = EXCLUDED.address_line2,
		    postal_code = EXCLUDED.postal_code, city = EXCLUDED.city, country = EXCLUDED.country,
		    language = EXCLUDED.language, caf = EXCLUDED.caf,
		    benefits = EXCLUDED.benefits, active = EXCLUDED.active, updated_at = now()
		RETURNING id, (xmax = 0)`,
		r.Ref, r.Civility, r.GivenName, r.FamilyName, r.Email, r.Phone, r.PhoneType, r.AddressLine1, r.AddressLine2,
		r.PostalCode, r.City, r.Country, r.Language, r.ConsentEmail, r.ConsentSMS, r.ConsentLetter, r.OutreachOptOut,
		r.Benefits, r.Active, joined, r.Caf, r.Test,
	).Scan(&id, &inserted)
	if err != nil {
		return 0, false, fmt.Errorf("upsert beneficiary: %w", err)
	}
	if r.Phone != "" {
		if err := applySMSOptOuts(ctx, db, []string{r.Phone}); err != nil {
			return 0, false, err
		}
	}
	r.ID = id
	return id, inserted, nil
}
