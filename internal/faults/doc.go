// Package faults is courrier's fault suite: it builds courrier, runs
// `courrier serve` as a child process against a private PostgreSQL (or its
// own embedded one), a capturing SMTP server and a Twilio-shaped HTTP
// server, starts a general mailing whose audience is reached by email and,
// for one beneficiary in three, by SMS, injects faults mid-campaign
// (SIGKILL of serve, of one of two serves, of the embedded PostgreSQL;
// PostgreSQL stopped; SMTP down; SMTP 421 and Twilio 429/500) and counts,
// per beneficiary, the messages received against those expected. Each
// scenario prints
//
//	<scenario>: lost N, duplicates M, recovered in S s
//
// The suite is behind the build tag "fault":
//
//	go test -tags fault -parallel 4 ./internal/faults/   # short form (CI)
//	FAULT_FULL=1 go test -tags fault -timeout 40m -v ./internal/faults/
//
// Only loopback addresses are used. See docs/reliability.md.
package faults
