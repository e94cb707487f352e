package templates

import (
	"strings"

	"github.com/courrier-dev/courrier/agencies"
)

// AgencyOf is what templates show of a Caf: its name and website, the
// mediator's full contact, each reception point with its opening and busy
// hours, the phone line with its hours, the letterhead and return address.
// Empty parts take DefaultAgency's when rendered.
func AgencyOf(a *agencies.Agency) *Agency {
	if a == nil {
		return nil
	}
	out := &Agency{
		Name: a.Name, Website: a.Website, Code: a.Code,
		Letterhead:    strings.Join(a.Letterhead, "\n"),
		ReturnAddress: a.Senders.ReturnAddress,
	}
	if out.Letterhead == "" {
		out.Letterhead = a.Name
	}
	m := a.Mediator
	var parts []string
	if m.Name != "" || m.Address != "" {
		parts = append(parts, "par courrier, "+strings.Trim(joinNonEmpty(", ", m.Name, m.Address), " ,"))
	}
	if m.Email != "" {
		parts = append(parts, "par courriel, "+m.Email)
	}
	if m.Phone != "" {
		parts = append(parts, "par téléphone, au "+m.Phone)
	}
	if m.OnlineForm != "" {
		parts = append(parts, "en ligne, avec le formulaire "+m.OnlineForm)
	}
	out.MediatorContact = strings.Join(parts, " ; ")
	var hours, busy []string
	for _, p := range a.ReceptionPoints {
		place := joinNonEmpty(", ", p.Name, p.Address)
		hours = append(hours, place+" : "+p.OpeningHours)
		if p.BusyHours != "" {
			busy = append(busy, p.BusyHours+" "+atPlace(p.Name))
		}
	}
	out.ReceptionHours = strings.Join(hours, " ; ")
	out.BusyHours = strings.Join(busy, ", et ")
	out.Phone = a.Phone.Number
	if a.Phone.Hours != "" && a.Phone.Number != "" {
		out.Phone += ", " + a.Phone.Hours
	}
	return out
}

func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}

// atPlace turns "Accueil de Saint-Denis" into "à l'accueil de Saint-Denis"
// and "Maison France services" into "à Maison France services".
func atPlace(name string) string {
	if rest, ok := strings.CutPrefix(name, "Accueil"); ok {
		return "à l'accueil" + rest
	}
	return "à " + name
}
