package channels

import (
	"context"
	"math"

	"golang.org/x/time/rate"
)

// waiter is the part of *rate.Limiter that RateLimited needs.
type waiter interface {
	Wait(ctx context.Context) error
}

type rateLimited struct {
	ch  Channel
	lim waiter
}

// RateLimited returns a Channel that sends through ch at most perSecond
// messages per second on average, with bursts of up to burst messages. One
// limiter is shared by every goroutine that uses the returned Channel, so
// all the workers of a process stay under the provider's limit together.
// perSecond <= 0 means no limit. Waiting honours ctx: a cancelled context (or
// a deadline too close to wait for a token) returns a transient error and
// nothing is sent.
func RateLimited(ch Channel, perSecond float64, burst int) Channel {
	if perSecond <= 0 {
		return ch
	}
	if burst < 1 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	return &rateLimited{ch: ch, lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

func (r *rateLimited) Send(ctx context.Context, msg Message) (Receipt, error) {
	if err := r.lim.Wait(ctx); err != nil {
		return Receipt{}, &Error{Class: Transient, Msg: "rate limit: not sent", Err: err}
	}
	return r.ch.Send(ctx, msg)
}

// Unwrap returns the rate-limited channel, so callers can reach its Close.
func (r *rateLimited) Unwrap() Channel { return r.ch }

// RateLimitedPerCaf returns a Channel that, before sending a message of a
// Caf listed in perSecond, waits on that Caf's own limiter (one per Caf,
// shared by every worker of the process); messages of other Cafs go straight
// to ch. It composes with RateLimited: wrap the result in the deployment's
// limit to keep both.
func RateLimitedPerCaf(ch Channel, perSecond map[string]float64) Channel {
	lims := map[string]waiter{}
	for caf, r := range perSecond {
		if r > 0 {
			lims[caf] = rate.NewLimiter(rate.Limit(r), max(1, int(math.Ceil(r))))
		}
	}
	if len(lims) == 0 {
		return ch
	}
	return &perCafLimited{ch: ch, lims: lims}
}

type perCafLimited struct {
	ch   Channel
	lims map[string]waiter // read-only after construction
}

func (p *perCafLimited) Send(ctx context.Context, msg Message) (Receipt, error) {
	if lim, ok := p.lims[msg.Caf]; ok {
		if err := lim.Wait(ctx); err != nil {
			return Receipt{}, &Error{Class: Transient, Msg: "rate limit of Caf " + msg.Caf + ": not sent", Err: err}
		}
	}
	return p.ch.Send(ctx, msg)
}

// Unwrap returns the rate-limited channel, so callers can reach its Close.
func (p *perCafLimited) Unwrap() Channel { return p.ch }
