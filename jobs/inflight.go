package jobs

import (
	"github.com/courrier-dev/courrier/channels"
)

// slot takes one of the channel's in-flight slots and returns its release.
// A sender holds its slot from before the provider call until the outcome
// is committed, so a process never has more messages sent-but-unrecorded or
// in flight on a channel than InFlight allows: with InFlight set to the SMTP
// connection count, a crash duplicates at most one message per connection.
func (d *Deps) slot(ch channels.Name) func() {
	d.slotsMu.Lock()
	if d.slots == nil {
		d.slots = map[channels.Name]chan struct{}{}
	}
	s, ok := d.slots[ch]
	if !ok {
		if n := d.InFlight[ch]; n > 0 {
			s = make(chan struct{}, n)
		}
		d.slots[ch] = s
	}
	d.slotsMu.Unlock()
	if s == nil {
		return func() {}
	}
	s <- struct{}{}
	return func() { <-s }
}
