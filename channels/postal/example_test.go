package postal_test

import (
	"fmt"
	"strings"

	"github.com/courrier-dev/courrier/channels/postal"
)

func ExamplePrintable() {
	a := postal.Address{Addressee: "Mme Hélène Payet", Line1: "12 rue de l'Église", PostalCode: "97400", City: "Saint-Denis"}
	fmt.Println(strings.Join(a.Lines(), "\n"))
	fmt.Println(postal.Printable(a))
	a.Line1 = "Résidence des Grands Chênes, bâtiment A, escalier 4"
	fmt.Println(postal.Printable(a))
	// Output:
	// Mme Hélène Payet
	// 12 rue de l'Église
	// 97400 SAINT DENIS
	// <nil>
	// address_line1: makes an address line of 51 characters; NF Z10-011 allows 38
}
