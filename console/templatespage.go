package console

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/staff"
	"github.com/courrier-dev/courrier/templates"
)

type templateRow struct {
	Key      string
	Channels []templateChannel
}

type templateChannel struct {
	Channel, Version string
}

func (c *Console) templateRows() []templateRow {
	var out []templateRow
	for _, k := range c.Templates.Keys() {
		row := templateRow{Key: k}
		for _, ch := range templates.Channels {
			if c.Templates.Has(k, ch) {
				row.Channels = append(row.Channels, templateChannel{ch, c.Templates.Version(k, ch)})
			}
		}
		out = append(out, row)
	}
	return out
}

func (c *Console) templatesPage(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	c.render(w, r, s, http.StatusOK, "templates", "Modèles de messages", c.templateRows())
}

// storedVersion is a template version recorded in the database (every
// version a notice was ever rendered with).
type storedVersion struct {
	Channel, Version string
	FirstUsed        time.Time
	Uses             int64
}

type templateView struct {
	Key      string
	Ref      string // real beneficiary used for the preview, if any
	Error    string
	Fields   []templates.Field
	Previews []preview
	Versions []storedVersion
}

// templatePage previews a template on every channel with its sample data,
// or with a real beneficiary's identity (?ref=), and lists the versions
// notices were rendered with.
func (c *Console) templatePage(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	ctx := r.Context()
	key := r.PathValue("key")
	if !slices.Contains(c.Templates.Keys(), key) {
		c.errorPage(w, r, s, http.StatusNotFound, "Modèle inconnu.")
		return
	}
	v := templateView{Key: key, Ref: r.URL.Query().Get("ref"), Fields: c.Templates.KindFields(key)}
	in := templates.Input{Recipient: templates.SampleRecipient(), Data: templates.SampleData(key)}
	if v.Ref != "" {
		rec, err := recipients.GetByRef(ctx, c.DB, v.Ref)
		switch {
		case errors.Is(err, recipients.ErrNotFound):
			v.Error = "Aucun allocataire n'a ce numéro : aperçu avec l'allocataire fictif."
		case err != nil:
			c.fail(w, r, s, err)
			return
		default:
			in.Recipient = templates.Recipient{Ref: rec.Ref, Civility: rec.Civility, GivenName: rec.GivenName, FamilyName: rec.FamilyName}
		}
	}
	for _, ch := range templates.Channels {
		if !c.Templates.Has(key, ch) {
			continue
		}
		out, err := c.Templates.Render(key, ch, in)
		p := preview{Channel: ch, R: out}
		if err != nil {
			p.Error = err.Error()
		}
		v.Previews = append(v.Previews, p)
	}
	var err error
	if v.Versions, err = versionsUsed(ctx, c.DB, key); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "template", "Modèle "+key, v)
}

// versionsUsed lists the versions of a template that deliveries were
// rendered with, newest first.
func versionsUsed(ctx context.Context, db interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, key string) ([]storedVersion, error) {
	rows, err := db.Query(ctx, `
		SELECT d.channel, d.template_version, min(d.created_at), count(*)
		FROM deliveries d JOIN notices n ON n.id = d.notice_id
		WHERE n.template_key = $1 AND d.template_version <> ''
		GROUP BY d.channel, d.template_version ORDER BY min(d.created_at) DESC LIMIT 50`, key)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (storedVersion, error) {
		var v storedVersion
		err := row.Scan(&v.Channel, &v.Version, &v.FirstUsed, &v.Uses)
		return v, err
	})
}
