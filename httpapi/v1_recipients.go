package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
)

// recipientBody is the body of PUT /v1/recipients/{ref}. Contacts and the
// address replace the stored ones (absent means none); consents, the
// outreach opt-out and active, when absent, keep their stored value (or
// their default for a new beneficiary).
type recipientBody struct {
	Civility       string   `json:"civility"`
	GivenName      string   `json:"given_name"`
	FamilyName     string   `json:"family_name"`
	Email          string   `json:"email"`
	Phone          string   `json:"phone"`
	AddressLine1   string   `json:"address_line1"`
	AddressLine2   string   `json:"address_line2"`
	PostalCode     string   `json:"postal_code"`
	City           string   `json:"city"`
	Country        string   `json:"country"`
	Language       string   `json:"language"`
	Benefits       []string `json:"benefits"`
	ConsentEmail   *bool    `json:"consent_email"`
	ConsentSMS     *bool    `json:"consent_sms"`
	ConsentLetter  *bool    `json:"consent_letter"`
	OutreachOptOut *bool    `json:"outreach_opt_out"`
	Active         *bool    `json:"active"`
	// Caf is the code of the beneficiary's Caf; empty: the Caf of the
	// postal code.
	Caf string `json:"caf"`
}

type recipientResponse struct {
	*recipients.Recipient
	Outcome string `json:"outcome"` // inserted, updated, unchanged
}

