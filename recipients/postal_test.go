package recipients

import (
	"errors"
	"testing"
)

// TestValidateRefusesUnprintableAddress: an address that cannot be printed
// on a letter (NF Z10-011) is refused at intake with the field named.
func TestValidateRefusesUnprintableAddress(t *testing.T) {
	t.Parallel()
	base := Recipient{Ref: "1234567", Civility: "Mme", GivenName: "Léa", FamilyName: "Dupré",
		AddressLine1: "3 rue des Lilas", PostalCode: "97400", City: "Saint-Denis", Country: "FR"}
	if err := base.Validate(); err != nil {
		t.Fatalf("valid address refused: %v", err)
	}
	if got := base.PostalAddress(); got != "Mme Léa Dupré\n3 rue des Lilas\n97400 SAINT DENIS" {
		t.Fatalf("PostalAddress = %q", got)
	}
	for field, edit := range map[string]func(*Recipient){
		"address_line1": func(r *Recipient) { r.AddressLine1 = "Résidence des Grands Chênes, bâtiment A, escalier 4" },
		"address_line2": func(r *Recipient) { r.AddressLine2 = "Tour ★ 3" },
		"family_name": func(r *Recipient) {
			r.GivenName = "Marie-Françoise-Bernadette"
			r.FamilyName = "de La Tour d'Auvergne"
		},
		"city": func(r *Recipient) { r.City = "Saint-Martin-de-la-Grande-Chartreuse-les-Bains" },
	} {
		r := base
		edit(&r)
		var fe *FieldError
		if err := r.Validate(); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: Validate = %v, want a field error on %s", field, err, field)
		}
	}
}
