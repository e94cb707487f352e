// Package jobs holds courrier's River job args and workers, and the
// operations that enqueue work: the only place that wires the domain
// packages into work.
//
// # Operations
//
// Each operation an operator can run is one function with typed arguments
// and results; the CLI (cmd/courrier, one file per command), the JSON API
// (httpapi) and the console only parse, call and present. Functions that
// change something take the operator's name (for API keys: httpapi.Actor,
// "key:12/Marie Curie"); four-eyes compares the person, whatever the key.
//
// Campaigns:
//   - CreateCampaign (from a campaigns.New) and CreateCampaignFromFile
//     (YAML/JSON, ParseCampaignFile); a file or New may set its JobSize
//   - ApproveCampaign (four-eyes: not the creator)
//   - StartCampaign, PauseCampaign, ResumeCampaign, CancelCampaign,
//     RetryCampaign; SetCampaignJobSize
//   - GetCampaignStatus: the campaign, its counts and its events
//   - campaigns.Preview: audience dry run (count and sample with reasons);
//     campaigns.List for the latest campaigns
//
// One notice of any kind to one beneficiary: SendNotice (checked by
// rendering every channel of its route first; `courrier send`).
//
// Reminders: SendReminder (one beneficiary or an audience; Reminder.SendAt
// schedules it).
//
// Beneficiaries: recipients.Import (ImportOpts.DryRun checks every row and
// returns per-row errors without writing).
//
// API keys: CreateAPIKey, ListAPIKeys, RevokeAPIKey.
//
// Status callbacks: SetCallback (returns the signing secret once),
// GetCallback, RemoveCallback, ListFailedCallbacks;
// VerifyCallbackSignature is the receiver's check.
//
// Templates: templates.Set.List, templates.Lint, templates.Set.PreviewMessage.
//
// Compliance reports, evidence and verification live in compliance.
package jobs
