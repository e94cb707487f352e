package recipients

import (
	"context"
	"errors"
	"fmt"
	"github.com/courrier-dev/courrier/channels/postal"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/text/unicode/norm"

	"github.com/courrier-dev/courrier/agencies"
)

// Upsert outcomes.
const (
	Inserted  = "inserted"
	Updated   = "updated"
	Unchanged = "unchanged"
)

// UpsertOpts are optional settings of UpsertMany.
type UpsertOpts struct {
	// Keep names columns that an update leaves as stored (an import file
	// without that column, a PUT without consents). Inserts still take the
	// value of the Recipient, i.e. its default.
	Keep []string
	// Actor is recorded in updated_by ("key:12", "import:cli").
	Actor string
	// Agencies resolves each beneficiary's Caf (the embedded example when
	// nil): the Caf given, else the Caf of the postal code.
	Agencies *agencies.Set
	// Test writes test beneficiaries (a test API key): live ones with the
	// same numbers are neither read nor changed.
	Test bool
}

// upsertColumns are the columns UpsertMany writes, with the SQL type of the
// array passed for them.
var upsertColumns = []struct{ name, typ string }{
	{"civility", "text"}, {"given_name", "text"}, {"family_name", "text"}, {"email", "text"},
	{"phone", "text"}, {"phone_type", "text"}, {"address_line1", "text"}, {"address_line2", "text"},
	{"postal_code", "text"}, {"city", "text"}, {"country", "text"}, {"language", "text"},
	{"consent_email", "bool"}, {"consent_sms", "bool"}, {"consent_letter", "bool"},
	{"outreach_opt_out", "bool"}, {"benefits", "text"}, {"active", "bool"}, {"caf", "text"},
}

// UpsertColumns lists the columns UpsertOpts.Keep may name.
func UpsertColumns() []string {
	out := make([]string, len(upsertColumns))
	for i, c := range upsertColumns {
		out[i] = c.name
	}
	return out
}

// newValue is the value an update gives column c. Upstream data may withdraw
// a consent but never gives back one the beneficiary withdrew themselves (a
// STOP reply or an unsubscribe link, recorded in recipient_events and not
// restored since): only the beneficiary can.
func newValue(c string) string {
	switch c {
	case "consent_sms":
		return `CASE WHEN EXCLUDED.consent_sms AND NOT recipients.consent_sms
		    THEN NOT EXISTS (SELECT 1 FROM recipient_events e WHERE e.recipient_id = recipients.id
		        AND e.event = 'sms_consent_withdrawn'
		        AND NOT EXISTS (SELECT 1 FROM recipient_events r WHERE r.recipient_id = e.recipient_id
		            AND r.event = 'sms_consent_restored' AND r.id > e.id))
		    ELSE EXCLUDED.consent_sms END`
	case "outreach_opt_out":
		return `CASE WHEN recipients.outreach_opt_out AND NOT EXCLUDED.outreach_opt_out
		    THEN EXISTS (SELECT 1 FROM recipient_events e WHERE e.recipient_id = recipients.id AND e.event = 'unsubscribed')
		    ELSE EXCLUDED.outreach_opt_out END`
	}
	return "EXCLUDED." + c
}

