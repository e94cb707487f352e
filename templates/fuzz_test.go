package templates

import (
	"strings"
	"testing"
)

// FuzzRenderHostileData renders every channel of a template with hostile
// beneficiary names and data: it never panics, and markup in the data never
// reaches the HTML unescaped.
func FuzzRenderHostileData(f *testing.F) {
	set, err := Load(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Léa", "printemps 2027")
	f.Add("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")
	f.Add("{{.secret}}", "%!s(MISSING) \x00 \u202e")
	f.Add(strings.Repeat("é", 300), "\r\nBcc: x@evil.example")
	f.Fuzz(func(t *testing.T, name, period string) {
		in := Input{Recipient: Recipient{Ref: "1000001", Civility: "Mme", GivenName: name, FamilyName: name},
			Data: map[string]any{"period": period}}
		for _, ch := range Channels {
			if !set.Has("general_information", ch) {
				continue
			}
			r, err := set.Render("general_information", ch, in)
			if err != nil {
				continue // a RenderError is the expected answer to bad data
			}
			if strings.Contains(name+period, "<script>") && strings.Contains(r.HTML, "<script>") {
				t.Fatalf("%s: markup from the data reached the HTML unescaped", ch)
			}
		}
	})
}
