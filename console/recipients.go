package console

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/staff"
	"github.com/courrier-dev/courrier/templates"
)

type searchView struct {
	Q       string
	Error   string
	Results []*recipients.Recipient
	Next    int64
	Done    bool
}

func (c *Console) searchPage(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	v := searchView{Q: strings.TrimSpace(r.URL.Query().Get("q"))}
	if v.Q != "" {
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		res, err := recipients.Search(r.Context(), c.DB, v.Q, &recipients.SearchOpts{After: after, Limit: 50})
		var fe *recipients.FieldError
		switch {
		case errors.As(err, &fe):
			v.Error = "Saisissez au moins 2 caractères."
		case err != nil:
			c.fail(w, r, s, err)
			return
		default:
			v.Results, v.Next, v.Done = res.Recipients, res.Next, true
		}
	}
	c.render(w, r, s, http.StatusOK, "search", "Rechercher un allocataire", v)
}

type recipientView struct {
	R        *recipients.Recipient
	History  []recipients.Event
	Timeline []*ledger.TimelineEntry
	Next     int64
	CanSend  bool
}

func (c *Console) loadRecipient(w http.ResponseWriter, r *http.Request, s *staff.Session) (*recipients.Recipient, bool) {
	rec, err := recipients.GetByRef(r.Context(), c.DB, r.PathValue("ref"))
	if errors.Is(err, recipients.ErrNotFound) {
		c.errorPage(w, r, s, http.StatusNotFound, "Aucun allocataire n'a ce numéro.")
		return nil, false
	}
	if err != nil {
		c.fail(w, r, s, err)
		return nil, false
	}
	return rec, true
}

func (c *Console) recipientPage(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	ctx := r.Context()
	rec, ok := c.loadRecipient(w, r, s)
	if !ok {
		return
	}
	v := recipientView{R: rec, CanSend: s.Account.Role.Can(staff.PermSend)}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	var err error
	if v.History, err = recipients.History(ctx, c.DB, rec.ID); err == nil {
		v.Timeline, v.Next, err = ledger.Timeline(ctx, c.DB, rec.ID, &ledger.TimelineOpts{Before: before, Limit: 500})
	}
	if err == nil {
		err = staff.Record(ctx, c.DB, s.Account, "view_recipient", fmt.Sprintf("recipient:%d", rec.ID), "")
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "recipient", "Allocataire n° "+rec.Ref, v)
}

