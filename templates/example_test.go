package templates_test

import (
	"fmt"

	"github.com/courrier-dev/courrier/templates"
)

// Render an SMS acknowledging an online request: data arrives as decoded
// JSON, dates are shown the French way, the template transliterates to GSM-7
// ("reçu" becomes "recu") and the SMS is measured.
func ExampleSet_Render_sms() {
	set, err := templates.Load(nil)
	if err != nil {
		panic(err)
	}
	r, err := set.Render("request_acknowledgement", "sms", templates.Input{
		Recipient: templates.Recipient{Ref: "1234567", Civility: "Mme", GivenName: "Claire", FamilyName: "Martin"},
		Data: map[string]any{
			"request_ref":  "DEM-2027-004512",
			"request_type": "demande de prime d'activité",
			"received_at":  "2027-03-02",
			"answer_by":    "2027-03-17",
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Text)
	fmt.Printf("%s, %d segment, %d characters\n", r.SMS.Encoding, r.SMS.Segments, r.SMS.Characters)
	// Output:
	// Caf : nous avons bien recu le 2 mars 2027 votre demande réf. DEM-2027-004512. Nous vous répondrons au plus tard le 17 mars 2027.
	// GSM-7, 1 segment, 128 characters
}

// AnalyzeSMS counts GSM-7 septets (the euro sign takes two) or UCS-2 units.
func ExampleAnalyzeSMS() {
	fmt.Println(templates.AnalyzeSMS("Montant : 12 €"))
	fmt.Println(templates.AnalyzeSMS("Vous êtes inscrit"))
	fmt.Println(templates.AnalyzeSMS(templates.TransliterateGSM("Vous êtes inscrit")))
	// Output:
	// {GSM-7 1 15}
	// {UCS-2 1 17}
	// {GSM-7 1 17}
}
