package compliance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/courrier-dev/courrier/agencies"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/templates"
)

// PackFormat names the layout of a Pack; it changes if the layout does.
// docs/evidence-format.md describes it for independent verifiers.
const PackFormat = "courrier-evidence-pack/2"

// ManifestFormat is the first line of a pack's signed manifest.
const ManifestFormat = "courrier-evidence-manifest/2"

// Pack is an evidence pack: the notices in scope, each with its sealed
// ledger events (canonical encoding, leaf index, inclusion proof to the
// pack's signed checkpoint) and, for reading, the facts those events
// establish (kind, Caf, delivery instant and evidence, masked address,
// content hash) and the rendered content when still kept. A signed
// manifest lists every notice in scope with the leaf indexes of all its
// sealed events, so that nothing can be left out. VerifyPack checks it all
// offline with the ledger's public key.
type Pack struct {
	Format      string    `json:"format"`
	GeneratedAt time.Time `json:"generated_at"`
	Scope       PackScope `json:"scope"`
	// PublicKey names the key that signed the checkpoint and the manifest;
	// verify with a copy obtained independently, never with this one.
	PublicKey  string         `json:"public_key"`
	Checkpoint PackCheckpoint `json:"checkpoint"`
	// Manifest is a signed note (golang.org/x/mod/sumdb/note) listing the
	// scope, the checkpoint and every notice with its leaf indexes.
	Manifest string       `json:"manifest"`
	Notices  []PackNotice `json:"notices"`
	// Unsealed counts these notices' events recorded after the checkpoint:
	// not in the pack, not proven yet.
	Unsealed int `json:"unsealed_events"`
}

// PackCheckpoint is the signed checkpoint every proof in a pack leads to.
type PackCheckpoint struct {
	Note     string `json:"note"`                // signed note: origin, tree size, base64 root hash
	TSAToken []byte `json:"tsa_token,omitempty"` // RFC 3161 token over Note (base64 in JSON), if the ledger has a TSA
}

// PackScope says what a pack was exported for.
type PackScope struct {
	Recipient string   `json:"recipient,omitempty"`
	Rule      string   `json:"rule,omitempty"`
	From      string   `json:"from,omitempty"` // YYYY-MM-DD, Paris time, included
	To        string   `json:"to,omitempty"`   // YYYY-MM-DD, Paris time, included
	Cafs      []string `json:"cafs,omitempty"`
}

// PackNotice is one notice. Every field but Events is shown for reading and
// is checked by VerifyPack against the sealed events.
type PackNotice struct {
	ID          int64          `json:"id"`
	Recipient   string         `json:"recipient"` // beneficiary number
	Caf         string         `json:"caf"`
	Kind        string         `json:"kind"`
	Test        bool           `json:"test"`
	CreatedAt   *time.Time     `json:"created_at,omitempty"`
	DeliveredAt *time.Time     `json:"delivered_at,omitempty"` // first evidence of delivery (proven, else weak)
	Evidence    string         `json:"evidence"`               // its level, "" if none
	Deliveries  []PackDelivery `json:"deliveries"`
	Events      []PackEvent    `json:"events"`
}

// PackDelivery is one channel's delivery of a notice, as sealed.
type PackDelivery struct {
	ID                int64           `json:"id"`
	Channel           string          `json:"channel"`
	Provider          string          `json:"provider"`
	AddressMasked     string          `json:"address_masked"`
	TemplateVersion   string          `json:"template_version"`
	ContentHash       string          `json:"content_hash"`
	ProviderMessageID string          `json:"provider_message_id,omitempty"`
	Content           *ledger.Content `json:"content,omitempty"` // nil once purged
	// Reproduced: the content was not stored (campaign batches keep only
	// its hash) and was rendered again from the recorded template version
	// and the notice's data; it matches the sealed hash.
	Reproduced bool `json:"content_reproduced,omitempty"`
}

// PackEvent is one sealed event: its canonical encoding (the Merkle leaf's
// data), its leaf index and its inclusion proof (hex hashes) to the pack's
// checkpoint.
type PackEvent struct {
	Leaf     uint64   `json:"leaf"`
	Encoding string   `json:"encoding"`
	Proof    []string `json:"proof"`
}

// Packer builds evidence packs; Key signs their manifests.
type Packer struct {
	DB  DB
	Key *ledger.Key
}

