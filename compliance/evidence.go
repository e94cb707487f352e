package compliance

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/courrier-dev/courrier/agencies"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/templates"
)

// PackFormat names the layout of a Pack; it changes if the layout does.
const PackFormat = "courrier-evidence-pack/1"

// PackEncoding describes, inside each pack, how event hashes are computed,
// so that the pack can be checked without courrier's source.
const PackEncoding = `hash = SHA-256(prev_hash || encoding), prev_hash of position 1 = 32 zero bytes; ` +
	`encoding = JSON object without whitespace, keys in this order: id, delivery_id, notice_id, event, ` +
	`provider_status, error_code, detail, occurred_at, recorded_at; times in UTC, RFC 3339 with trailing ` +
	`fractional zeros trimmed; strings escaped as JSON without HTML escaping. ` +
	`content_hash = hex SHA-256 of subject, text and html in that order, each preceded by its length in bytes in decimal and a colon (e.g. "7:Bonjour0:…").`

// Pack is an evidence pack: every notice in scope with its deliveries
// (content or, after retention, only its hash; masked address), every ledger
// event with its chain position and hashes, and the seal heads, so that it
// can be verified offline with VerifyPack.
type Pack struct {
	Format      string       `json:"format"`
	GeneratedAt time.Time    `json:"generated_at"`
	Scope       PackScope    `json:"scope"`
	Encoding    string       `json:"encoding"`
	Notices     []PackNotice `json:"notices"`
	// Seals are the seal batches the events belong to, plus the latest seal.
	Seals []PackSeal `json:"seals"`
}

// PackScope says what a pack was exported for.
type PackScope struct {
	Recipient string  `json:"recipient,omitempty"`
	Rule      string  `json:"rule,omitempty"`
	Period    *Period `json:"period,omitempty"`
}

// PackNotice is one notice with its deliveries and events.
type PackNotice struct {
	ID          int64          `json:"id"`
	Recipient   string         `json:"recipient"` // beneficiary number
	Kind        string         `json:"kind"`
	TemplateKey string         `json:"template_key"`
	State       string         `json:"state"`
	Test        bool           `json:"test"`
	CreatedAt   time.Time      `json:"created_at"`
	SentAt      *time.Time     `json:"sent_at,omitempty"`
	DeliveredAt *time.Time     `json:"delivered_at,omitempty"`
	Deliveries  []PackDelivery `json:"deliveries"`
	Events      []PackEvent    `json:"events"`
}

// PackDelivery is one channel's delivery of a notice.
type PackDelivery struct {
	ID              int64           `json:"id"`
	Channel         string          `json:"channel"`
	Provider        string          `json:"provider"`
	Address         string          `json:"address_masked"`
	TemplateVersion string          `json:"template_version"`
	ContentHash     string          `json:"content_hash"`
	Content         *ledger.Content `json:"content,omitempty"` // nil once purged
	Purged          bool            `json:"content_purged"`
	// Reproduced: the content was not stored (campaign batches keep only
	// its hash) and was rendered again from the recorded template version
	// and the notice's data; it matches the hash recorded when it was sent.
	Reproduced        bool       `json:"content_reproduced,omitempty"`
	ProviderMessageID string     `json:"provider_message_id,omitempty"`
	State             string     `json:"state"`
	Attempt           int        `json:"attempt"`
	ErrorCode         string     `json:"error_code,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	SentAt            *time.Time `json:"sent_at,omitempty"`
	FinalAt           *time.Time `json:"final_at,omitempty"`
}

// PackEvent is a ledger event with its place in the hash chain. Position 0
// means not sealed yet.
type PackEvent struct {
	ledger.Event
	Position int64  `json:"position"`
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`
	SealID   int64  `json:"seal_id,omitempty"`
}

// PackSeal is one sealed batch of the chain and its head hash.
type PackSeal struct {
	ID            int64     `json:"id"`
	FirstPosition int64     `json:"first_position"`
	LastPosition  int64     `json:"last_position"`
	LastEventID   int64     `json:"last_event_id"`
	HeadHash      string    `json:"head_hash"`
	SealedAt      time.Time `json:"sealed_at"`
}

