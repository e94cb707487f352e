package main

import (
	"fmt"
	"strconv"

	"github.com/courrier-dev/courrier/channels"
)

// providerChannels replaces outbox channels with real providers where the
// environment configures them: SMTP_URL for email, TWILIO_* for SMS.
// Letters are PDFs sent through print batches whatever is configured here
// (see setupLetters).
func (e *Env) providerChannels(chans map[channels.Name]channels.Channel, rt *runtime) error {
	if url := e.Getenv("SMTP_URL"); url != "" {
		conns, err := e.int("SMTP_CONNECTIONS", 4)
		if err != nil {
			return err
		}
		bounces, err := e.bounceSettings()
		if err != nil {
			return err
		}
		email, err := channels.NewEmail(channels.EmailConfig{
			URL: url, From: e.get("SMTP_FROM", "Caf <ne-pas-repondre@caf.example.fr>"), ReplyTo: e.Getenv("SMTP_REPLY_TO"),
			Connections: conns, ReturnPath: bounces.returnPath(),
		})
		if err != nil {
			return fmt.Errorf("SMTP_URL: %w", err)
		}
		rt.closers = append(rt.closers, email.Close)
		ch, err := e.limited(email, "COURRIER_EMAIL_RATE")
		if err != nil {
			return err
		}
		chans[channels.Email] = ch
		settings, _ := channels.ParseSMTPURL(url)
		rt.describe[channels.Email] = fmt.Sprintf("smtp %s:%d (%s)", settings.Host, settings.Port, settings.Security)
	}
	if sid := e.Getenv("TWILIO_ACCOUNT_SID"); sid != "" {
		sms, err := channels.NewSMS(channels.SMSConfig{
			AccountSID: sid, AuthToken: e.Getenv("TWILIO_AUTH_TOKEN"),
			MessagingServiceSID: e.Getenv("TWILIO_MESSAGING_SERVICE_SID"), From: e.Getenv("TWILIO_FROM"),
			StatusCallbackBase: e.Getenv("COURRIER_PUBLIC_URL"), APIBaseURL: e.Getenv("TWILIO_API_URL"),
		})
		if err != nil {
			return fmt.Errorf("twilio: %w", err)
		}
		ch, err := e.limited(sms, "COURRIER_SMS_RATE")
		if err != nil {
			return err
		}
		chans[channels.SMS] = ch
		rt.describe[channels.SMS] = "twilio"
	}
	return nil
}

// limited wraps ch in a messages-per-second limit read from key (0 or unset:
// no limit).
func (e *Env) limited(ch channels.Channel, key string) (channels.Channel, error) {
	v := e.Getenv(key)
	if v == "" {
		return ch, nil
	}
	rate, err := strconv.ParseFloat(v, 64)
	if err != nil || rate < 0 {
		return nil, fmt.Errorf("%s: %q is not a rate in messages per second", key, v)
	}
	if rate == 0 {
		return ch, nil
	}
	burst := max(1, int(rate/10))
	return channels.RateLimited(ch, rate, burst), nil
}