func upsertSQL(keep []string) (string, error) {
	for _, k := range keep {
		if !slices.Contains(UpsertColumns(), k) {
			return "", fmt.Errorf("upsert: unknown column %q to keep", k)
		}
	}
	var insertCols, selectCols, unnestArgs, aliases, sets, olds, news []string
	insertCols = append(insertCols, "ref")
	selectCols = append(selectCols, "t.ref")
	unnestArgs = append(unnestArgs, "$1::text[]")
	aliases = append(aliases, "ref")
	for i, c := range upsertColumns {
		insertCols = append(insertCols, c.name)
		aliases = append(aliases, c.name)
		unnestArgs = append(unnestArgs, fmt.Sprintf("$%d::%s[]", i+2, c.typ))
		switch c.name {
		case "email", "phone":
			selectCols = append(selectCols, "nullif(t."+c.name+", '')")
		case "benefits":
			selectCols = append(selectCols, "string_to_array(t.benefits, '|')")
		default:
			selectCols = append(selectCols, "t."+c.name)
		}
		if slices.Contains(keep, c.name) {
			continue
		}
		switch c.name {
		case "email":
			sets = append(sets, "email_status = CASE WHEN recipients.email IS DISTINCT FROM EXCLUDED.email THEN 'ok' ELSE recipients.email_status END")
		case "phone":
			sets = append(sets, "phone_status = CASE WHEN recipients.phone IS DISTINCT FROM EXCLUDED.phone THEN 'ok' ELSE recipients.phone_status END")
		case "address_line1":
			// A new address is deliverable until mail comes back again.
			sets = append(sets, "address_status = CASE WHEN recipients.address_line1 IS DISTINCT FROM EXCLUDED.address_line1 THEN 'ok' ELSE recipients.address_status END")
		}
		sets = append(sets, c.name+" = "+newValue(c.name))
		olds = append(olds, "recipients."+c.name)
		news = append(news, newValue(c.name))
	}
	actor := fmt.Sprintf("$%d::text", len(upsertColumns)+2)
	insertCols = append(insertCols, "updated_by", "test")
	selectCols = append(selectCols, actor, fmt.Sprintf("$%d::boolean", len(upsertColumns)+3))
	if len(sets) == 0 {
		return "", errors.New("upsert: every column kept")
	}
	sets = append(sets, "updated_at = now()", "updated_by = EXCLUDED.updated_by")
	return `INSERT INTO recipients (` + strings.Join(insertCols, ", ") + `)
		SELECT ` + strings.Join(selectCols, ", ") + `
		FROM unnest(` + strings.Join(unnestArgs, ", ") + `) AS t(` + strings.Join(aliases, ", ") + `)
		ON CONFLICT (ref, test) DO UPDATE SET ` + strings.Join(sets, ",\n\t\t    ") + `
		WHERE (` + strings.Join(olds, ", ") + `) IS DISTINCT FROM (` + strings.Join(news, ", ") + `)
		RETURNING ref, (xmax = 0)`, nil
}

// UpsertMany inserts or updates beneficiaries by beneficiary number in one
// statement and returns each one's outcome (Inserted, Updated or Unchanged),
// in order. A row whose stored values already equal the new ones is left
// untouched (its updated_at does not move), so replaying the same data
// writes nothing. Contacts must already be normalised; refs must be unique
// within rs.
func UpsertMany(ctx context.Context, db DBTX, rs []*Recipient, opts *UpsertOpts) ([]string, error) {
	if opts == nil {
		opts = &UpsertOpts{}
	}
	if len(rs) == 0 {
		return nil, nil
	}
	query, err := upsertSQL(opts.Keep)
	if err != nil {
		return nil, err
	}
	n := len(rs)
	refs := make([]string, n)
	text := map[string][]string{}
	bools := map[string][]bool{}
	for _, c := range upsertColumns {
		if c.typ == "bool" {
			bools[c.name] = make([]bool, n)
		} else {
			text[c.name] = make([]string, n)
		}
	}
	for i, r := range rs {
		if r.Ref == "" {
			return nil, errors.New("upsert: ref: beneficiary number is required")
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
		caf, err := resolveCaf(r, opts.Agencies)
		if err != nil {
			return nil, fmt.Errorf("upsert %s: %w", r.Ref, err)
		}
		r.Caf = caf
		refs[i] = r.Ref
		for c, v := range map[string]string{"civility": r.Civility, "given_name": r.GivenName, "family_name": r.FamilyName,
			"email": r.Email, "phone": r.Phone, "phone_type": r.PhoneType, "address_line1": r.AddressLine1,
			"address_line2": r.AddressLine2, "postal_code": r.PostalCode, "city": r.City, "country": r.Country,
			"language": r.Language, "benefits": strings.Join(r.Benefits, "|"), "caf": r.Caf} {
			text[c][i] = v
		}
		for c, v := range map[string]bool{"consent_email": r.ConsentEmail, "consent_sms": r.ConsentSMS,
			"consent_letter": r.ConsentLetter, "outreach_opt_out": r.OutreachOptOut, "active": r.Active} {
			bools[c][i] = v
		}
	}
	args := []any{refs}
	for _, c := range upsertColumns {
		if c.typ == "bool" {
			args = append(args, bools[c.name])
		} else {
			args = append(args, text[c.name])
		}
	}
	args = append(args, opts.Actor, opts.Test)
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("upsert %d beneficiaries: %w", n, err)
	}
	changed := map[string]bool{} // ref → inserted
	for rows.Next() {
		var ref string
		var inserted bool
		if err := rows.Scan(&ref, &inserted); err != nil {
			rows.Close()
			return nil, err
		}
		changed[ref] = inserted
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("upsert %d beneficiaries: %w", n, err)
	}
	var phones []string
	for _, p := range text["phone"] {
		if p != "" {
			phones = append(phones, p)
		}
	}
	if err := applySMSOptOuts(ctx, db, phones); err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i, ref := range refs {
		inserted, ok := changed[ref]
		switch {
		case !ok:
			out[i] = Unchanged
		case inserted:
			out[i] = Inserted
		default:
			out[i] = Updated
		}
	}
	return out, nil
}