// ForRecipient exports every notice of the beneficiary numbered ref.
func ForRecipient(ctx context.Context, db DB, ref string) (*Pack, error) {
	var exists bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM recipients WHERE ref = $1)`, ref).Scan(&exists); err != nil {
		return nil, fmt.Errorf("evidence for recipient: %w", err)
	}
	if !exists {
		return nil, fmt.Errorf("%w: no beneficiary numbered %q", ErrInvalid, ref)
	}
	ids, err := noticeIDs(ctx, db, `SELECT n.id FROM notices n JOIN recipients r ON r.id = n.recipient_id WHERE r.ref = $1 ORDER BY n.id`, ref)
	if err != nil {
		return nil, err
	}
	return buildPack(ctx, db, PackScope{Recipient: ref}, ids)
}

// ForRule exports the notices a rule's report rests on for period p: the
// personalised notices delivered or created in the 12 months before and
// during the period (yearly-notice), the general mailings of the period
// (general-mailings), and the acknowledgement or answer notices of the
// requests received in the period (request rules).
func ForRule(ctx context.Context, db DB, rule string, p Period) (*Pack, error) {
	if _, ok := Rules[rule]; !ok {
		return nil, fmt.Errorf("%w: unknown rule %q (rules: %v)", ErrInvalid, rule, RuleNames())
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	var sql string
	args := []any{p.From, p.To}
	switch rule {
	case RuleYearlyNotice:
		sql = `SELECT id FROM notices WHERE NOT test AND kind IN ` + personalKinds + `
			AND ((delivered_at > ` + plus12("$1::timestamptz") + ` - interval '24 months' AND delivered_at < $2)
			     OR (created_at >= $1 AND created_at < $2)) ORDER BY id`
	case RuleGeneralMailings:
		sql = `SELECT id FROM notices WHERE NOT test AND kind = 'general_information'
			AND ((delivered_at >= $1 AND delivered_at < $2) OR (created_at >= $1 AND created_at < $2)) ORDER BY id`
	default:
		rr := requestRules()[rule]
		sql = `SELECT n.id FROM requests q JOIN notices n ON n.id = q.` + rr.noticeCol + `
			WHERE q.received_at >= $1 AND q.received_at < $2 AND ` + rr.filter + ` ORDER BY n.id`
	}
	ids, err := noticeIDs(ctx, db, sql, args...)
	if err != nil {
		return nil, err
	}
	return buildPack(ctx, db, PackScope{Rule: rule, Period: &p}, ids)
}

// reproduce renders a template version again; it returns the content only
// if it hashes to the hash recorded when the message was sent.
func reproduce(ctx context.Context, db DB, version string, in templates.Input, hash string) *ledger.Content {
	// The Caf's data first (messages name the beneficiary's Caf), then the
	// templates' own agency (messages sent without an agency file).
	candidates := []templates.Input{in}
	if in.Agency != nil {
		bare := in
		bare.Agency = nil
		candidates = append(candidates, bare)
	}
	for _, in := range candidates {
		r, err := templates.RenderVersion(ctx, db, version, in, templates.DefaultAgency())
		if err != nil {
			return nil
		}
		c := &ledger.Content{Subject: r.Subject, Text: r.Text, HTML: r.HTML}
		if c.Hash() == hash {
			return c
		}
	}
	return nil
}

// withAgencies gives each input the data of its notice's Caf, from the
// agency file of this process (COURRIER_AGENCIES, else the embedded
// example), so that content kept only as a hash can be rendered again.
func withAgencies(ctx context.Context, db DB, inputs map[int64]templates.Input) error {
	if len(inputs) == 0 {
		return nil
	}
	set, err := agencies.LoadFile(os.Getenv(agencies.EnvFile))
	if err != nil {
		return fmt.Errorf("evidence: %s: %w", agencies.EnvFile, err)
	}
	ids := make([]int64, 0, len(inputs))
	for id := range inputs {
		ids = append(ids, id)
	}
	rows, err := db.Query(ctx, `SELECT n.id, coalesce(n.caf, r.caf, ''), r.postal_code
		FROM notices n JOIN recipients r ON r.id = n.recipient_id WHERE n.id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("evidence: load Cafs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var caf, postal string
		if err := rows.Scan(&id, &caf, &postal); err != nil {
			return err
		}
		in := inputs[id]
		in.Agency = templates.AgencyOf(set.Resolve(caf, postal))
		inputs[id] = in
	}
	return rows.Err()
}

