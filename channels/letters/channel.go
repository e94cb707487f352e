package letters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/templates"
)

// Postage classes (La Poste).
const (
	LettreVerte       = "lettre_verte"       // J+3, the default
	LettrePrioritaire = "lettre_prioritaire" // J+1
	LettreRecommandee = "lettre_recommandee" // registered, with proof of deposit
)

// PostageLabel is the class as La Poste names it.
func PostageLabel(class string) string {
	switch class {
	case LettrePrioritaire:
		return "Lettre prioritaire"
	case LettreRecommandee:
		return "Lettre recommandée"
	}
	return "Lettre verte"
}

// DefaultPostage gives each notice kind its postage class: every letter goes
// as Lettre verte; a configuration may raise kinds with a deadline.
func DefaultPostage(kind string) string { return LettreVerte }

// ParsePostage reads "kind=class;kind=class" over DefaultPostage.
func ParsePostage(spec string) (func(kind string) string, error) {
	m := map[string]string{}
	for _, part := range strings.FieldsFunc(spec, func(r rune) bool { return r == ';' || r == '\n' }) {
		kind, class, ok := strings.Cut(strings.TrimSpace(part), "=")
		class = strings.TrimSpace(class)
		if !ok || (class != LettreVerte && class != LettrePrioritaire && class != LettreRecommandee) {
			return nil, fmt.Errorf("postage %q: want kind=lettre_verte|lettre_prioritaire|lettre_recommandee", part)
		}
		m[strings.TrimSpace(kind)] = class
	}
	return func(kind string) string {
		if c, ok := m[kind]; ok {
			return c
		}
		return DefaultPostage(kind)
	}, nil
}

// SenderFor is the letterhead of agency: the one place a letter's sender
// block comes from (per-Caf letterheads change only this).
func SenderFor(a templates.Agency) Sender {
	name := a.Name
	if name == "" {
		name = templates.DefaultAgency().Name
	}
	var lines []string
	if a.Website != "" {
		lines = append(lines, strings.TrimPrefix(strings.TrimPrefix(a.Website, "https://"), "http://"))
	}
	if a.Phone != "" {
		lines = append(lines, "Téléphone : "+a.Phone)
	}
	return Sender{Name: name, Lines: lines, Place: "Paris"}
}

// Ref is the letter id printed on a letter and used in every print-house
// file: "L" and the delivery id.
func Ref(deliveryID int64) string { return "L" + strconv.FormatInt(deliveryID, 10) }