// ImportOpts are optional settings of Import.
type ImportOpts struct {
	// BatchSize is the number of rows written per statement and
	// transaction. Default 1,000.
	BatchSize int
	// Actor is recorded in updated_by. Default "import".
	Actor string
	// MaxRejections caps the rejected rows listed in the summary (all are
	// counted). Default 1,000.
	MaxRejections int
	// Encoding of a CSV file: EncodingUTF8 or EncodingWindows1252 (see
	// ParseEncoding); "" detects it (BOM, valid UTF-8, else Windows-1252).
	Encoding string
	// Agencies resolves each row's Caf (column caf, else the postal code);
	// the embedded example when nil.
	Agencies *agencies.Set
	// DryRun checks every row and writes nothing: the summary counts the
	// rows that would be imported (Valid) and lists the rejected ones.
	DryRun bool
}

// Rejection is a row that was not imported.
type Rejection struct {
	Line   int    `json:"line"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func (r Rejection) String() string {
	if r.Field == "" {
		return fmt.Sprintf("line %d: %s", r.Line, r.Reason)
	}
	return fmt.Sprintf("line %d: %s %s", r.Line, r.Field, r.Reason)
}

// ImportSummary counts what Import did.
type ImportSummary struct {
	Rows       int         `json:"rows"` // data rows read
	Inserted   int         `json:"inserted"`
	Updated    int         `json:"updated"`
	Unchanged  int         `json:"unchanged"`
	Rejected   int         `json:"rejected"`
	Valid      int         `json:"valid"` // rows accepted (written, or that a dry run would write)
	DryRun     bool        `json:"dry_run,omitempty"`
	Rejections []Rejection `json:"rejections"` // at most MaxRejections, in line order
	Separator  string      `json:"separator"`
}

// FileError is a problem with the file as a whole (its header, its
// encoding); no row was imported.
type FileError struct {
	Field  string // the column concerned, if any
	Reason string
}

func (e *FileError) Error() string {
	if e.Field == "" {
		return "import: " + e.Reason
	}
	return "import: column " + e.Field + ": " + e.Reason
}

// importColumns maps each accepted header name, once simplified (lower case,
// no accents, "_" for spaces and hyphens), to its column.
var importColumns = map[string]string{
	"ref": "ref", "numero_allocataire": "ref", "allocataire": "ref", "beneficiary_number": "ref", "matricule": "ref",
	"civility": "civility", "civilite": "civility",
	"given_name": "given_name", "prenom": "given_name", "first_name": "given_name",
	"family_name": "family_name", "nom": "family_name", "last_name": "family_name", "nom_de_famille": "family_name",
	"email": "email", "courriel": "email", "mail": "email", "e_mail": "email", "adresse_email": "email",
	"phone": "phone", "telephone": "phone", "tel": "phone", "portable": "phone", "mobile": "phone",
	"address_line1": "address_line1", "adresse": "address_line1", "address": "address_line1", "adresse_ligne1": "address_line1",
	"address_line2": "address_line2", "complement": "address_line2", "complement_adresse": "address_line2", "adresse_ligne2": "address_line2",
	"postal_code": "postal_code", "code_postal": "postal_code", "cp": "postal_code", "zip": "postal_code",
	"city": "city", "ville": "city", "commune": "city",
	"country": "country", "pays": "country",
	"language": "language", "langue": "language",
	"benefits": "benefits", "prestations": "benefits",
	"consent_email": "consent_email", "consentement_email": "consent_email", "accord_email": "consent_email",
	"consent_sms": "consent_sms", "consentement_sms": "consent_sms", "accord_sms": "consent_sms",
	"consent_letter": "consent_letter", "consentement_courrier": "consent_letter", "accord_courrier": "consent_letter",
	"outreach_opt_out": "outreach_opt_out", "refus_information": "outreach_opt_out", "opposition_information": "outreach_opt_out",
	"active": "active", "actif": "active",
	"caf": "caf", "code_caf": "caf",
}

func simplifyHeader(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, r := range norm.NFD.String(h) {
		switch {
		case r >= 0x300 && r <= 0x36f: // combining accents
		case r == ' ' || r == '-' || r == '.' || r == '\'':
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	return strings.Trim(b.String(), "_")
}

// detectSeparator picks ';' or ',', whichever appears more often outside
// quotes in the header line (French spreadsheets export with ';').
func detectSeparator(header []byte) rune {
	var semi, comma int
	quoted := false
	for _, c := range header {
		switch c {
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				semi++
			}
		case ',':
			if !quoted {
				comma++
			}
		}
	}
	if semi > comma {
		return ';'
	}
	return ','
}

var (
	refRE     = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z_-]{0,31}$`)
	benefitRE = regexp.MustCompile(`^[A-Z0-9_-]{1,20}$`)
	postalRE  = regexp.MustCompile(`^[0-9]{5}$`)
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
	langRE    = regexp.MustCompile(`^[a-z]{2}$`)
)

