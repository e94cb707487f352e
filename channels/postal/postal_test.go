package postal

import (
	"errors"
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	t.Parallel()
	a := Address{Addressee: "Mme  Hélène Lefèvre", Line1: "12 rue de l'Église", PostalCode: "97400", City: "Saint-Denis"}
	got := strings.Join(a.Lines(), "|")
	want := "Mme Hélène Lefèvre|12 rue de l'Église|97400 SAINT DENIS"
	if got != want {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
	if err := Printable(a); err != nil {
		t.Fatalf("Printable: %v", err)
	}
	if l := DistributionLine("75014", "Paris 14e, l'Haÿ"); l != "75014 PARIS 14E L HAY" {
		t.Fatalf("DistributionLine = %q", l)
	}
}

func TestPrintableRefuses(t *testing.T) {
	t.Parallel()
	ok := Address{Addressee: "M. Paul Durand", Line1: "3 place du Marché", PostalCode: "69001", City: "Lyon"}
	for name, tc := range map[string]struct {
		edit  func(*Address)
		field string
	}{
		"no postal code":    {func(a *Address) { a.PostalCode = "" }, "postal_code"},
		"no city":           {func(a *Address) { a.City = " " }, "city"},
		"bad code":          {func(a *Address) { a.PostalCode = "6900" }, "postal_code"},
		"long line":         {func(a *Address) { a.Line1 = strings.Repeat("x", 39) }, "address_line1"},
		"long name":         {func(a *Address) { a.Addressee = "Mme " + strings.Repeat("é", 35) }, "addressee"},
		"long city":         {func(a *Address) { a.City = strings.Repeat("Saint ", 7) }, "city"},
		"unprintable":       {func(a *Address) { a.Line2 = "Résidence 日本" }, "address_line2"},
		"five lines abroad": {func(a *Address) { a.Line2 = "Bâtiment B"; a.Country = "BE"; a.Addressee = "M. X" }, ""},
	} {
		a := ok
		tc.edit(&a)
		err := Printable(a)
		if name == "five lines abroad" {
			// Addressee, two delivery lines, distribution line, country: printable.
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: err %v, want a field error on %s", name, err, tc.field)
		}
	}
	// 38 characters exactly is allowed.
	a := ok
	a.Line1 = strings.Repeat("é", 38)
	if err := Printable(a); err != nil {
		t.Fatalf("38 characters: %v", err)
	}
}

func BenchmarkDistributionLine(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = DistributionLine("97400", "Saint-Denis-de-l'Île")
	}
}
