package channels

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

type countingChannel struct{ sends atomic.Int64 }

func (c *countingChannel) Send(context.Context, Message) (Receipt, error) {
	c.sends.Add(1)
	return Receipt{Provider: "test"}, nil
}

type fakeWaiter struct {
	calls atomic.Int64
	err   error
}

func (f *fakeWaiter) Wait(context.Context) error {
	f.calls.Add(1)
	return f.err
}

func TestRateLimitedWaitsBeforeEverySend(t *testing.T) {
	t.Parallel()
	inner := &countingChannel{}
	w := &fakeWaiter{}
	ch := &rateLimited{ch: inner, lim: w}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := ch.Send(context.Background(), Message{})
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.EqualValues(t, 20, w.calls.Load())
	require.EqualValues(t, 20, inner.sends.Load())

	w.err = errors.New("would exceed deadline")
	_, err := ch.Send(context.Background(), Message{})
	require.Equal(t, Transient, Classify(err).Class)
	require.EqualValues(t, 20, inner.sends.Load(), "nothing sent without a token")
}

func TestRateLimitedConsumesSharedTokens(t *testing.T) {
	t.Parallel()
	inner := &countingChannel{}
	// A rate so low that no token comes back during the test.
	ch := RateLimited(inner, 0.0001, 3)
	lim := ch.(*rateLimited).lim.(*rate.Limiter)

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			_, err := ch.Send(context.Background(), Message{})
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Less(t, lim.Tokens(), 1.0, "the burst is spent")

	// The next token is hours away: a cancelled context returns at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ch.Send(ctx, Message{})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, Transient, Classify(err).Class)
	require.EqualValues(t, 3, inner.sends.Load())
}

func TestRateLimitedDisabled(t *testing.T) {
	t.Parallel()
	inner := &countingChannel{}
	require.Same(t, Channel(inner), RateLimited(inner, 0, 0))
	ch := RateLimited(inner, 50, 0)
	require.Equal(t, 50, ch.(*rateLimited).lim.(*rate.Limiter).Burst())
}

// sendCounter is a channel that counts what it is asked to send.
type sendCounter struct{ n map[string]int }

func (s *sendCounter) Send(_ context.Context, msg Message) (Receipt, error) {
	s.n[msg.Caf]++
	return Receipt{Provider: "test"}, nil
}

// TestRateLimitedPerCaf: a Caf with a limit waits on its own limiter (a
// second message within the same second cannot be sent before a short
// deadline), while another Caf's messages are not held by it.
func TestRateLimitedPerCaf(t *testing.T) {
	t.Parallel()
	inner := &sendCounter{n: map[string]int{}}
	ch := RateLimitedPerCaf(inner, map[string]float64{"974": 1})
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 100*time.Millisecond)
	}
	ctx, cancel := short()
	defer cancel()
	_, err := ch.Send(ctx, Message{Caf: "974"})
	require.NoError(t, err, "the first message of the second goes at once")
	_, err = ch.Send(ctx, Message{Caf: "974"})
	require.Error(t, err, "the second would have to wait about a second")
	require.Equal(t, Transient, Classify(err).Class)
	require.Contains(t, err.Error(), "Caf 974")
	for range 5 {
		_, err = ch.Send(ctx, Message{Caf: "751"})
		require.NoError(t, err, "another Caf is not limited by 974's limit")
	}
	require.Equal(t, map[string]int{"974": 1, "751": 5}, inner.n)
	require.Same(t, inner, RateLimitedPerCaf(inner, map[string]float64{"974": 0}), "no positive limit: the channel itself")
}