func noticeIDs(ctx context.Context, db DB, sql string, args ...any) ([]int64, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("evidence: select notices: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func buildPack(ctx context.Context, db DB, scope PackScope, ids []int64) (*Pack, error) {
	pack := &Pack{Format: PackFormat, GeneratedAt: time.Now().UTC(), Scope: scope, Encoding: PackEncoding,
		Notices: []PackNotice{}, Seals: []PackSeal{}}
	index := map[int64]int{}
	inputs := map[int64]templates.Input{} // to reproduce content stored only as a hash
	rows, err := db.Query(ctx, `
		SELECT n.id, r.ref, n.kind, n.template_key, n.state, n.test, n.created_at, n.sent_at, n.delivered_at,
		       n.data, r.civility, r.given_name, r.family_name
		FROM notices n JOIN recipients r ON r.id = n.recipient_id WHERE n.id = ANY($1) ORDER BY n.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("evidence: load notices: %w", err)
	}
	for rows.Next() {
		var n PackNotice
		var data []byte
		in := templates.Input{}
		if err := rows.Scan(&n.ID, &n.Recipient, &n.Kind, &n.TemplateKey, &n.State, &n.Test, &n.CreatedAt, &n.SentAt, &n.DeliveredAt,
			&data, &in.Recipient.Civility, &in.Recipient.GivenName, &in.Recipient.FamilyName); err != nil {
			rows.Close()
			return nil, err
		}
		in.Recipient.Ref = n.Recipient
		if json.Unmarshal(data, &in.Data) == nil {
			inputs[n.ID] = in
		}
		n.Deliveries, n.Events = []PackDelivery{}, []PackEvent{}
		index[n.ID] = len(pack.Notices)
		pack.Notices = append(pack.Notices, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evidence: load notices: %w", err)
	}
	if err := withAgencies(ctx, db, inputs); err != nil {
		return nil, err
	}

	rows, err = db.Query(ctx, `
		SELECT id, notice_id, channel, provider, address, template_version, content_hash, content,
		       coalesce(provider_message_id, ''), state, attempt, error_code, created_at, sent_at, final_at
		FROM deliveries WHERE notice_id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("evidence: load deliveries: %w", err)
	}
	for rows.Next() {
		var d PackDelivery
		var noticeID int64
		var address string
		var content []byte
		if err := rows.Scan(&d.ID, &noticeID, &d.Channel, &d.Provider, &address, &d.TemplateVersion, &d.ContentHash, &content,
			&d.ProviderMessageID, &d.State, &d.Attempt, &d.ErrorCode, &d.CreatedAt, &d.SentAt, &d.FinalAt); err != nil {
			rows.Close()
			return nil, err
		}
		d.Address = MaskAddress(d.Channel, address)
		if content == nil {
			d.Purged = true
			// Within retention (the address is still there) a content kept
			// only as its hash is rendered again and checked against it.
			if in, ok := inputs[noticeID]; ok && address != "" && d.TemplateVersion != "" {
				if c := reproduce(ctx, db, d.TemplateVersion, in, d.ContentHash); c != nil {
					d.Content, d.Purged, d.Reproduced = c, false, true
				}
			}
		} else {
			var c ledger.Content
			if err := json.Unmarshal(content, &c); err != nil {
				rows.Close()
				return nil, fmt.Errorf("evidence: content of delivery %d: %w", d.ID, err)
			}
			d.Content = &c
		}
		n := &pack.Notices[index[noticeID]]
		n.Deliveries = append(n.Deliveries, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evidence: load deliveries: %w", err)
	}

	rows, err = db.Query(ctx, `
		SELECT e.id, e.delivery_id, e.notice_id, e.event, e.provider_status, e.error_code, e.detail, e.occurred_at, e.recorded_at,
		       coalesce(c.position, 0), c.prev_hash, c.hash, coalesce(c.seal_id, 0)
		FROM delivery_events e LEFT JOIN ledger_chain c ON c.event_id = e.id
		WHERE e.notice_id = ANY($1) ORDER BY e.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("evidence: load events: %w", err)
	}
	seals := map[int64]bool{}
	for rows.Next() {
		var e PackEvent
		var prev, hash []byte
		if err := rows.Scan(&e.ID, &e.DeliveryID, &e.NoticeID, &e.Event.Event, &e.ProviderStatus, &e.ErrorCode, &e.Detail,
			&e.OccurredAt, &e.RecordedAt, &e.Position, &prev, &hash, &e.SealID); err != nil {
			rows.Close()
			return nil, err
		}
		e.OccurredAt, e.RecordedAt = e.OccurredAt.UTC(), e.RecordedAt.UTC()
		if e.Position > 0 {
			e.PrevHash, e.Hash = hex.EncodeToString(prev), hex.EncodeToString(hash)
			seals[e.SealID] = true
		}
		n := &pack.Notices[index[e.NoticeID]]
		n.Events = append(n.Events, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evidence: load events: %w", err)
	}

	sealIDs := make([]int64, 0, len(seals))
	for id := range seals {
		sealIDs = append(sealIDs, id)
	}
	rows, err = db.Query(ctx, `
		SELECT id, first_position, last_position, last_event_id, head_hash, sealed_at FROM ledger_seals
		WHERE id = ANY($1) OR id = (SELECT max(id) FROM ledger_seals) ORDER BY id`, sealIDs)
	if err != nil {
		return nil, fmt.Errorf("evidence: load seals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s PackSeal
		var head []byte
		if err := rows.Scan(&s.ID, &s.FirstPosition, &s.LastPosition, &s.LastEventID, &head, &s.SealedAt); err != nil {
			return nil, err
		}
		s.HeadHash, s.SealedAt = hex.EncodeToString(head), s.SealedAt.UTC()
		pack.Seals = append(pack.Seals, s)
	}
	return pack, rows.Err()
}

// ErrPackInvalid is wrapped by every error VerifyPack reports.
var ErrPackInvalid = errors.New("evidence pack does not verify")

// PackCheck summarises what VerifyPack checked.
type PackCheck struct {
	Notices         int `json:"notices"`
	EventsVerified  int `json:"events_verified"`
	EventsUnsealed  int `json:"events_unsealed"` // recorded after the last seal: no chain proof yet
	SealHeadsLinked int `json:"seal_heads_linked"`
	ContentVerified int `json:"contents_verified"`
	ContentPurged   int `json:"contents_purged"`
}

// VerifyPack checks a pack from its own content only: every sealed event
// hashes, from its previous hash and canonical encoding, to its recorded
// hash; events at consecutive positions link; an event at the end of a
// seal batch hashes to that seal's head; and every rendered content still
// present hashes to its content hash. It does not prove that the seal heads
// are the database's: compare them with `courrier verify` or with heads
// published earlier.
func VerifyPack(pack *Pack) error {
	_, err := CheckPack(pack)
	return err
}

// CheckPack is VerifyPack that also says what it checked.
func CheckPack(pack *Pack) (*PackCheck, error) {
	bad := func(format string, args ...any) (*PackCheck, error) {
		return nil, fmt.Errorf("%w: %s", ErrPackInvalid, fmt.Sprintf(format, args...))
	}
	if pack == nil || pack.Format != PackFormat {
		return bad("unknown format (want %s)", PackFormat)
	}
	check := &PackCheck{Notices: len(pack.Notices)}
	seals := map[int64]PackSeal{}
	for _, s := range pack.Seals {
		if _, err := decodeHash(s.HeadHash); err != nil {
			return bad("seal %d: head hash: %v", s.ID, err)
		}
		seals[s.ID] = s
	}
	type link struct{ prev, hash string }
	byPos := map[int64]link{}
	for _, n := range pack.Notices {
		deliveries := map[int64]bool{}
		for _, d := range n.Deliveries {
			deliveries[d.ID] = true
			switch {
			case d.Content != nil && d.Content.Hash() != d.ContentHash:
				return bad("notice %d delivery %d: content does not match its hash %s", n.ID, d.ID, d.ContentHash)
			case d.Content != nil:
				check.ContentVerified++
			default:
				check.ContentPurged++
			}
		}
		for _, e := range n.Events {
			if e.NoticeID != n.ID || !deliveries[e.DeliveryID] {
				return bad("event %d is filed under notice %d but belongs to notice %d delivery %d", e.ID, n.ID, e.NoticeID, e.DeliveryID)
			}
			if e.Position == 0 {
				check.EventsUnsealed++
				continue
			}
			prev, err := decodeHash(e.PrevHash)
			if err != nil {
				return bad("event %d: prev hash: %v", e.ID, err)
			}
			if e.Position == 1 && !bytes.Equal(prev, ledger.GenesisHash) {
				return bad("event %d at position 1 does not start from the genesis hash", e.ID)
			}
			got := hex.EncodeToString(ledger.ChainHash(prev, e.Event))
			if got != e.Hash {
				return bad("event %d at position %d: recomputed hash %s, recorded %s (event altered)", e.ID, e.Position, got, e.Hash)
			}
			s, ok := seals[e.SealID]
			if !ok {
				return bad("event %d: seal %d is not in the pack", e.ID, e.SealID)
			}
			if e.Position < s.FirstPosition || e.Position > s.LastPosition {
				return bad("event %d: position %d outside seal %d (%d-%d)", e.ID, e.Position, s.ID, s.FirstPosition, s.LastPosition)
			}
			if e.Position == s.LastPosition {
				if e.Hash != s.HeadHash {
					return bad("event %d ends seal %d but its hash is not the seal head", e.ID, s.ID)
				}
				check.SealHeadsLinked++
			}
			if l, dup := byPos[e.Position]; dup && l.hash != e.Hash {
				return bad("two events claim position %d", e.Position)
			}
			byPos[e.Position] = link{e.PrevHash, e.Hash}
			check.EventsVerified++
		}
	}
	for pos, l := range byPos {
		if before, ok := byPos[pos-1]; ok && before.hash != l.prev {
			return bad("position %d does not follow position %d", pos, pos-1)
		}
	}
	return check, nil
}

func decodeHash(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err == nil && len(b) != 32 {
		err = fmt.Errorf("want 32 bytes, got %d", len(b))
	}
	return b, err
}

// ReadPack decodes a JSON pack.
func ReadPack(r io.Reader) (*Pack, error) {
	var p Pack
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: read pack: %v", ErrPackInvalid, err)
	}
	return &p, nil
}

// WritePack writes pack as indented JSON (the verifiable form) or as CSV
// (one row per event, for reading; it cannot be verified offline).
func WritePack(w io.Writer, pack *Pack, format string) error {
	switch format {
	case FormatJSON, "":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(pack)
	case FormatCSV:
		return writePackCSV(w, pack)
	}
	return fmt.Errorf("%w: pack format %q (want json or csv)", ErrInvalid, format)
}

func writePackCSV(w io.Writer, pack *Pack) error {
	cw := csv.NewWriter(w)
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	_ = cw.Write([]string{"notice_id", "recipient", "kind", "notice_state", "delivered_at", "delivery_id", "channel", "provider",
		"address_masked", "template_version", "content_hash", "content_purged", "provider_message_id", "delivery_state",
		"event_id", "event", "provider_status", "error_code", "detail", "occurred_at", "recorded_at",
		"position", "prev_hash", "hash", "seal_id"})
	for _, n := range pack.Notices {
		byID := map[int64]PackDelivery{}
		for _, d := range n.Deliveries {
			byID[d.ID] = d
		}
		for _, e := range n.Events {
			d := byID[e.DeliveryID]
			_ = cw.Write([]string{strconv.FormatInt(n.ID, 10), n.Recipient, n.Kind, n.State, ts(n.DeliveredAt),
				strconv.FormatInt(d.ID, 10), d.Channel, d.Provider, d.Address, d.TemplateVersion, d.ContentHash,
				strconv.FormatBool(d.Purged), d.ProviderMessageID, d.State,
				strconv.FormatInt(e.ID, 10), e.Event.Event, e.ProviderStatus, e.ErrorCode, e.Detail,
				ts(&e.OccurredAt), ts(&e.RecordedAt), strconv.FormatInt(e.Position, 10), e.PrevHash, e.Hash,
				strconv.FormatInt(e.SealID, 10)})
		}
	}
	for _, s := range pack.Seals {
		_ = cw.Write([]string{"seal", strconv.FormatInt(s.ID, 10), strconv.FormatInt(s.FirstPosition, 10),
			strconv.FormatInt(s.LastPosition, 10), s.HeadHash, ts(&s.SealedAt)})
	}
	cw.Flush()
	return cw.Error()
}

// MaskAddress hides most of an address for evidence packs: an email keeps
// its first letter, the first letter of its domain and its top-level domain
// (c*****@e*****.fr); a phone number its country code, first digit and last
// two digits (+33 6 ** ** ** 78); a postal address the first letter of each
// word and its postal code.
func MaskAddress(channel, addr string) string {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return ""
	}
	if local, domain, ok := strings.Cut(addr, "@"); ok && channel != "letter" {
		tld := ""
		if i := strings.LastIndexByte(domain, '.'); i >= 0 {
			tld = domain[i:]
		}
		return firstRune(local) + "*****@" + firstRune(domain) + "*****" + tld
	}
	if strings.HasPrefix(addr, "+") && channel != "letter" {
		digits := addr[1:]
		if strings.HasPrefix(digits, "33") && len(digits) == 11 {
			return "+33 " + digits[2:3] + " ** ** ** " + digits[9:]
		}
		if len(digits) > 5 {
			return "+" + digits[:3] + strings.Repeat("*", len(digits)-5) + digits[len(digits)-2:]
		}
		return "+" + strings.Repeat("*", len(digits))
	}
	words := strings.Fields(addr)
	for i, w := range words {
		if len(w) == 5 && strings.Trim(w, "0123456789") == "" {
			continue // postal code
		}
		words[i] = firstRune(w) + "*"
	}
	return strings.Join(words, " ")
}

func firstRune(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || r == utf8.RuneError {
		return ""
	}
	return string(r)
}

func requestRules() map[string]requestRule {
	m := map[string]requestRule{}
	for _, rr := range []requestRule{ackRule, answerRule, minimumIncomeRule, complaintsRule} {
		m[rr.name] = rr
	}
	return m
}
