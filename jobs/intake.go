package jobs

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/requests"
	"github.com/courrier-dev/courrier/territories"
)

// ErrConflict is returned when an upstream id (event or request) is replayed
// with different content. It is requests.ErrConflict.
var ErrConflict = requests.ErrConflict

// InvalidError is an intake input problem with one field.
type InvalidError = requests.InvalidError

// Rights events.
const (
	RightsOpened  = "opened"
	RightsChanged = "changed"
	RightsEnded   = "ended"
	RightsRefused = "refused"
)

// BenefitNames are the French names of common benefit codes, shown in rights
// notices. Codes not listed are shown as sent unless the event names them.
var BenefitNames = map[string]string{
	"AF":   "Allocations familiales",
	"CF":   "Complément familial",
	"ASF":  "Allocation de soutien familial",
	"ARS":  "Allocation de rentrée scolaire",
	"AEEH": "Allocation d'éducation de l'enfant handicapé",
	"AJPP": "Allocation journalière de présence parentale",
	"PAJE": "Prestation d'accueil du jeune enfant",
	"APL":  "Aide personnalisée au logement",
	"ALF":  "Allocation de logement familiale",
	"ALS":  "Allocation de logement sociale",
	"RSA":  "Revenu de solidarité active",
	"PA":   "Prime d'activité",
	"PPA":  "Prime d'activité",
	"AAH":  "Allocation aux adultes handicapés",
}

// RightsEvent is a rights event posted by an upstream system.
type RightsEvent struct {
	ExternalID  string
	RecipientID int64
	Event       string // opened, changed, ended, refused
	Benefit     string // code, e.g. APL
	BenefitName string // shown in the notice; defaults to BenefitNames[Benefit]
	// AmountCents is the monthly amount after the event (required when
	// opened or changed).
	AmountCents *int64
	// PreviousAmountCents is the amount before a change; when nil it is
	// taken from the latest earlier event of the same benefit.
	PreviousAmountCents *int64
	EffectiveOn         time.Time // a date
	// Reason is the motive shown in changed, ended and refused notices; a
	// generic one is used when empty.
	Reason    string
	Test      bool
	CreatedBy string
}

// RightsResult is what RecordRightsEvent did.
type RightsResult struct {
	EventID  int64 `json:"id"`
	NoticeID int64 `json:"notice_id"`
	Created  bool  `json:"created"`
}

// Default motives of rights notices when the event gives none.
const (
	DefaultReasonChanged = "la mise à jour des informations de votre dossier"
	DefaultReasonEnded   = "vous ne remplissez plus les conditions d'attribution de cette prestation"
	DefaultReasonRefused = "vous ne remplissez pas les conditions d'attribution de cette prestation"
)

func (ev *RightsEvent) validate() error {
	switch {
	case ev.ExternalID == "":
		return &InvalidError{Field: "event_id", Reason: "is required"}
	case len(ev.ExternalID) > 200:
		return &InvalidError{Field: "event_id", Reason: "is longer than 200 characters"}
	case ev.RecipientID <= 0:
		return &InvalidError{Field: "recipient_ref", Reason: "is required"}
	case !slices.Contains([]string{RightsOpened, RightsChanged, RightsEnded, RightsRefused}, ev.Event):
		return &InvalidError{Field: "event", Reason: "must be opened, changed, ended or refused"}
	case ev.Benefit == "" || len(ev.Benefit) > 20:
		return &InvalidError{Field: "benefit", Reason: "must be a benefit code such as APL"}
	case ev.EffectiveOn.IsZero():
		return &InvalidError{Field: "effective_on", Reason: "is required (YYYY-MM-DD)"}
	case ev.AmountCents == nil && (ev.Event == RightsOpened || ev.Event == RightsChanged):
		return &InvalidError{Field: "amount", Reason: "is required when rights are " + ev.Event}
	case ev.AmountCents != nil && *ev.AmountCents < 0:
		return &InvalidError{Field: "amount", Reason: "is negative"}
	case ev.PreviousAmountCents != nil && *ev.PreviousAmountCents < 0:
		return &InvalidError{Field: "previous_amount", Reason: "is negative"}
	case len(ev.Reason) > 1000:
		return &InvalidError{Field: "reason", Reason: "is longer than 1000 characters"}
	}
	return nil
}

