// Package templates holds courrier's versioned message templates, one per
// notice kind and channel, and renders them safely.
//
// Default templates are French, embedded in the binary (directory defaults/),
// and an optional override directory replaces or adds templates without a
// rebuild. Each file starts with front matter that declares the notice kind,
// the channel, the email subject and the data fields the body may use, with
// their types:
//
//	---
//	kind: rights_opened
//	channel: email
//	subject: Vos droits à {{.benefit}} sont ouverts
//	fields:
//	  benefit: string         # nom de la prestation
//	  amount: money           # montant mensuel
//	  effective_date: date
//	---
//	-- html --
//	<h1>…</h1>
//	-- text --
//	…
//
// Load parses every file, walks the parsed template trees and rejects, with
// file and line, any syntax error, unknown type or use of a field that is not
// declared. Render validates and converts the notice data against the
// declared fields first (a missing or mistyped field is a *RenderError and
// nothing is rendered), then executes html/template for HTML (auto-escaping)
// and text/template for subject, text, SMS and letter, with missingkey=error.
//
// A version is the hex SHA-256 of the template source: the file together with
// the shared partials it is compiled with. SaveVersion stores it once in
// template_versions; RenderVersion re-renders any past message from the stored
// source, so changing a template never changes what the ledger says was sent.
//
// SMS texts are measured by AnalyzeSMS (GSM-7 with its extension table, or
// UCS-2) and may be transliterated to GSM-7 per template; a template's
// max_segments (default 2) is enforced at render time and by lint.
package templates
