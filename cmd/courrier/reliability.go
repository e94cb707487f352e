package main

import (
	"strconv"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/jobs"
)

// channelRates reads the per-process rate limits that providerChannels
// applies, so that batch timeouts are derived from them.
func (e *Env) channelRates() jobs.Rates {
	rates := jobs.Rates{}
	for ch, key := range map[channels.Name]string{channels.Email: "COURRIER_EMAIL_RATE", channels.SMS: "COURRIER_SMS_RATE"} {
		if r, err := strconv.ParseFloat(e.Getenv(key), 64); err == nil && r > 0 {
			rates[ch] = r
		}
	}
	return rates
}
