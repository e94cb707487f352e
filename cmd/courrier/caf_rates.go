package main

import (
	"github.com/courrier-dev/courrier/agencies"
	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/jobs"
)

// perCafRates wraps each channel in the per-Caf rate limits of the agency
// file (`rate_limits: {email: 50, sms: 5}` on a Caf): one limiter per Caf
// and channel, shared by every worker of the process, inside the
// deployment's own limit (COURRIER_EMAIL_RATE, COURRIER_SMS_RATE). rates
// takes the slowest Caf's limit, so that batch timeouts allow for it.
func perCafRates(chans map[channels.Name]channels.Channel, rates jobs.Rates, set *agencies.Set) {
	if set == nil {
		return
	}
	for name, ch := range chans {
		limits := map[string]float64{}
		for _, a := range set.Agencies {
			if r, ok := a.RateLimits[string(name)]; ok && r > 0 {
				limits[a.Code] = r
				if cur, has := rates[name]; rates != nil && (!has || r < cur) {
					rates[name] = r
				}
			}
		}
		chans[name] = channels.RateLimitedPerCaf(ch, limits)
	}
}
