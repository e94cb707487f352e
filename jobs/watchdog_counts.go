package jobs

// WatchdogCounts returns the deadline watchdog's figures since the process
// started (escalations, breaches) and at its last pass (at risk), for the
// metrics.
func WatchdogCounts() (escalations, breaches, acksAtRisk, answersAtRisk int64) {
	return watchdogEscalations.Load(), watchdogBreaches.Load(), watchdogAcksAtRisk.Load(), watchdogAnswersAtRisk.Load()
}
