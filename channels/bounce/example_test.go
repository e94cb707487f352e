package bounce_test

import (
	"fmt"

	"github.com/courrier-dev/courrier/channels/bounce"
)

func ExampleVERP() {
	v, _ := bounce.NewVERP("bounces", "bounce.caf.example", []byte("an example key of 16+ bytes"))
	addr := v.Address(12345)
	id, err := v.Parse(addr)
	fmt.Println(id, err)
	_, err = v.Parse("bounces+d12345.aaaaaaaaaaaaa@bounce.caf.example")
	fmt.Println(err)
	// Output:
	// 12345 <nil>
	// VERP tag does not verify
}

func ExampleClassify() {
	for _, c := range []struct {
		status string
		code   int
		text   string
	}{
		{"5.1.1", 550, ""},
		{"5.2.2", 552, ""},
		{"", 550, ""},
		{"", 0, "Utilisateur inconnu"},
		{"", 0, "???"},
	} {
		class, rule := bounce.Classify(c.status, c.code, c.text)
		fmt.Println(class, rule)
	}
	// Output:
	// hard status 5.1.1
	// soft status 5.2.2
	// hard smtp 550
	// hard keyword utilisateur inconnu
	// soft default
}

func ExampleParse() {
	raw := "From: MAILER-DAEMON@relay.example\r\n" +
		"To: bounces+d7.abcdefghijklm@bounce.caf.example\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nnot delivered\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; relay.example\r\n\r\n" +
		"Final-Recipient: rfc822; jean@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 <jean@example.org>: User unknown\r\n\r\n" +
		"--B--\r\n"
	r, _ := bounce.Parse([]byte(raw))
	fmt.Println(r.Summary())
	fmt.Println(r.ReturnPaths)
	// Output:
	// bounce format=dsn class=hard
	//   recipient action=failed status=5.1.1 code=550 class=hard rule="status 5.1.1" diagnostic="550 5.1.1 <address>: User unknown"
	// [bounces+d7.abcdefghijklm@bounce.caf.example]
}