// Import reads beneficiaries from CSV and upserts the good rows by
// beneficiary number, BatchSize rows per statement, each batch committed on
// its own: an interrupted import keeps every committed batch and running it
// again completes it (rows already imported come out unchanged).
//
// The file is CSV or an Excel workbook (.xlsx, first sheet; detected from
// its content). CSV is UTF-8 (with or without a byte-order mark) or
// Windows-1252, as Excel exports "CSV (séparateur : point-virgule)" in
// France: detected unless opts.Encoding says; separated by ';' or ','
// (detected from the header line). A line that is not text (a NUL byte,
// invalid UTF-8) or has an unclosed quote is rejected alone, with its line
// number, and reading goes on at the next line. Header names are English or French
// (ref or numero_allocataire, given_name or prenom, …; case and accents are
// ignored); only ref is required. A column absent from the file keeps its
// stored value on update. Each bad row is reported with its line number, the
// field and the reason, never with the value.
func Import(ctx context.Context, db *pgxpool.Pool, r io.Reader, opts ImportOpts) (*ImportSummary, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.Actor == "" {
		opts.Actor = "import"
	}
	if opts.MaxRejections <= 0 {
		opts.MaxRejections = 1000
	}
	src, err := newSource(r, opts.Encoding)
	if err != nil {
		return nil, err
	}
	header, _, reason, err := src.next()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{Reason: "the file is empty: a header line is required"}
	}
	if err != nil {
		return nil, fmt.Errorf("import: read: %w", err)
	}
	if reason != "" {
		return nil, &FileError{Reason: "header line " + reason}
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		if !utf8.ValidString(h) {
			return nil, &FileError{Reason: "the file is not UTF-8: export it as \"CSV UTF-8\""}
		}
		c, ok := importColumns[simplifyHeader(h)]
		if !ok {
			if simplifyHeader(h) == "" {
				return nil, &FileError{Reason: fmt.Sprintf("column %d has no name", i+1)}
			}
			return nil, &FileError{Field: h, Reason: "is not a known column (see the import format)"}
		}
		if seen[c] {
			return nil, &FileError{Field: h, Reason: "appears twice (as " + c + ")"}
		}
		seen[c] = true
		cols[i] = c
	}
	if !seen["ref"] {
		return nil, &FileError{Field: "ref", Reason: "is required (ref or numero_allocataire)"}
	}
	var keep []string
	for _, c := range upsertColumns {
		if !seen[c.name] {
			keep = append(keep, c.name)
		}
	}
	if seen["caf"] || seen["postal_code"] {
		// The Caf follows the postal code unless the file names it.
		keep = slices.DeleteFunc(keep, func(c string) bool { return c == "caf" })
	}
	if seen["phone"] {
		// phone_type is no column of its own: it comes with the phone.
		keep = slices.DeleteFunc(keep, func(c string) bool { return c == "phone_type" })
	}

	sum := &ImportSummary{Separator: src.separator(), Rejections: []Rejection{}, DryRun: opts.DryRun}
	reject := func(line int, field, reason string) {
		sum.Rejected++
		if len(sum.Rejections) < opts.MaxRejections {
			sum.Rejections = append(sum.Rejections, Rejection{Line: line, Field: field, Reason: reason})
		}
	}
	firstLine := map[string]int{} // ref → line it was first seen on
	batch := make([]*Recipient, 0, opts.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		sum.Valid += len(batch)
		if opts.DryRun {
			batch = batch[:0]
			return nil
		}
		var outcomes []string
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			var err error
			outcomes, err = UpsertMany(ctx, tx, batch, &UpsertOpts{Keep: keep, Actor: opts.Actor, Agencies: opts.Agencies})
			return err
		})
		if err != nil {
			return fmt.Errorf("import: after %d rows: %w", sum.Rows-len(batch), err)
		}
		for _, o := range outcomes {
			switch o {
			case Inserted:
				sum.Inserted++
			case Updated:
				sum.Updated++
			default:
				sum.Unchanged++
			}
		}
		batch = batch[:0]
		return nil
	}

	for {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		rec, line, reason, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sum, fmt.Errorf("import: read: %w", err)
		}
		if reason != "" {
			sum.Rows++
			reject(line, "", reason)
			continue
		}
		sum.Rows++
		if len(rec) != len(cols) {
			reject(line, "", fmt.Sprintf("has %d fields, the header has %d", len(rec), len(cols)))
			continue
		}
		r, field, reason := parseRow(cols, rec)
		if reason != "" {
			reject(line, field, reason)
			continue
		}
		if _, err := resolveCaf(r, opts.Agencies); err != nil {
			reject(line, "caf", fieldReason(err))
			continue
		}
		if prev, dup := firstLine[r.Ref]; dup {
			reject(line, "ref", fmt.Sprintf("is the same beneficiary as line %d", prev))
			continue
		}
		firstLine[r.Ref] = line
		batch = append(batch, r)
		if len(batch) >= opts.BatchSize {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	if err := flush(); err != nil {
		return sum, err
	}
	return sum, nil
}