// fingerprint identifies what upstream sent, to tell a replay from a
// different event reusing the id.
func (ev *RightsEvent) fingerprint() string {
	b, _ := json.Marshal([]any{ev.RecipientID, ev.Event, ev.Benefit, ev.BenefitName, ev.AmountCents,
		ev.PreviousAmountCents, ev.EffectiveOn.Format(time.DateOnly), ev.Reason})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// euros formats cents as the decimal string templates read as money.
func euros(cents int64) string {
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}

// RecordRightsEvent stores a rights event and, in the same transaction, its
// personalised notice (rights_opened, rights_changed or no_rights) with its
// deliver job. A replay of the same event id returns the first result with
// Created false and writes nothing; the same id with different content
// returns ErrConflict.
func RecordRightsEvent(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], ev RightsEvent) (*RightsResult, error) {
	if err := ev.validate(); err != nil {
		return nil, err
	}
	ev.Benefit = strings.ToUpper(ev.Benefit)
	effective := ev.EffectiveOn.Format(time.DateOnly)
	fp := ev.fingerprint()
	res := &RightsResult{Created: true}
	err := tx.QueryRow(ctx, `
		INSERT INTO rights_events (external_id, recipient_id, event, benefit, amount_cents, effective_on, created_by, payload_hash, test)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (external_id, test) DO NOTHING
		RETURNING id`, ev.ExternalID, ev.RecipientID, ev.Event, ev.Benefit, ev.AmountCents, effective, ev.CreatedBy, fp, ev.Test,
	).Scan(&res.EventID)
	if errors.Is(err, pgx.ErrNoRows) {
		var hash string
		var noticeID *int64
		err := tx.QueryRow(ctx, `SELECT id, payload_hash, notice_id FROM rights_events WHERE external_id = $1
			AND test = ($2 OR coalesce((SELECT test FROM recipients WHERE id = $3), false))`,
			ev.ExternalID, ev.Test, ev.RecipientID).Scan(&res.EventID, &hash, &noticeID)
		if err != nil {
			return nil, fmt.Errorf("find rights event: %w", err)
		}
		if hash != fp {
			return nil, fmt.Errorf("%w: event %q was already received with different content", ErrConflict, ev.ExternalID)
		}
		if noticeID != nil {
			res.NoticeID = *noticeID
		}
		res.Created = false
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("insert rights event: %w", err)
	}

	name := ev.BenefitName
	if name == "" {
		name = BenefitNames[ev.Benefit]
	}
	if name == "" {
		name = ev.Benefit
	}
	data := map[string]any{"benefit": name, "benefit_code": ev.Benefit, "effective_date": effective, "event_id": ev.ExternalID}
	var kind notices.Kind
	switch ev.Event {
	case RightsOpened:
		kind = notices.RightsOpened
		data["amount"] = euros(*ev.AmountCents)
	case RightsChanged:
		kind = notices.RightsChanged
		prev := ev.PreviousAmountCents
		if prev == nil {
			err := tx.QueryRow(ctx, `
				SELECT amount_cents FROM rights_events
				WHERE recipient_id = $1 AND benefit = $2 AND amount_cents IS NOT NULL AND id <> $3 AND effective_on <= $4
				ORDER BY effective_on DESC, id DESC LIMIT 1`, ev.RecipientID, ev.Benefit, res.EventID, effective).Scan(&prev)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil, &InvalidError{Field: "previous_amount", Reason: "is required: no earlier amount of this benefit is known"}
			}
			if err != nil {
				return nil, fmt.Errorf("find previous amount: %w", err)
			}
		}
		data["old_amount"] = euros(*prev)
		data["new_amount"] = euros(*ev.AmountCents)
		data["reason"] = cmpOr(ev.Reason, DefaultReasonChanged)
	case RightsEnded, RightsRefused:
		kind = notices.NoRights
		data["ended"] = ev.Event == RightsEnded
		data["reason"] = cmpOr(ev.Reason, map[bool]string{true: DefaultReasonEnded, false: DefaultReasonRefused}[ev.Event == RightsEnded])
		if ev.AmountCents != nil {
			data["amount"] = euros(*ev.AmountCents)
		}
	}
	id, _, err := EnqueueNotice(ctx, tx, client, notices.New{
		RecipientID: ev.RecipientID, Kind: kind, Data: data, IdempotencyKey: "rights_event:" + ev.ExternalID,
		Test: ev.Test, CreatedBy: ev.CreatedBy,
	}, nil)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE rights_events SET notice_id = $2 WHERE id = $1`, res.EventID, id); err != nil {
		return nil, fmt.Errorf("link rights event to its notice: %w", err)
	}
	res.NoticeID = id
	return res, nil
}

func cmpOr(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// LifeEventKinds lists the life events upstream systems may post.
var LifeEventKinds = []string{"first_birth", "separation", "child_death", "parent_death"}

// LifeEvent is a life event posted by an upstream system. It creates no
// notice here: the outreach campaigns read life_events.
type LifeEvent struct {
	ExternalID  string
	RecipientID int64
	Kind        string
	OccurredOn  time.Time // a date
	CreatedBy   string
	Test        bool // recorded with a test key
}

// RecordLifeEvent stores a life event. A replay of the same id returns the
// stored id with created false; the same id with different content returns
// ErrConflict.
func RecordLifeEvent(ctx context.Context, tx pgx.Tx, ev LifeEvent) (id int64, created bool, err error) {
	switch {
	case ev.ExternalID == "":
		return 0, false, &InvalidError{Field: "event_id", Reason: "is required"}
	case len(ev.ExternalID) > 200:
		return 0, false, &InvalidError{Field: "event_id", Reason: "is longer than 200 characters"}
	case ev.RecipientID <= 0:
		return 0, false, &InvalidError{Field: "recipient_ref", Reason: "is required"}
	case !slices.Contains(LifeEventKinds, ev.Kind):
		return 0, false, &InvalidError{Field: "kind", Reason: "must be first_birth, separation, child_death or parent_death"}
	case ev.OccurredOn.IsZero():
		return 0, false, &InvalidError{Field: "occurred_on", Reason: "is required (YYYY-MM-DD)"}
	}
	day := ev.OccurredOn.Format(time.DateOnly)
	err = tx.QueryRow(ctx, `
		INSERT INTO life_events (external_id, recipient_id, kind, occurred_on, created_by, test)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (external_id, test) DO NOTHING
		RETURNING id`, ev.ExternalID, ev.RecipientID, ev.Kind, day, ev.CreatedBy, ev.Test).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("insert life event: %w", err)
	}
	var same bool
	err = tx.QueryRow(ctx, `
		SELECT id, recipient_id = $2 AND kind = $3 AND occurred_on = $4 FROM life_events
		WHERE external_id = $1 AND test = ($5 OR coalesce((SELECT test FROM recipients WHERE id = $2), false))`,
		ev.ExternalID, ev.RecipientID, ev.Kind, day, ev.Test).Scan(&id, &same)
	if err != nil {
		return 0, false, fmt.Errorf("find life event: %w", err)
	}
	if !same {
		return 0, false, fmt.Errorf("%w: event %q was already received with different content", ErrConflict, ev.ExternalID)
	}
	return id, false, nil
}

// RequestTypes are how acknowledgement and answer notices name a request
// of each kind ("votre demande … Demande : <type>").
var RequestTypes = map[string]string{
	requests.KindBenefitClaim:      "demande de prestation",
	requests.KindChangeOfSituation: "déclaration de changement de situation",
	requests.KindSocialAid:         "demande d'aide",
	requests.KindDocument:          "envoi de documents",
	requests.KindComplaint:         "réclamation",
	requests.KindOther:             "demande",
}

// RequestResult is what ReceiveRequest or AnswerRequest did.
type RequestResult struct {
	Request  *requests.Request
	NoticeID int64
	Created  bool
}

// ReceiveRequest stores a request and, in the same transaction, its
// acknowledgement notice (due by the acknowledgement deadline, River
// priority 1) with its deliver job. requestType names the request in the
// notice (default RequestTypes[kind]). A replay returns the stored request
// with Created false; the same id with different content returns
// ErrConflict.
func ReceiveRequest(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], in requests.New, requestType string,
	s requests.Settings, test bool, now time.Time) (*RequestResult, error) {
	rcpt, err := recipients.Get(ctx, tx, in.RecipientID)
	if err != nil && !errors.Is(err, recipients.ErrNotFound) {
		return nil, err
	}
	if rcpt != nil {
		s = s.ForCaf(rcpt.Caf, rcpt.PostalCode) // deadlines in the Caf's calendar
	}
	in.Test = in.Test || test
	req, created, err := requests.Receive(ctx, tx, in, s, now)
	if err != nil {
		return nil, err
	}
	if !created {
		res := &RequestResult{Request: req}
		if req.AckNoticeID != nil {
			res.NoticeID = *req.AckNoticeID
		}
		return res, nil
	}
	if requestType == "" {
		requestType = RequestTypes[req.Kind]
	}
	due := req.AckDueBy
	id, _, err := EnqueueNotice(ctx, tx, client, notices.New{
		RecipientID: req.RecipientID, Kind: notices.RequestAcknowledgement,
		IdempotencyKey: "request:" + req.ExternalID + ":ack", DueBy: &due, Test: test, CreatedBy: in.CreatedBy,
		Data: map[string]any{
			"request_ref":  req.ExternalID,
			"request_type": requestType,
			"received_at":  req.ReceivedAt.In(s.Calendar.Location()).Format(time.RFC3339),
			"answer_by":    req.AnswerDueBy.In(s.Calendar.Location()).Format(time.DateOnly),
			"request_kind": req.Kind,
		},
	}, &EnqueueOpts{Priority: 1})
	if err != nil {
		return nil, err
	}
	if err := requests.SetAckNotice(ctx, tx, req.ID, id); err != nil {
		return nil, err
	}
	req.AckNoticeID = &id
	return &RequestResult{Request: req, NoticeID: id, Created: true}, nil
}

// Answer is the answer to a request, written by staff.
type Answer struct {
	// Text is the answer (paragraphs separated by a blank line).
	Text string
	// RequestType names the request in the answer (default
	// RequestTypes[kind]); unused for complaints.
	RequestType string
	Test        bool
	CreatedBy   string
}

// AnswerRequest creates, in one transaction, the answer notice of request
// externalID (request_answer, or complaint_answer for a complaint) with its
// deliver job, and marks the request answered. The request is closed when
// the notice is delivered. Answering again with the same text returns the
// first answer with Created false; with a different text, ErrConflict.
func AnswerRequest(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], externalID string, a Answer, now time.Time) (*RequestResult, error) {
	a.Text = strings.TrimSpace(a.Text)
	switch {
	case a.Text == "":
		return nil, &InvalidError{Field: "answer", Reason: "is required"}
	case len(a.Text) > 20000:
		return nil, &InvalidError{Field: "answer", Reason: "is longer than 20,000 characters"}
	case len(a.RequestType) > 200:
		return nil, &InvalidError{Field: "request_type", Reason: "is longer than 200 characters"}
	}
	req, err := requests.GetForUpdate(ctx, tx, externalID, a.Test)
	if err != nil {
		return nil, err
	}
	received := req.ReceivedAt.In(territories.Paris()).Format(time.DateOnly)
	kind := notices.RequestAnswer
	data := map[string]any{"answer": a.Text, "received_at": received}
	if req.Kind == requests.KindComplaint {
		kind = notices.ComplaintAnswer
		data["complaint_ref"] = req.ExternalID
	} else {
		data["request_ref"] = req.ExternalID
		stored, err := storedRequestType(ctx, tx, req)
		if err != nil {
			return nil, err
		}
		data["request_type"] = cmp.Or(a.RequestType, stored, RequestTypes[req.Kind])
	}
	if req.AnswerNoticeID != nil {
		prev, err := notices.Get(ctx, tx, *req.AnswerNoticeID)
		if err != nil {
			return nil, err
		}
		if !sameData(prev.Data, data) {
			return nil, fmt.Errorf("%w: request %q was already answered differently", ErrConflict, externalID)
		}
		return &RequestResult{Request: req, NoticeID: prev.ID}, nil
	}
	due := req.AnswerDueBy
	id, _, err := EnqueueNotice(ctx, tx, client, notices.New{
		RecipientID: req.RecipientID, Kind: kind, Data: data, IdempotencyKey: "request:" + req.ExternalID + ":answer",
		DueBy: &due, Test: a.Test, CreatedBy: a.CreatedBy,
	}, &EnqueueOpts{Priority: 1})
	if err != nil {
		return nil, err
	}
	if err := requests.Answer(ctx, tx, req.ID, id, a.CreatedBy, now); err != nil {
		return nil, err
	}
	req, err = requests.Get(ctx, tx, req.ID)
	if err != nil {
		return nil, err
	}
	return &RequestResult{Request: req, NoticeID: id, Created: true}, nil
}

// storedRequestType is how the acknowledgement named the request at
// receipt ("" when it has none).
func storedRequestType(ctx context.Context, tx pgx.Tx, req *requests.Request) (string, error) {
	if req.AckNoticeID == nil {
		return "", nil
	}
	ack, err := notices.Get(ctx, tx, *req.AckNoticeID)
	if err != nil {
		return "", err
	}
	t, _ := ack.Data["request_type"].(string)
	return t, nil
}

// sameData compares notice data as stored (through JSON).
func sameData(stored, fresh map[string]any) bool {
	b, err := json.Marshal(fresh)
	if err != nil {
		return false
	}
	var norm map[string]any
	if err := json.Unmarshal(b, &norm); err != nil {
		return false
	}
	return maps.EqualFunc(stored, norm, func(x, y any) bool { return fmt.Sprint(x) == fmt.Sprint(y) })
}