// ParseRef reads a letter id.
func ParseRef(ref string) (int64, bool) {
	s, ok := strings.CutPrefix(strings.TrimSpace(ref), "L")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// Config configures the letter channel.
type Config struct {
	Pool *pgxpool.Pool
	// SpoolDir holds each letter's PDF and render input until its batch is
	// handed to the print house.
	SpoolDir string
	Sender   Sender
	Postage  func(kind string) string // default DefaultPostage
	Now      func() time.Time
}

// Channel is the letter channel: Send renders the PDF and queues it for the
// next print batch. The letter is handed to the print house at the cut-off
// (RunBatch); the delivery is then delivered ("print_handed").
type Channel struct{ cfg Config }

var _ channels.Channel = (*Channel)(nil)

// New returns the letter channel.
func New(cfg Config) (*Channel, error) {
	if cfg.Pool == nil || cfg.SpoolDir == "" {
		return nil, fmt.Errorf("letters: a pool and a spool directory are required")
	}
	if err := os.MkdirAll(cfg.SpoolDir, 0o750); err != nil {
		return nil, fmt.Errorf("letters: spool: %w", err)
	}
	if cfg.Postage == nil {
		cfg.Postage = DefaultPostage
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sender.Name == "" {
		cfg.Sender = SenderFor(templates.DefaultAgency())
	}
	return &Channel{cfg: cfg}, nil
}

// Provider names the provider in deliveries.
func (c *Channel) Provider() string { return "print" }

// FromMessage builds the letter of msg: the address block from msg.To (one
// line per line), the reference and subject from the letter template's
// header, the body from the rest.
func FromMessage(msg channels.Message, sender Sender, date time.Time) Letter {
	reference, subject, body := splitText(msg.Text)
	if msg.Subject != "" {
		subject = msg.Subject
	}
	return Letter{
		Ref: Ref(msg.DeliveryID), Sender: sender, Address: strings.Split(strings.TrimSpace(msg.To), "\n"),
		Date: date, Reference: reference, Subject: subject, Body: body,
	}
}

// splitText takes the letter template's header (agency name, beneficiary
// number, "Objet : …") off the text: the PDF prints them in their own places.
func splitText(text string) (reference, subject, body string) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, l := range lines {
		if i > 6 {
			break
		}
		if s, ok := strings.CutPrefix(l, "Objet : "); ok {
			subject = s
			for _, h := range lines[:i] {
				if strings.HasPrefix(h, "Numéro allocataire") {
					reference = strings.TrimSpace(h)
				}
			}
			return reference, subject, strings.TrimLeft(strings.Join(lines[i+1:], "\n"), "\n")
		}
	}
	return "", "", text
}

// spooled is what the spool keeps of a letter besides its PDF: the render
// input, so the batch can set the letter again in the merged PDF.
type spooled struct {
	Letter
	Address   []string `json:"address"`
	Reference string   `json:"reference"`
	Subject   string   `json:"subject"`
	Body      string   `json:"body"`
}

// Send renders msg's letter, writes its PDF to the spool and queues it for
// the next batch. A second Send of the same delivery (a retry after a crash)
// replaces the queued letter; once batched, it is left alone.
func (c *Channel) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return channels.Receipt{}, &channels.Error{Class: channels.Transient, Err: err}
	}
	sender := c.cfg.Sender
	if len(msg.Letterhead) > 0 {
		// The beneficiary's Caf: its letterhead, dated from its city.
		sender = Sender{Name: msg.Letterhead[0], Lines: msg.Letterhead[1:], Place: msg.Place}
		if sender.Place == "" {
			sender.Place = c.cfg.Sender.Place
		}
	}
	l := FromMessage(msg, sender, c.cfg.Now())
	if len(l.Address) < 2 {
		return channels.Receipt{}, channels.PermanentError("address", "letter %s: no address block", l.Ref)
	}
	sum, pages, err := c.spool(l)
	if err != nil {
		return channels.Receipt{}, &channels.Error{Class: channels.Transient, Msg: "spool letter", Err: err}
	}
	senderJSON, _ := json.Marshal(l.Sender)
	err = queue(ctx, c.cfg.Pool, queued{
		DeliveryID: msg.DeliveryID, NoticeID: msg.NoticeID, Postage: c.cfg.Postage(msg.Kind),
		Pages: pages, Sheets: (pages + 1) / 2, SHA256: sum, Path: c.pdfPath(l.Ref), Date: l.Date, Sender: senderJSON,
	})
	if err != nil {
		return channels.Receipt{}, &channels.Error{Class: channels.Transient, Msg: "queue letter", Err: err}
	}
	return channels.Receipt{Provider: "print", MessageID: l.Ref, Evidence: "print_queued"}, nil
}

func (c *Channel) pdfPath(ref string) string  { return filepath.Join(c.cfg.SpoolDir, ref+".pdf") }
func (c *Channel) jsonPath(ref string) string { return filepath.Join(c.cfg.SpoolDir, ref+".json") }

// spool writes the letter's PDF and render input atomically.
func (c *Channel) spool(l Letter) (sum string, pages int, err error) {
	in, err := json.Marshal(spooled{Letter: l, Address: l.Address, Reference: l.Reference, Subject: l.Subject, Body: l.Body})
	if err != nil {
		return "", 0, err
	}
	if err := writeAtomic(c.jsonPath(l.Ref), func(w io.Writer) error { _, err := w.Write(in); return err }); err != nil {
		return "", 0, err
	}
	h := sha256.New()
	err = writeAtomic(c.pdfPath(l.Ref), func(w io.Writer) error {
		var err error
		pages, err = Render(io.MultiWriter(w, h), l)
		return err
	})
	return hex.EncodeToString(h.Sum(nil)), pages, err
}

// writeAtomic writes path through a temporary file renamed into place.
func writeAtomic(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	// On disk before the letter is queued: a batch must find it after a crash.
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func readSpooled(path string) (Letter, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Letter{}, err
	}
	var s spooled
	if err := json.Unmarshal(b, &s); err != nil {
		return Letter{}, fmt.Errorf("%s: %w", path, err)
	}
	l := s.Letter
	l.Address, l.Reference, l.Subject, l.Body = s.Address, s.Reference, s.Subject, s.Body
	return l, nil
}
