package jobs_test

import (
	"fmt"
	"time"

	"github.com/courrier-dev/courrier/jobs"
)

// A receiver checks each status callback with the secret shown when it was
// registered, and rejects a request replayed outside its window.
func ExampleVerifyCallbackSignature() {
	secret := "whsec_example"
	body := []byte(`{"event_id":"6f1c0d4e-0000-4000-8000-000000000000","type":"notice.delivered"}`)
	sent := time.Date(2027, 3, 15, 10, 0, 0, 0, time.UTC)
	header := jobs.SignCallback(secret, sent, body) // what courrier sends as Courrier-Signature

	fmt.Println(jobs.VerifyCallbackSignature(secret, header, body, sent.Add(30*time.Second), jobs.DefaultCallbackWindow))
	fmt.Println(jobs.VerifyCallbackSignature(secret, header, body, sent.Add(time.Hour), jobs.DefaultCallbackWindow))
	fmt.Println(jobs.VerifyCallbackSignature(secret, header, []byte(`{"type":"notice.failed"}`), sent, jobs.DefaultCallbackWindow))
	// Output:
	// <nil>
	// callback timestamp outside the replay window
	// callback signature does not match
}
