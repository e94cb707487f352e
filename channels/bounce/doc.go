// Package bounce turns asynchronous email evidence into facts courrier can
// act on: VERP return paths that name and authenticate a delivery, one
// parser for delivery status notifications (RFC 3464, RFC 6533) and abuse
// reports (RFC 5965 ARF) with a fallback for the non-standard bounces real
// MTAs still send, one classification table (also used for synchronous SMTP
// rejections), and the two intakes that read bounces: an inbound SMTP
// listener for the bounce domain's MX and an IMAP poller for a bounce
// mailbox. What a bounce does (ledger, suppression, fallback) lives in jobs.
package bounce
