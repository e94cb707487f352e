package recipients

import (
	"context"
	"fmt"
)

// Recipient events (recipient_events.event).
const (
	EventSMSConsentWithdrawn  = "sms_consent_withdrawn"
	EventSMSConsentRestored   = "sms_consent_restored"
	EventEmailUndeliverable   = "email_undeliverable"
	EventPhoneUndeliverable   = "phone_undeliverable"
	EventUnsubscribed         = "unsubscribed"
	EventAddressUndeliverable = "address_undeliverable"
)

// Each function below changes the recipients row and appends its
// recipient_events row in one statement, so the two never diverge even when
// db is a pool rather than a transaction. A change that is already in effect
// writes nothing. Details never carry a phone number or an address.

// WithdrawSMSConsentByPhone withdraws SMS consent from every beneficiary
// whose phone is e164 (an inbound STOP) and returns how many changed.
func WithdrawSMSConsentByPhone(ctx context.Context, db DBTX, e164, source string) (int, error) {
	return setSMSConsentByPhone(ctx, db, e164, source, false)
}

// RestoreSMSConsentByPhone restores SMS consent for every beneficiary whose
// phone is e164 (an inbound START) and returns how many changed.
func RestoreSMSConsentByPhone(ctx context.Context, db DBTX, e164, source string) (int, error) {
	return setSMSConsentByPhone(ctx, db, e164, source, true)
}

func setSMSConsentByPhone(ctx context.Context, db DBTX, e164, source string, consent bool) (int, error) {
	event := EventSMSConsentWithdrawn
	if consent {
		event = EventSMSConsentRestored
	}
	// The number itself is remembered, for beneficiaries who get it later.
	noted := `INSERT INTO sms_opt_outs (phone, source) VALUES ($1, $4) ON CONFLICT (phone) DO NOTHING`
	if consent {
		noted = `DELETE FROM sms_opt_outs WHERE phone = $1`
	}
	var n int
	err := db.QueryRow(ctx, `
		WITH noted AS (`+noted+`), changed AS (
			UPDATE recipients SET consent_sms = $2, updated_at = now()
			WHERE phone = $1 AND consent_sms <> $2
			RETURNING id
		), logged AS (
			INSERT INTO recipient_events (recipient_id, event, channel, source)
			SELECT id, $3, 'sms', $4 FROM changed
			RETURNING 1
		)
		SELECT count(*) FROM logged`, e164, consent, event, source).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("record %s by phone: %w", event, err)
	}
	return n, nil
}

// applySMSOptOuts withdraws SMS consent from the beneficiaries with one of
// phones whose number replied STOP (sms_opt_outs) and still have consent:
// those just created or given that number.
func applySMSOptOuts(ctx context.Context, db DBTX, phones []string) error {
	if len(phones) == 0 {
		return nil
	}
	_, err := db.Exec(ctx, `
		WITH changed AS (
			UPDATE recipients r SET consent_sms = false, updated_at = now()
			FROM sms_opt_outs o
			WHERE r.phone = o.phone AND r.phone = ANY($1) AND r.consent_sms
			RETURNING r.id
		)
		INSERT INTO recipient_events (recipient_id, event, channel, source, detail)
		SELECT id, $2, 'sms', 'sms_opt_out_list', 'the number replied STOP before' FROM changed`, phones, EventSMSConsentWithdrawn)
	if err != nil {
		return fmt.Errorf("apply SMS opt-outs: %w", err)
	}
	return nil
}

// WithdrawSMSConsent withdraws beneficiary id's SMS consent (e.g. Twilio
// error 21610: the number replied STOP to our sender).
func WithdrawSMSConsent(ctx context.Context, db DBTX, id int64, source string) error {
	return change(ctx, db, id, EventSMSConsentWithdrawn, "sms", source, "",
		`UPDATE recipients SET consent_sms = false, updated_at = now() WHERE id = $1 AND consent_sms RETURNING id`)
}

