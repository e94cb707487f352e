// Package campaigns models courrier's campaigns: general mailings (at least
// three a year to every beneficiary), the daily yearly statement sweep,
// life-event outreach and staff reminders.
//
// A campaign has a kind, a template and the data its declared fields need
// (checked by rendering with CheckData), an Audience, an optional start time
// and Pace (spread over N days, inside a daily window), and a state:
//
//	draft → approved → scheduled → running → completed
//	                       ↕ paused         ↘ cancelled (from any state but completed)
//
// Four-eyes: a general mailing, and a reminder whose audience is larger than
// Config.ApprovalThreshold (default 1,000), starts only after Approve by an
// operator other than its creator (SameOperator). campaign_events records
// who created, approved, started, paused, resumed, cancelled and retried,
// and is append-only in the database.
//
// Counts are never stored: GetCounts computes them from the campaign's
// notices (notices.campaign_id), except Targeted, the number of audience
// members the fan-out walked, which it updates in the same transaction as
// each batch's notices.
//
// An Audience is a declarative filter (JSON or YAML), compiled by Compile to
// a parameterised SQL condition: values are always $n arguments, never SQL
// text. Errors are *FilterError naming the field. PageSQL gives keyset
// pagination by recipients.id; Preview gives a dry run.
//
// A Calendar (YAML, see example-calendar.yaml, the embedded default)
// declares the year's general mailings, recurring reminders, the sweep's
// lead time and the outreach delays. SyncCalendar mirrors it into the
// database and creates each occurrence's campaign once, keyed by
// "<entry id>@<date>" (campaigns.calendar_key is UNIQUE), so racing
// processes never duplicate one. Starting campaigns, fanning them out and
// the sweep and outreach scans are River jobs, in package jobs.
package campaigns