// parseRow validates one row. On a problem it returns the field and reason.
func parseRow(cols, rec []string) (r *Recipient, field, reason string) {
	r = &Recipient{ConsentEmail: true, ConsentSMS: true, ConsentLetter: true, Active: true, Country: "FR", Language: "fr", PhoneType: "mobile"}
	var phone string
	for i, c := range cols {
		v := strings.TrimSpace(rec[i])
		if !utf8.ValidString(v) {
			return nil, c, "is not valid UTF-8 (export the file as \"CSV UTF-8\")"
		}
		var err error
		switch c {
		case "ref":
			r.Ref = v
		case "civility":
			r.Civility, err = ParseCivility(v)
		case "given_name":
			r.GivenName = v
		case "family_name":
			r.FamilyName = v
		case "email":
			if v != "" {
				r.Email, err = NormalizeEmail(v)
			}
		case "phone":
			phone = v
		case "address_line1":
			r.AddressLine1 = v
		case "address_line2":
			r.AddressLine2 = v
		case "postal_code":
			r.PostalCode = v
		case "city":
			r.City = v
		case "country":
			if v != "" {
				r.Country = strings.ToUpper(v)
			}
		case "language":
			if v != "" {
				r.Language = strings.ToLower(v)
			}
		case "benefits":
			r.Benefits, err = ParseBenefits(v)
		case "consent_email":
			r.ConsentEmail, err = parseBool(v, true)
		case "consent_sms":
			r.ConsentSMS, err = parseBool(v, true)
		case "consent_letter":
			r.ConsentLetter, err = parseBool(v, true)
		case "outreach_opt_out":
			r.OutreachOptOut, err = parseBool(v, false)
		case "active":
			r.Active, err = parseBool(v, true)
		case "caf":
			r.Caf = v
		}
		if err != nil {
			return nil, c, fieldReason(err)
		}
	}
	if phone != "" {
		e164, mobile, err := NormalizePhone(phone, r.PostalCode)
		if err != nil {
			return nil, "phone", fieldReason(err)
		}
		r.Phone, r.PhoneType = e164, PhoneType(mobile)
	}
	if err := r.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return nil, fe.Field, fe.Reason
		}
		return nil, "", err.Error()
	}
	return r, "", ""
}

