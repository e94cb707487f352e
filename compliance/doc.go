// Package compliance turns the agency's national quality-of-service
// baseline (socle national de la qualité de service) into queries over the
// notices and the delivery ledger, and exports the evidence behind them.
//
// # Rules
//
// Each rule is a RuleFunc registered in Rules by name and computes a Report
// for a Period [From, To) judged as of Period.AsOf (default now):
//
//	yearly-notice       every active beneficiary covered by a delivered personalised notice
//	                    in every 12-month window (covered / not covered / at risk within 30 days)
//	general-mailings    >= 3 delivered general mailings per beneficiary per calendar year
//	acknowledgement     online requests acknowledged within 5x24h (100 %)
//	answer-15d          requests answered within 15x24h in >= 85 % of cases
//	minimum-income-10d  minimum-income requests answered within 10x24h in >= 90 % of cases
//	complaints-15d      complaints answered within 15x24h (100 %)
//
// The exact definitions are in each Rule's Help (and `courrier report
// --help`). "Delivered" is notices.delivered_at: the channel's final positive
// evidence. Every report says which evidence level its counts rest on
// (smtp_accepted, twilio_delivered, print_handed, outbox), lists
// beneficiaries by number only, and decides pass/fail with integer
// arithmetic so that exactly 85 % or 90 % passes. All aggregation happens in
// PostgreSQL, on partial indexes added by migration 0006.
//
// # Evidence packs
//
// ForRecipient and ForRule export a Pack: every notice in scope, its
// deliveries (masked address, template version, provider message id,
// rendered content or, after retention, only its hash) and every ledger
// event with its chain position, previous hash and hash, plus the seal heads.
// VerifyPack checks a pack offline, from the pack alone.
//
// # Commands
//
// ReportCommand, EvidenceCommand and VerifyCommand are the bodies of
// `courrier report`, `courrier evidence` and `courrier verify`; Handler
// serves GET /v1/compliance/{rule}.
package compliance