// ForRecipient exports every sealed notice of the beneficiary numbered ref.
func (pk Packer) ForRecipient(ctx context.Context, ref string) (*Pack, error) {
	var exists bool
	if err := pk.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM recipients WHERE ref = $1 AND NOT test)`, ref).Scan(&exists); err != nil {
		return nil, fmt.Errorf("evidence for recipient: %w", err)
	}
	if !exists {
		return nil, fmt.Errorf("%w: no beneficiary numbered %q", ErrInvalid, ref)
	}
	ids, err := noticeIDs(ctx, pk.DB, beneficiaryNoticesSQL, ref)
	if err != nil {
		return nil, err
	}
	return pk.build(ctx, PackScope{Recipient: ref}, ids)
}

// ForRule exports the sealed notices a rule's report rests on for period p
// (and p.Cafs): the personalised notices delivered or created in the 12
// months before and during the period (yearly-notice), the general mailings
// of the period (general-mailings), and the acknowledgement or answer
// notices of the requests received in the period (request rules).
func (pk Packer) ForRule(ctx context.Context, rule string, p Period) (*Pack, error) {
	if _, ok := Rules[rule]; !ok {
		return nil, fmt.Errorf("%w: unknown rule %q (rules: %v)", ErrInvalid, rule, RuleNames())
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	var sql string
	cafs := strings.Join(p.Cafs, ",")
	inScope := `($3 = '' OR coalesce(nullif(%s, ''), '` + NoCaf + `') = ANY(string_to_array($3, ',')))`
	switch rule {
	case RuleYearlyNotice:
		sql = `SELECT notice_id FROM proj_notices WHERE NOT test AND kind IN ` + personalKinds + ` AND ` + fmt.Sprintf(inScope, "caf") + `
			AND ((coalesce(proven_at, weak_at) > ` + plus12("$1::timestamptz") + ` - interval '24 months' AND coalesce(proven_at, weak_at) < $2)
			     OR (created_at >= $1 AND created_at < $2)) ORDER BY notice_id`
	case RuleGeneralMailings:
		sql = `SELECT notice_id FROM proj_notices WHERE NOT test AND kind = 'general_information' AND ` + fmt.Sprintf(inScope, "caf") + `
			AND ((coalesce(proven_at, weak_at) >= $1 AND coalesce(proven_at, weak_at) < $2) OR (created_at >= $1 AND created_at < $2))
			ORDER BY notice_id`
	default:
		rr := requestRules()[rule]
		sql = `SELECT q.` + rr.noticeCol + ` FROM proj_requests q
			WHERE q.received_at >= $1 AND q.received_at < $2 AND ` + rr.filter + ` AND ` + fmt.Sprintf(inScope, "q.caf") + `
			  AND q.` + rr.noticeCol + ` IS NOT NULL ORDER BY 1`
	}
	ids, err := noticeIDs(ctx, pk.DB, sql, p.From, p.To, cafs)
	if err != nil {
		return nil, err
	}
	scope := PackScope{Rule: rule, From: p.From.In(Paris).Format(time.DateOnly),
		To: p.To.Add(-time.Nanosecond).In(Paris).Format(time.DateOnly), Cafs: p.Cafs}
	return pk.build(ctx, scope, ids)
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

// sealedNotice is what a notice's sealed events establish, for a pack: the
// projection plus each delivery's sealed attempt facts.
type sealedNotice struct {
	facts      *ledger.NoticeFacts
	deliveries map[int64]map[string]string // delivery id → facts of its last attempt, plus provider_message_id
	order      []int64
}

func deriveNotice(id int64, events []ledger.Event) sealedNotice {
	proj := ledger.NewProjection()
	s := sealedNotice{deliveries: map[int64]map[string]string{}}
	for _, e := range events {
		proj.Apply(e)
		if e.DeliveryID == 0 {
			continue
		}
		d := s.deliveries[e.DeliveryID]
		if d == nil {
			d = map[string]string{}
			s.deliveries[e.DeliveryID] = d
			s.order = append(s.order, e.DeliveryID)
		}
		if e.Event == ledger.StateSending && e.Facts["content_hash"] != "" {
			mid := d["provider_message_id"]
			clear(d)
			for k, v := range e.Facts {
				d[k] = v
			}
			d["provider_message_id"] = mid
		}
		if m := e.Facts["provider_message_id"]; m != "" && d["provider_message_id"] == "" {
			d["provider_message_id"] = m
		}
	}
	s.facts = proj.Notices[id]
	if s.facts == nil {
		s.facts = &ledger.NoticeFacts{NoticeID: id}
	}
	return s
}

func (s sealedNotice) deliveredAt() (*time.Time, string) {
	if s.facts.ProvenAt != nil {
		return s.facts.ProvenAt, s.facts.ProvenLevel
	}
	return s.facts.WeakAt, s.facts.WeakLevel
}

func (pk Packer) build(ctx context.Context, scope PackScope, ids []int64) (*Pack, error) {
	if pk.Key == nil {
		return nil, ledger.ErrNoKey
	}
	cp, err := ledger.LatestCheckpoint(ctx, pk.DB)
	if err != nil {
		return nil, err
	}
	if cp == nil {
		return nil, fmt.Errorf("%w: nothing is sealed yet: run `courrier seal` (or serve) first", ErrInvalid)
	}
	pack := &Pack{Format: PackFormat, GeneratedAt: time.Now().UTC(), Scope: scope, PublicKey: pk.Key.Public,
		Checkpoint: PackCheckpoint{Note: cp.Note, TSAToken: cp.TSAToken}, Notices: []PackNotice{}}

	// Sealed events of these notices, up to the checkpoint, in leaf order.
	rows, err := pk.DB.Query(ctx, `
		SELECT l.idx, e.id, coalesce(e.delivery_id, 0), coalesce(e.notice_id, 0), e.event, e.provider_status, e.error_code,
		       e.detail, e.occurred_at, e.recorded_at, e.facts
		FROM delivery_events e JOIN ledger_leaves l ON l.event_id = e.id
		WHERE e.notice_id = ANY($1) AND l.idx < $2 ORDER BY l.idx`, ids, int64(cp.Size))
	if err != nil {
		return nil, fmt.Errorf("evidence: load events: %w", err)
	}
	type leafEvent struct {
		leaf uint64
		e    ledger.Event
	}
	byNotice := map[int64][]leafEvent{}
	for rows.Next() {
		var le leafEvent
		var idx int64
		var facts []byte
		if err := rows.Scan(&idx, &le.e.ID, &le.e.DeliveryID, &le.e.NoticeID, &le.e.Event, &le.e.ProviderStatus, &le.e.ErrorCode,
			&le.e.Detail, &le.e.OccurredAt, &le.e.RecordedAt, &facts); err != nil {
			rows.Close()
			return nil, err
		}
		if len(facts) > 2 {
			if err := json.Unmarshal(facts, &le.e.Facts); err != nil {
				rows.Close()
				return nil, fmt.Errorf("evidence: event %d facts: %w", le.e.ID, err)
			}
		}
		le.leaf = uint64(idx)
		byNotice[le.e.NoticeID] = append(byNotice[le.e.NoticeID], le)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evidence: load events: %w", err)
	}
	if err := pk.DB.QueryRow(ctx, `
		SELECT count(*) FROM delivery_events e
		WHERE e.notice_id = ANY($1) AND NOT EXISTS (SELECT 1 FROM ledger_leaves l WHERE l.event_id = e.id AND l.idx < $2)`,
		ids, int64(cp.Size)).Scan(&pack.Unsealed); err != nil {
		return nil, fmt.Errorf("evidence: count unsealed events: %w", err)
	}

	// Kept content and the inputs to reproduce content kept only as a hash.
	type stored struct {
		content []byte
		address string
	}
	kept := map[int64]stored{}
	drows, err := pk.DB.Query(ctx, `SELECT id, content, address FROM deliveries WHERE notice_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("evidence: load deliveries: %w", err)
	}
	for drows.Next() {
		var id int64
		var s stored
		if err := drows.Scan(&id, &s.content, &s.address); err != nil {
			drows.Close()
			return nil, err
		}
		kept[id] = s
	}
	drows.Close()
	if err := drows.Err(); err != nil {
		return nil, fmt.Errorf("evidence: load deliveries: %w", err)
	}
	inputs := map[int64]templates.Input{}
	irows, err := pk.DB.Query(ctx, `
		SELECT n.id, n.data, r.ref, r.civility, r.given_name, r.family_name
		FROM notices n JOIN recipients r ON r.id = n.recipient_id WHERE n.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("evidence: load notices: %w", err)
	}
	for irows.Next() {
		var id int64
		var data []byte
		in := templates.Input{}
		if err := irows.Scan(&id, &data, &in.Recipient.Ref, &in.Recipient.Civility, &in.Recipient.GivenName, &in.Recipient.FamilyName); err != nil {
			irows.Close()
			return nil, err
		}
		if json.Unmarshal(data, &in.Data) == nil {
			inputs[id] = in
		}
	}
	irows.Close()
	if err := irows.Err(); err != nil {
		return nil, fmt.Errorf("evidence: load notices: %w", err)
	}
	if err := withAgencies(ctx, pk.DB, inputs); err != nil {
		return nil, err
	}

	var manifest strings.Builder
	scopeJSON, _ := json.Marshal(scope)
	fmt.Fprintf(&manifest, "%s\nscope %s\ncheckpoint %d %s\n", ManifestFormat, scopeJSON, cp.Size, base64.StdEncoding.EncodeToString(cp.RootHash))
	for _, id := range ids {
		les := byNotice[id]
		if len(les) == 0 {
			continue // not sealed yet
		}
		events := make([]ledger.Event, len(les))
		leaves := make([]string, len(les))
		pn := PackNotice{ID: id, Deliveries: []PackDelivery{}, Events: make([]PackEvent, len(les))}
		for i, le := range les {
			events[i] = le.e
			leaves[i] = strconv.FormatUint(le.leaf, 10)
			proof, err := ledger.InclusionProof(ctx, pk.DB, le.leaf, cp.Size)
			if err != nil {
				return nil, fmt.Errorf("evidence: proof of leaf %d: %w", le.leaf, err)
			}
			hexProof := make([]string, len(proof))
			for j, h := range proof {
				hexProof[j] = hex.EncodeToString(h)
			}
			pn.Events[i] = PackEvent{Leaf: le.leaf, Encoding: string(ledger.EncodeEvent(le.e)), Proof: hexProof}
		}
		fmt.Fprintf(&manifest, "notice %d %s\n", id, strings.Join(leaves, ","))
		s := deriveNotice(id, events)
		f := s.facts
		pn.Recipient, pn.Caf, pn.Kind, pn.Test, pn.CreatedAt = f.Recipient, f.Caf, f.Kind, f.Test, f.CreatedAt
		pn.DeliveredAt, pn.Evidence = s.deliveredAt()
		for _, did := range s.order {
			df := s.deliveries[did]
			if df["content_hash"] == "" {
				continue
			}
			d := PackDelivery{ID: did, Channel: df["channel"], Provider: df["provider"], AddressMasked: df["address_masked"],
				TemplateVersion: df["template_version"], ContentHash: df["content_hash"], ProviderMessageID: df["provider_message_id"]}
			st := kept[did]
			if st.content != nil {
				var c ledger.Content
				if err := json.Unmarshal(st.content, &c); err == nil {
					d.Content = &c
				}
			} else if in, ok := inputs[id]; ok && st.address != "" && d.TemplateVersion != "" {
				if c := reproduce(ctx, pk.DB, d.TemplateVersion, in, d.ContentHash); c != nil {
					d.Content, d.Reproduced = c, true
				}
			}
			pn.Deliveries = append(pn.Deliveries, d)
		}
		pack.Notices = append(pack.Notices, pn)
	}
	signed, err := note.Sign(&note.Note{Text: manifest.String()}, pk.Key.Signer)
	if err != nil {
		return nil, fmt.Errorf("evidence: sign manifest: %w", err)
	}
	pack.Manifest = string(signed)
	return pack, nil
}

// ErrPackInvalid is wrapped by every error VerifyPack reports.
var ErrPackInvalid = errors.New("evidence pack does not verify")

// PackCheck summarises what VerifyPack checked.
type PackCheck struct {
	Notices         int       `json:"notices"`
	EventsVerified  int       `json:"events_verified"`
	TreeSize        uint64    `json:"tree_size"`
	RootHash        string    `json:"root_hash"`
	ContentVerified int       `json:"contents_verified"`
	ContentPurged   int       `json:"contents_purged"`
	Unsealed        int       `json:"unsealed_events"`
	TimestampedAt   time.Time `json:"timestamped_at,omitzero"`
}

// VerifyPackOptions configure VerifyPack.
type VerifyPackOptions struct {
	// TSA checks the checkpoint's timestamp token, when set. A pack with a
	// token and no TSA verifier reports the token as unchecked.
	TSA ledger.TokenVerifier
}

// VerifyPack checks a pack offline with the ledger's public key v:
// the checkpoint is signed by v (and its timestamp token, if any, is over
// that checkpoint); the manifest is signed by v, names this checkpoint and
// this scope, and lists exactly the pack's notices and leaves; every event
// is the canonical encoding of an event of its notice and is included in
// the checkpoint's tree; and every field the pack shows (kind, recipient,
// Caf, delivered_at, evidence, channel, provider, masked address, template
// version, content hash, provider message id) is what the sealed events
// say, and every content present hashes to its sealed content hash.
func VerifyPack(pack *Pack, v note.Verifier, opts *VerifyPackOptions) (*PackCheck, error) {
	bad := func(format string, args ...any) (*PackCheck, error) {
		return nil, fmt.Errorf("%w: %s", ErrPackInvalid, fmt.Sprintf(format, args...))
	}
	if pack == nil || pack.Format != PackFormat {
		return bad("unknown format (want %s)", PackFormat)
	}
	if opts == nil {
		opts = &VerifyPackOptions{}
	}
	cp, err := ledger.OpenCheckpoint(pack.Checkpoint.Note, v)
	if err != nil {
		return bad("%v", err)
	}
	check := &PackCheck{TreeSize: cp.Size, RootHash: hex.EncodeToString(cp.RootHash), Unsealed: pack.Unsealed}
	if pack.Checkpoint.TSAToken != nil && opts.TSA != nil {
		at, err := opts.TSA.VerifyToken(pack.Checkpoint.TSAToken, []byte(pack.Checkpoint.Note))
		if err != nil {
			return bad("checkpoint timestamp: %v", err)
		}
		check.TimestampedAt = at
	}

	m, err := note.Open([]byte(pack.Manifest), note.VerifierList(v))
	if err != nil {
		return bad("manifest is not signed by the ledger key %s: %v", v.Name(), err)
	}
	lines := strings.Split(strings.TrimSuffix(m.Text, "\n"), "\n")
	scopeJSON, _ := json.Marshal(pack.Scope)
	if len(lines) < 3 || lines[0] != ManifestFormat {
		return bad("manifest: want %s", ManifestFormat)
	}
	if lines[1] != "scope "+string(scopeJSON) {
		return bad("the pack's scope %s is not the manifest's %s", scopeJSON, strings.TrimPrefix(lines[1], "scope "))
	}
	if want := fmt.Sprintf("checkpoint %d %s", cp.Size, base64.StdEncoding.EncodeToString(cp.RootHash)); lines[2] != want {
		return bad("the manifest names %q, the pack's checkpoint is %q", lines[2], want)
	}
	listed := map[int64][]uint64{}
	var order []int64
	for _, l := range lines[3:] {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "notice" {
			return bad("manifest line %q", l)
		}
		id, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return bad("manifest line %q", l)
		}
		for _, s := range strings.Split(f[2], ",") {
			leaf, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return bad("manifest line %q", l)
			}
			listed[id] = append(listed[id], leaf)
		}
		order = append(order, id)
	}
	inPack := map[int64]bool{}
	for _, n := range pack.Notices {
		if _, ok := listed[n.ID]; !ok {
			return bad("notice %d is in the pack but not in the signed manifest", n.ID)
		}
		inPack[n.ID] = true
	}
	for _, id := range order {
		if !inPack[id] {
			return bad("notice %d of the signed manifest was removed from the pack", id)
		}
	}

	for _, n := range pack.Notices {
		have := map[uint64]bool{}
		events := make([]ledger.Event, 0, len(n.Events))
		for _, pe := range n.Events {
			e, err := ledger.DecodeEvent([]byte(pe.Encoding))
			if err != nil {
				return bad("notice %d: event at leaf %d: %v", n.ID, pe.Leaf, err)
			}
			if e.NoticeID != n.ID {
				return bad("notice %d: event at leaf %d belongs to notice %d", n.ID, pe.Leaf, e.NoticeID)
			}
			proof := make([][]byte, len(pe.Proof))
			for i, h := range pe.Proof {
				if proof[i], err = hex.DecodeString(h); err != nil || len(proof[i]) != 32 {
					return bad("notice %d: event at leaf %d: proof hash %d is not 32 hex bytes", n.ID, pe.Leaf, i)
				}
			}
			if err := ledger.VerifyInclusion(pe.Leaf, cp.Size, []byte(pe.Encoding), proof, cp.RootHash); err != nil {
				return bad("notice %d: %s event %d at leaf %d is not in the signed tree (it was altered): %v", n.ID, e.Event, e.ID, pe.Leaf, err)
			}
			have[pe.Leaf] = true
			events = append(events, e)
			check.EventsVerified++
		}
		for _, leaf := range listed[n.ID] {
			if !have[leaf] {
				return bad("notice %d: the event at leaf %d listed by the signed manifest was removed from the pack", n.ID, leaf)
			}
		}
		if len(have) != len(listed[n.ID]) {
			return bad("notice %d: the pack holds events the signed manifest does not list", n.ID)
		}
		sort.SliceStable(events, func(i, j int) bool { return events[i].ID < events[j].ID })
		if err := checkShown(n, deriveNotice(n.ID, events), check); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPackInvalid, err)
		}
		check.Notices++
	}
	return check, nil
}

// checkShown compares what a pack notice shows with what its sealed events say.
func checkShown(n PackNotice, s sealedNotice, check *PackCheck) error {
	f := s.facts
	at, level := s.deliveredAt()
	ts := func(t *time.Time) string {
		if t == nil {
			return "none"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	for _, c := range []struct{ field, shown, sealed string }{
		{"kind", n.Kind, f.Kind}, {"recipient", n.Recipient, f.Recipient}, {"caf", n.Caf, f.Caf},
		{"test", strconv.FormatBool(n.Test), strconv.FormatBool(f.Test)},
		{"created_at", ts(n.CreatedAt), ts(f.CreatedAt)},
		{"delivered_at", ts(n.DeliveredAt), ts(at)}, {"evidence", n.Evidence, level},
	} {
		if c.shown != c.sealed {
			return fmt.Errorf("notice %d: %s shown as %q, the sealed events say %q", n.ID, c.field, c.shown, c.sealed)
		}
	}
	for _, d := range n.Deliveries {
		df, ok := s.deliveries[d.ID]
		if !ok || df["content_hash"] == "" {
			return fmt.Errorf("notice %d: delivery %d has no sealed attempt", n.ID, d.ID)
		}
		for _, c := range []struct{ field, shown string }{
			{"channel", d.Channel}, {"provider", d.Provider}, {"address_masked", d.AddressMasked},
			{"template_version", d.TemplateVersion}, {"content_hash", d.ContentHash}, {"provider_message_id", d.ProviderMessageID},
		} {
			if c.shown != df[c.field] {
				return fmt.Errorf("notice %d delivery %d: %s shown as %q, the sealed events say %q", n.ID, d.ID, c.field, c.shown, df[c.field])
			}
		}
		if d.Content == nil {
			check.ContentPurged++
			continue
		}
		if h := d.Content.Hash(); h != df["content_hash"] {
			return fmt.Errorf("notice %d delivery %d: the content shown hashes to %s, not to the sealed content hash %s (text altered)", n.ID, d.ID, h, df["content_hash"])
		}
		check.ContentVerified++
	}
	return nil
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
// (one row per delivery, for reading; it cannot be verified offline).
func WritePack(w io.Writer, pack *Pack, format string) error {
	switch format {
	case FormatJSON, "":
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(pack); err != nil {
			return err
		}
		_, err := w.Write(buf.Bytes())
		return err
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
	_ = cw.Write([]string{"notice_id", "recipient", "caf", "kind", "delivered_at", "evidence", "delivery_id", "channel", "provider",
		"address_masked", "template_version", "content_hash", "provider_message_id", "content_kept", "events"})
	for _, n := range pack.Notices {
		row := []string{strconv.FormatInt(n.ID, 10), n.Recipient, n.Caf, n.Kind, ts(n.DeliveredAt), n.Evidence}
		if len(n.Deliveries) == 0 {
			_ = cw.Write(append(row, "", "", "", "", "", "", "", "", strconv.Itoa(len(n.Events))))
		}
		for _, d := range n.Deliveries {
			_ = cw.Write(append(append([]string{}, row...), strconv.FormatInt(d.ID, 10), d.Channel, d.Provider, d.AddressMasked,
				d.TemplateVersion, d.ContentHash, d.ProviderMessageID, strconv.FormatBool(d.Content != nil), strconv.Itoa(len(n.Events))))
		}
	}
	cw.Flush()
	return cw.Error()
}

// MaskAddress hides most of an address for evidence packs (see
// ledger.MaskAddress, which the ledger seals).
func MaskAddress(channel, addr string) string { return ledger.MaskAddress(channel, addr) }

func requestRules() map[string]requestRule {
	m := map[string]requestRule{}
	for _, rr := range []requestRule{ackRule, answerRule, minimumIncomeRule, complaintsRule} {
		m[rr.name] = rr
	}
	return m
}

// beneficiaryNoticesSQL lists a beneficiary's sealed notices by number
// (index proj_notices_recipient_idx).
const beneficiaryNoticesSQL = `SELECT notice_id FROM proj_notices WHERE recipient = $1 ORDER BY notice_id`