// Validate checks the fields of a beneficiary that Upsert and UpsertMany
// store as given (contacts are checked by NormalizePhone and
// NormalizeEmail). Problems are *FieldError.
func (r *Recipient) Validate() error {
	if err := r.checkText(); err != nil {
		return err
	}
	switch {
	case r.Ref == "":
		return &FieldError{Field: "ref", Reason: "is required"}
	case !refRE.MatchString(r.Ref):
		return &FieldError{Field: "ref", Reason: "must be 1 to 32 letters, digits, - or _"}
	case !slices.Contains([]string{"", "M.", "Mme"}, r.Civility):
		return &FieldError{Field: "civility", Reason: `must be "M.", "Mme" or empty`}
	case len(r.GivenName) > 200:
		return &FieldError{Field: "given_name", Reason: "is longer than 200 bytes"}
	case len(r.FamilyName) > 200:
		return &FieldError{Field: "family_name", Reason: "is longer than 200 bytes"}
	case len(r.AddressLine1) > 200:
		return &FieldError{Field: "address_line1", Reason: "is longer than 200 bytes"}
	case len(r.AddressLine2) > 200:
		return &FieldError{Field: "address_line2", Reason: "is longer than 200 bytes"}
	case len(r.City) > 100:
		return &FieldError{Field: "city", Reason: "is longer than 100 bytes"}
	case r.PostalCode != "" && (r.Country == "" || r.Country == "FR") && !postalRE.MatchString(r.PostalCode):
		return &FieldError{Field: "postal_code", Reason: "must be 5 digits"}
	case len(r.PostalCode) > 16:
		return &FieldError{Field: "postal_code", Reason: "is longer than 16 bytes"}
	case r.Country != "" && !countryRE.MatchString(r.Country):
		return &FieldError{Field: "country", Reason: "must be a two-letter country code (FR)"}
	case r.Language != "" && !langRE.MatchString(r.Language):
		return &FieldError{Field: "language", Reason: "must be a two-letter language code (fr)"}
	}
	if (r.AddressLine1 != "" || r.City != "") && (r.AddressLine1 == "" || r.PostalCode == "" || r.City == "") {
		switch {
		case r.AddressLine1 == "":
			return &FieldError{Field: "address_line1", Reason: "is required with a postal address"}
		case r.PostalCode == "":
			return &FieldError{Field: "postal_code", Reason: "is required with a postal address"}
		default:
			return &FieldError{Field: "city", Reason: "is required with a postal address"}
		}
	}
	for _, b := range r.Benefits {
		if !benefitRE.MatchString(b) {
			return &FieldError{Field: "benefits", Reason: "must be benefit codes such as AF, APL or RSA"}
		}
	}
	if r.HasPostalAddress() {
		// A letter is the fallback of every route: an address that cannot
		// be printed is refused now, never at print time.
		var pe *postal.FieldError
		if err := postal.Printable(r.Postal()); errors.As(err, &pe) {
			if pe.Field == "addressee" {
				// The addressee line is civility, given and family name.
				return &FieldError{Field: "family_name", Reason: "with civility and given name " + pe.Reason}
			}
			return &FieldError{Field: pe.Field, Reason: pe.Reason}
		}
	}
	return nil
}

// ParseCivility reads "M.", "M", "Monsieur", "Mme", "Madame" (any case) or
// an empty string.
func ParseCivility(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return "", nil
	case "m", "m.", "mr", "monsieur":
		return "M.", nil
	case "mme", "mme.", "madame", "mrs", "ms":
		return "Mme", nil
	}
	return "", &FieldError{Field: "civility", Reason: `must be "M.", "Mme" or empty`}
}

// ParseBenefits reads benefit codes separated by "|", "," or spaces, and
// upper-cases them.
func ParseBenefits(s string) ([]string, error) {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ',' || r == ' ' || r == '\t' }) {
		b := strings.ToUpper(f)
		if !benefitRE.MatchString(b) {
			return nil, &FieldError{Field: "benefits", Reason: "must be benefit codes such as AF, APL or RSA"}
		}
		if !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out, nil
}

func parseBool(s string, def bool) (bool, error) {
	switch strings.ToLower(s) {
	case "":
		return def, nil
	case "1", "true", "vrai", "oui", "o", "yes", "y", "x":
		return true, nil
	case "0", "false", "faux", "non", "n", "no":
		return false, nil
	}
	return false, errors.New("must be oui/non, true/false or 1/0")
}

// fieldReason is an error's reason without the offending value, which may be
// personal data (NormalizePhone and NormalizeEmail quote it).
func fieldReason(err error) string {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err.Error()
	}
	return RedactedReason(fe)
}

// RedactedReason is fe's reason with a leading quoted value removed:
// `"06 12" is not a valid phone number` becomes `is not a valid phone number`.
func RedactedReason(fe *FieldError) string {
	reason := fe.Reason
	if strings.HasPrefix(reason, `"`) {
		if q, err := strconv.QuotedPrefix(reason); err == nil {
			reason = strings.TrimSpace(reason[len(q):])
		}
	}
	return reason
}
