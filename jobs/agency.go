package jobs

import (
	"strings"

	"github.com/courrier-dev/courrier/agencies"
	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/templates"
	"github.com/courrier-dev/courrier/territories"
)

// agencyOf is the beneficiary's Caf, or nil when the deployment declares no
// agencies (templates then use the set's agency data).
func (d *Deps) agencyOf(r *recipients.Recipient) *agencies.Agency {
	if d.Agencies == nil {
		return nil
	}
	return d.Agencies.Resolve(r.Caf, r.PostalCode)
}

// calendar is the beneficiary's own calendar for quiet hours: the zone and
// public holidays of where they live, plus their Caf's closure days.
func (d *Deps) calendar(r *recipients.Recipient) territories.Calendar {
	if d.Calendar != nil {
		return d.Calendar(r)
	}
	if a := d.agencyOf(r); a != nil {
		return a.CalendarFor(r.Territory())
	}
	return r.Territory().Calendar()
}

// route is the channel order for a notice of kind to r: the Caf's own route
// for kind when it declares one, else the deployment's.
func (d *Deps) route(r *recipients.Recipient, kind string) []channels.Name {
	if a := d.agencyOf(r); a != nil {
		if names, ok := a.Routes[kind]; ok {
			out := make([]channels.Name, len(names))
			for i, n := range names {
				out[i] = channels.Name(n)
			}
			return out
		}
	}
	return d.Routes.For(kind)
}

// input is what a notice's message for r is rendered from.
func (d *Deps) input(r *recipients.Recipient, data map[string]any) templates.Input {
	return templates.Input{
		Recipient: templates.Recipient{Ref: r.Ref, Civility: r.Civility, GivenName: r.GivenName, FamilyName: r.FamilyName},
		Data:      data,
		Agency:    templates.AgencyOf(d.agencyOf(r)),
	}
}

// sender gives msg the sender identity of r's Caf.
func (d *Deps) sender(r *recipients.Recipient, msg *channels.Message) {
	if a := d.agencyOf(r); a != nil {
		msg.From, msg.ReplyTo, msg.Sender = a.Senders.EmailFrom, a.Senders.ReplyTo, a.Senders.SMSSender
		msg.Letterhead = a.Letterhead
		if len(msg.Letterhead) == 0 {
			msg.Letterhead = []string{a.Name}
		}
		msg.Place = placeOf(msg.Letterhead)
		msg.Caf = a.Code
	}
}

// placeOf is the city of a letterhead's last line ("97489 Saint-Denis
// Cedex" → "Saint-Denis"): where a Caf's letters are dated from.
func placeOf(letterhead []string) string {
	if len(letterhead) < 2 {
		return ""
	}
	f := strings.Fields(letterhead[len(letterhead)-1])
	if len(f) < 2 || len(f[0]) != 5 || strings.Trim(f[0], "0123456789AB") != "" {
		return ""
	}
	f = f[1:]
	for i, w := range f {
		if strings.EqualFold(w, "cedex") {
			f = f[:i]
			break
		}
	}
	return strings.Join(f, " ")
}