func (a *API) putRecipient(w http.ResponseWriter, r *http.Request) {
	var b recipientBody
	if err := decodeJSON(w, r, &b, a.maxBody()); err != nil {
		a.fail(w, r, err)
		return
	}
	rec, keep, err := b.recipient(r.PathValue("ref"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var outcome string
	test := keyIsTest(r.Context())
	rec.Test = test
	err = a.inTx(r.Context(), func(tx pgx.Tx) error {
		out, err := recipients.UpsertMany(r.Context(), tx, []*recipients.Recipient{rec},
			&recipients.UpsertOpts{Keep: keep, Actor: Actor(r.Context()), Agencies: a.Agencies, Test: test})
		if err != nil {
			return err
		}
		outcome = out[0]
		rec, err = recipients.GetByRefIn(r.Context(), tx, rec.Ref, test)
		return err
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if outcome == recipients.Inserted {
		status = http.StatusCreated
	}
	writeJSON(w, status, recipientResponse{Recipient: rec, Outcome: outcome})
}

func (b *recipientBody) recipient(ref string) (*recipients.Recipient, []string, error) {
	civility, err := recipients.ParseCivility(b.Civility)
	if err != nil {
		return nil, nil, err
	}
	rec := &recipients.Recipient{
		Ref: ref, Civility: civility, GivenName: b.GivenName, FamilyName: b.FamilyName,
		AddressLine1: b.AddressLine1, AddressLine2: b.AddressLine2, PostalCode: b.PostalCode, City: b.City, Caf: b.Caf,
		Country: b.Country, Language: b.Language,
		ConsentEmail: true, ConsentSMS: true, ConsentLetter: true, Active: true, PhoneType: "mobile",
	}
	if rec.Country == "" {
		rec.Country = "FR"
	}
	if rec.Language == "" {
		rec.Language = "fr"
	}
	var keep []string
	for col, v := range map[string]struct {
		src *bool
		dst *bool
	}{
		"consent_email": {b.ConsentEmail, &rec.ConsentEmail}, "consent_sms": {b.ConsentSMS, &rec.ConsentSMS},
		"consent_letter": {b.ConsentLetter, &rec.ConsentLetter}, "outreach_opt_out": {b.OutreachOptOut, &rec.OutreachOptOut},
		"active": {b.Active, &rec.Active},
	} {
		if v.src == nil {
			keep = append(keep, col)
		} else {
			*v.dst = *v.src
		}
	}
	if b.Email != "" {
		if rec.Email, err = recipients.NormalizeEmail(b.Email); err != nil {
			return nil, nil, err
		}
	}
	if b.Phone != "" {
		e164, mobile, err := recipients.NormalizePhone(b.Phone, b.PostalCode)
		if err != nil {
			return nil, nil, err
		}
		rec.Phone, rec.PhoneType = e164, recipients.PhoneType(mobile)
	}
	rec.Benefits = []string{}
	for _, code := range b.Benefits {
		list, err := recipients.ParseBenefits(code)
		if err != nil || len(list) != 1 {
			return nil, nil, invalid("benefits", "must be benefit codes such as AF, APL or RSA")
		}
		rec.Benefits = append(rec.Benefits, list[0])
	}
	if err := rec.Validate(); err != nil {
		return nil, nil, err
	}
	return rec, keep, nil
}

// consentEvent is a row of a beneficiary's consent and contact history.
type consentEvent struct {
	Event      string    `json:"event"`
	Channel    string    `json:"channel,omitempty"`
	Source     string    `json:"source,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
}

type recipientView struct {
	Recipient  *recipients.Recipient `json:"recipient"`
	Consents   consents              `json:"consents"`
	Notices    []*notices.Notice     `json:"notices"` // newest first
	NextCursor string                `json:"next_cursor"`
}

type consents struct {
	Email          bool           `json:"email"`
	SMS            bool           `json:"sms"`
	Letter         bool           `json:"letter"`
	OutreachOptOut bool           `json:"outreach_opt_out"`
	EmailStatus    string         `json:"email_status"`
	PhoneStatus    string         `json:"phone_status"`
	History        []consentEvent `json:"history"`
}

func (a *API) getRecipient(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	before, limit, err := page(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rec, err := recipients.GetByRefIn(ctx, a.DB, r.PathValue("ref"), keyIsTest(ctx))
	if err != nil {
		if errors.Is(err, recipients.ErrNotFound) {
			err = notFound("ref", "no beneficiary has this number")
		}
		a.fail(w, r, err)
		return
	}
	v := recipientView{Recipient: rec, Notices: []*notices.Notice{}, Consents: consents{
		Email: rec.ConsentEmail, SMS: rec.ConsentSMS, Letter: rec.ConsentLetter, OutreachOptOut: rec.OutreachOptOut,
		EmailStatus: rec.EmailStatus, PhoneStatus: rec.PhoneStatus, History: []consentEvent{},
	}}
	rows, err := a.DB.Query(ctx, `
		SELECT event, channel, source, detail, occurred_at FROM recipient_events
		WHERE recipient_id = $1 ORDER BY id`, rec.ID)
	if err == nil {
		v.Consents.History, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (consentEvent, error) {
			var e consentEvent
			err := row.Scan(&e.Event, &e.Channel, &e.Source, &e.Detail, &e.OccurredAt)
			return e, err
		})
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	cursor := before
	if cursor == 0 {
		cursor = 1<<63 - 1
	}
	rows, err = a.DB.Query(ctx, `SELECT `+notices.Columns+` FROM notices
		WHERE recipient_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, rec.ID, cursor, limit+1)
	if err == nil {
		for rows.Next() {
			n, err := notices.Scan(rows)
			if err != nil {
				rows.Close()
				a.fail(w, r, err)
				return
			}
			v.Notices = append(v.Notices, n)
		}
		err = rows.Err()
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if len(v.Notices) > limit {
		v.Notices = v.Notices[:limit]
		v.NextCursor = cursorFor(v.Notices[limit-1].ID)
	}
	writeJSON(w, http.StatusOK, v)
}

// importRecipients spools the CSV body to a temporary file first, so that a
// body over the limit is refused before any row is written.
func (a *API) importRecipients(w http.ResponseWriter, r *http.Request) {
	if keyIsTest(r.Context()) {
		a.fail(w, r, &Error{Status: http.StatusForbidden, Code: CodeForbidden,
			Message: "a test key cannot import beneficiaries: create test beneficiaries one by one with PUT /v1/recipients/{ref}"})
		return
	}
	var encoding string
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if _, params, err := mime.ParseMediaType(ct); err == nil {
			if encoding, err = recipients.ParseEncoding(params["charset"]); err != nil {
				a.fail(w, r, invalid("charset", "%q is not supported: utf-8 or windows-1252", params["charset"]))
				return
			}
		}
	}
	var dryRun bool
	switch v := r.URL.Query().Get("dry_run"); v {
	case "", "false", "0":
	case "true", "1":
		dryRun = true
	default:
		a.fail(w, r, invalid("dry_run", "must be true or false"))
		return
	}
	max := a.maxImport()
	if r.ContentLength > max {
		a.fail(w, r, &http.MaxBytesError{Limit: max})
		return
	}
	f, err := os.CreateTemp("", "courrier-import-*.csv")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	n, err := io.Copy(f, http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if n == 0 {
		a.fail(w, r, invalid("", "request body is empty: a CSV file is expected"))
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		a.fail(w, r, err)
		return
	}
	sum, err := recipients.Import(r.Context(), a.DB, f, recipients.ImportOpts{Actor: Actor(r.Context()), Agencies: a.Agencies, Encoding: encoding,
		DryRun: dryRun})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log().Info("recipients imported", "key_id", keyID(r.Context()), "rows", sum.Rows, "inserted", sum.Inserted,
		"updated", sum.Updated, "unchanged", sum.Unchanged, "rejected", sum.Rejected)
	writeJSON(w, http.StatusOK, sum)
}
