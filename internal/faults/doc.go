// Package faults is courrier's fault suite: it builds courrier, runs
// `courrier serve` as a child process against a private PostgreSQL, a
// capturing SMTP server and a Twilio-shaped HTTP server, injects faults
// mid-campaign (SIGKILL of serve, PostgreSQL stopped, SMTP down, SMTP 421)
// and counts, per beneficiary, the messages received against those
// expected. Each scenario prints
//
//	<scenario>: lost N, duplicates M, recovered in S s
//
// The suite is behind the build tag "fault":
//
//	go test -tags fault ./internal/faults/            # short form (CI)
//	FAULT_FULL=1 go test -tags fault -timeout 30m -v ./internal/faults/
//
// Only loopback addresses are used. See docs/reliability.md.
package faults
