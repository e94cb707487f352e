// Package letters is the postal letter channel: it renders letters to PDF
// for a French window envelope, gathers the day's letters into print batches
// at a cut-off (merged PDF per postage class, CSV and JSON manifest,
// checksum file), hands the batches to a print house (SFTP or a drop
// directory, atomic and resumable), and reads the print house's receipts
// (printed, posted) and returned mail back into the ledger.
//
// The print-house side is the PrintHouse interface; the file formats are in
// docs/print-house.md.
package letters