// MarkEmailUndeliverable marks beneficiary id's email address undeliverable
// (SMTP 550/551/553); the router then skips email until the address changes.
func MarkEmailUndeliverable(ctx context.Context, db DBTX, id int64, reason string) error {
	return change(ctx, db, id, EventEmailUndeliverable, "email", "", reason,
		`UPDATE recipients SET email_status = 'undeliverable', updated_at = now()
		 WHERE id = $1 AND email IS NOT NULL AND email_status <> 'undeliverable' RETURNING id`)
}

// MarkPhoneUndeliverable marks beneficiary id's phone number undeliverable
// (Twilio 21211/21614); the router then skips SMS until the number changes.
func MarkPhoneUndeliverable(ctx context.Context, db DBTX, id int64, reason string) error {
	return change(ctx, db, id, EventPhoneUndeliverable, "sms", "", reason,
		`UPDATE recipients SET phone_status = 'undeliverable', updated_at = now()
		 WHERE id = $1 AND phone IS NOT NULL AND phone_status <> 'undeliverable' RETURNING id`)
}

// MarkAddressUndeliverable marks beneficiary id's postal address
// undeliverable (a letter came back: "n'habite pas à l'adresse indiquée");
// the router then skips letters until the address changes.
func MarkAddressUndeliverable(ctx context.Context, db DBTX, id int64, reason string) error {
	return change(ctx, db, id, EventAddressUndeliverable, "letter", "", reason,
		`UPDATE recipients SET address_status = 'undeliverable', updated_at = now()
		 WHERE id = $1 AND address_status <> 'undeliverable' RETURNING id`)
}

// OptOutOutreach records that beneficiary id wants no more general mailings
// or outreach (unsubscribe link). Legal notices are not affected.
func OptOutOutreach(ctx context.Context, db DBTX, id int64, source string) error {
	return change(ctx, db, id, EventUnsubscribed, "", source, "",
		`UPDATE recipients SET outreach_opt_out = true, updated_at = now() WHERE id = $1 AND NOT outreach_opt_out RETURNING id`)
}

// change runs update (which takes the id as $1 and returns the id when it
// changed something) and logs event. It returns ErrNotFound for an unknown id.
func change(ctx context.Context, db DBTX, id int64, event, channel, source, detail, update string) error {
	var exists bool
	err := db.QueryRow(ctx, `
		WITH changed AS (`+update+`),
		logged AS (
			INSERT INTO recipient_events (recipient_id, event, channel, source, detail)
			SELECT id, $2, $3, $4, $5 FROM changed
		)
		SELECT EXISTS (SELECT 1 FROM recipients WHERE id = $1)`, id, event, channel, source, detail).Scan(&exists)
	if err != nil {
		return fmt.Errorf("record %s for beneficiary %d: %w", event, id, err)
	}
	if !exists {
		return fmt.Errorf("record %s: %w: id %d", event, ErrNotFound, id)
	}
	return nil
}

// SuspendEmail suspends beneficiary id's email address after repeated soft
// bounces; the router skips email until staff or a new address restore it.
func SuspendEmail(ctx context.Context, db DBTX, id int64, reason string) error {
	return change(ctx, db, id, EventEmailUndeliverable, "email", "soft_bounces", reason,
		`UPDATE recipients SET email_status = 'suspended', updated_at = now()
		 WHERE id = $1 AND email IS NOT NULL AND email_status = 'ok' RETURNING id`)
}

// MarkEmailsUndeliverable is MarkEmailUndeliverable for many beneficiaries
// at once (hard bounces recorded together).
func MarkEmailsUndeliverable(ctx context.Context, db DBTX, ids []int64, reason string) error {
	_, err := db.Exec(ctx, `
		WITH changed AS (
			UPDATE recipients SET email_status = 'undeliverable', updated_at = now()
			WHERE id = ANY($1) AND email IS NOT NULL AND email_status <> 'undeliverable' RETURNING id
		)
		INSERT INTO recipient_events (recipient_id, event, channel, source, detail)
		SELECT id, $2, 'email', '', $3 FROM changed`, ids, EventEmailUndeliverable, reason)
	if err != nil {
		return fmt.Errorf("record %s for %d beneficiaries: %w", EventEmailUndeliverable, len(ids), err)
	}
	return nil
}
