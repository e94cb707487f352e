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
// --help`). Reports read only what sealed ledger events establish: the
// projections proj_notices and proj_requests, which the sealer writes and
// `courrier verify` recomputes (package ledger), never the operational
// tables. A notice is delivered at its first evidence of a level the report
// accepts (Period.Accept, default the proven levels of EvidenceLevels); every
// report says which levels its counts rest on, can be restricted to Cafs
// (Period.Cafs) or broken down by Caf (RunByCaf), lists beneficiaries by
// number only, and decides pass/fail with integer arithmetic so that exactly
// 85 % or 90 % passes.
//
// # Evidence packs
//
// Packer.ForRecipient and Packer.ForRule export a Pack: every sealed notice
// in scope with what its events establish (Caf, kind, delivery instant and
// evidence, masked address, content hash, rendered content while kept), each
// event's canonical encoding, leaf index and inclusion proof to a signed
// checkpoint, and a signed manifest of the scope. VerifyPack checks a pack
// offline with the ledger's public key; docs/evidence-format.md specifies it.
//
// # Serving
//
// Handler serves GET /v1/compliance/{rule}; the command-line bodies live in
// cmd/courrier (report.go, evidence.go, verify.go).
package compliance
