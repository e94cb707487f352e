package letters_test

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/courrier-dev/courrier/channels/letters"
)

func ExampleRender() {
	paris, _ := time.LoadLocation("Europe/Paris")
	l := letters.Letter{
		Ref:     "L42",
		Sender:  letters.Sender{Name: "Caf de Paris", Place: "Paris"},
		Address: []string{"Mme Hélène Payet", "12 rue de l'Église", "97400 SAINT DENIS"},
		Date:    time.Date(2026, 12, 1, 9, 0, 0, 0, paris),
		Subject: "Ouverture de vos droits",
		Body:    "Madame,\n\nVos droits sont ouverts\u202f: 201,99\u00a0€ par mois.",
	}
	h1, h2 := sha256.New(), sha256.New()
	pages, _ := letters.Render(h1, l)
	_, _ = letters.Render(h2, l)
	fmt.Println(pages, "page, byte-stable:", string(h1.Sum(nil)) == string(h2.Sum(nil)))
	fmt.Println(letters.FrenchDate(l.Date))
	// Output:
	// 1 page, byte-stable: true
	// 1er décembre 2026
}

func ExampleCutoff_Next() {
	paris, _ := time.LoadLocation("Europe/Paris")
	friday := time.Date(2026, 12, 4, 16, 0, 0, 0, paris) // Friday's cut-off
	fmt.Println(letters.DefaultCutoff.Next(friday).Format("Monday 2 January 15:04"))
	christmasEve := time.Date(2026, 12, 24, 17, 0, 0, 0, paris)
	fmt.Println(letters.DefaultCutoff.Next(christmasEve).Format("Monday 2 January 15:04"))
	// Output:
	// Monday 7 December 16:00
	// Monday 28 December 16:00
}
