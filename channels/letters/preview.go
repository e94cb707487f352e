package letters

import (
	"fmt"
	"time"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/channels/postal"
	"github.com/courrier-dev/courrier/templates"
)

// SampleAddress is the address block of previews.
func SampleAddress(r templates.Recipient) postal.Address {
	return postal.Address{Addressee: r.Civility + " " + r.GivenName + " " + r.FamilyName,
		Line1: "12 rue de l'Église", Line2: "Bâtiment B, appartement 3", PostalCode: "97400", City: "Saint-Denis"}
}

// Preview renders the letter template of kind with data (the kind's sample
// data when nil) for r at addr, as it would be printed on date.
func Preview(set *templates.Set, kind string, data map[string]any, r templates.Recipient, addr postal.Address, sender Sender, date time.Time) (Letter, error) {
	if !set.Has(kind, string(channels.Letter)) {
		return Letter{}, fmt.Errorf("no letter template for kind %q", kind)
	}
	if err := postal.Printable(addr); err != nil {
		return Letter{}, fmt.Errorf("address: %w", err)
	}
	if data == nil {
		data = templates.SampleData(kind)
	}
	rendered, err := set.Render(kind, string(channels.Letter), templates.Input{Recipient: r, Data: data})
	if err != nil {
		return Letter{}, err
	}
	msg := channels.Message{DeliveryID: 0, Kind: kind, Channel: channels.Letter, Subject: rendered.Subject, Text: rendered.Text}
	for i, l := range addr.Lines() {
		if i > 0 {
			msg.To += "\n"
		}
		msg.To += l
	}
	l := FromMessage(msg, sender, date)
	l.Ref = "L0 (aperçu)"
	return l, nil
}