// recipientEvidence downloads the beneficiary's evidence pack (JSON), the
// same as `courrier evidence --recipient`.
func (c *Console) recipientEvidence(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	rec, ok := c.loadRecipient(w, r, s)
	if !ok {
		return
	}
	pack, err := compliance.Packer{DB: c.DB, Key: c.LedgerKey}.ForRecipient(r.Context(), rec.Ref)
	if err == nil {
		err = staff.Record(r.Context(), c.DB, s.Account, "evidence_download", fmt.Sprintf("recipient:%d", rec.ID), "")
	}
	if errors.Is(err, compliance.ErrInvalid) {
		// Nothing sealed yet: the pack could prove nothing.
		c.errorPage(w, r, s, http.StatusConflict, "Le registre n'est pas encore scellé : le dossier de preuves sera disponible après le prochain scellement (chaque minute).")
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="preuves-%d.json"`, rec.ID))
	_ = compliance.WritePack(w, pack, compliance.FormatJSON)
}

// reminderKinds are the kinds an agent may send to one beneficiary.
func reminderKinds() []string {
	var out []string
	for _, k := range notices.Kinds {
		if strings.HasPrefix(string(k), "reminder_") {
			out = append(out, string(k))
		}
	}
	return out
}

type sendField struct {
	templates.Field
	Value string
}

type preview struct {
	Channel string
	R       *templates.Rendered
	Error   string
}

type sendView struct {
	R        *recipients.Recipient
	Kinds    []string
	Template string
	Reason   string
	Key      string
	Fields   []sendField
	Previews []preview
	Error    string
	CanSend  bool // every channel rendered
}

func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c *Console) sendView(r *http.Request, rec *recipients.Recipient) sendView {
	v := sendView{R: rec, Kinds: reminderKinds(), Template: r.FormValue("template"), Reason: r.FormValue("reason"),
		Key: r.FormValue("key")}
	if v.Template == "" || !strings.HasPrefix(v.Template, "reminder_") || !notices.Kind(v.Template).Valid() {
		v.Template = string(notices.ReminderGeneric)
	}
	if v.Key == "" {
		v.Key = newKey()
	}
	for _, f := range c.Templates.KindFields(v.Template) {
		v.Fields = append(v.Fields, sendField{Field: f, Value: r.FormValue("f_" + f.Name)})
	}
	return v
}

// data turns the form's fields into notice data: lists one item a line.
func (v *sendView) data() map[string]any {
	d := map[string]any{}
	for _, f := range v.Fields {
		val := strings.TrimSpace(f.Value)
		if val == "" {
			continue
		}
		switch f.Type {
		case templates.TypeList:
			var items []any
			for _, l := range strings.Split(val, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					items = append(items, l)
				}
			}
			d[f.Name] = items
		case templates.TypeBool:
			d[f.Name] = val == "true" || val == "on" || val == "oui"
		case templates.TypeInt:
			if n, err := strconv.ParseInt(val, 10, 64); err == nil {
				d[f.Name] = float64(n)
			} else {
				d[f.Name] = val
			}
		default:
			d[f.Name] = val
		}
	}
	return d
}

func (c *Console) sendForm(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	rec, ok := c.loadRecipient(w, r, s)
	if !ok {
		return
	}
	c.render(w, r, s, http.StatusOK, "send", "Envoyer un rappel à l'allocataire n° "+rec.Ref, c.sendView(r, rec))
}

// send previews the reminder on every channel (action=preview), or sends it
// (action=send). The idempotency key is fixed when the form is first shown,
// so a double click, a resubmission or a retry after a timeout creates one
// notice.
func (c *Console) send(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	ctx := r.Context()
	rec, ok := c.loadRecipient(w, r, s)
	if !ok {
		return
	}
	v := c.sendView(r, rec)
	data := v.data()
	in := templates.Input{Recipient: templates.Recipient{Ref: rec.Ref, Civility: rec.Civility, GivenName: rec.GivenName,
		FamilyName: rec.FamilyName}, Data: data}
	v.CanSend = true
	for _, ch := range templates.Channels {
		if !c.Templates.Has(v.Template, ch) {
			continue
		}
		out, err := c.Templates.Render(v.Template, ch, in)
		p := preview{Channel: ch, R: out}
		if err != nil {
			p.Error, v.CanSend = err.Error(), false
		}
		v.Previews = append(v.Previews, p)
	}
	if r.PostFormValue("action") != "send" || !v.CanSend {
		c.render(w, r, s, http.StatusOK, "send", "Envoyer un rappel à l'allocataire n° "+rec.Ref, v)
		return
	}
	res, err := jobs.SendReminder(ctx, c.DB, c.River, jobs.Reminder{Template: v.Template, RecipientRef: rec.Ref, Data: data,
		Reason: v.Reason, IdempotencyKey: "console:" + v.Key, Operator: s.Account.Actor()}, c.Campaigns)
	var ce *campaigns.Error
	if errors.As(err, &ce) {
		v.Error = ce.Error()
		c.render(w, r, s, http.StatusBadRequest, "send", "Envoyer un rappel à l'allocataire n° "+rec.Ref, v)
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	detail := "created"
	if !res.Created {
		detail = "replayed: already sent"
	}
	if err := staff.Record(ctx, c.DB, s.Account, "send_reminder", fmt.Sprintf("notice:%d", res.NoticeID),
		v.Template+" "+detail); err != nil {
		c.fail(w, r, s, err)
		return
	}
	msg := "Rappel enregistré (avis n° " + strconv.FormatInt(res.NoticeID, 10) + ")."
	if !res.Created {
		msg = "Ce rappel avait déjà été envoyé (avis n° " + strconv.FormatInt(res.NoticeID, 10) + ") : aucun doublon créé."
	}
	http.Redirect(w, r, Prefix+"/recipients/"+rec.Ref+"?ok="+urlQueryEscape(msg), http.StatusSeeOther)
}
