// Package requests keeps the agency's promises about online requests and
// complaints: every request is acknowledged within a few days of receipt and
// answered within its processing deadline.
//
// A request is stored by Receive with both deadlines computed from its
// receipt time (Settings.AckDueBy and Settings.AnswerDueBy): by default 5
// calendar days for the acknowledgement, 15 days for the answer, 10 days when
// the request concerns a minimum-income benefit and 15 days for a complaint.
// With Settings.WorkingDays the days are working days in Europe/Paris,
// skipping weekends and French public holidays.
//
// The request's state follows its notices: received, acknowledged when the
// acknowledgement notice is delivered, answered when the answer notice is
// created (Answer), closed when the answer notice is delivered. The last two
// transitions driven by delivery are made by a database trigger on notices,
// so they hold whatever channel delivers, including an SMS whose receipt
// arrives later through a webhook.
//
// AcksAtRisk, AnswersAtRisk and RecordBreaches are the queries of the
// deadline watchdog (package jobs) that escalates acknowledgements and
// reports requests close to or past their deadlines. Breaches are recorded
// in request_breaches, never hidden.
//
// Creating the notices themselves (in the same transaction as the request)
// is the job of package jobs: see jobs.ReceiveRequest and jobs.AnswerRequest.
package requests
