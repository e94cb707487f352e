package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/channels/letters"
	"github.com/courrier-dev/courrier/channels/postal"
	"github.com/courrier-dev/courrier/templates"
)

// lettersPhase renders a general mailing that falls back to letters: for
// each beneficiary, the 2-page general_information letter is rendered from
// its template, set as a PDF and hashed (what the letter channel does
// before spooling), on every CPU; then all of them are streamed into one
// merged batch PDF, as the cut-off does. Memory is sampled during the run:
// it must stay flat whatever the count.
func (b *runner) lettersPhase(ctx context.Context) error {
	tpl, err := templates.Load(nil)
	if err != nil {
		return err
	}
	n := b.opts.Recipients
	data := templates.SampleData("general_information")
	sender := letters.SenderFor(templates.DefaultAgency())
	date := time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC)
	letterOf := func(i int) (letters.Letter, error) {
		r := templates.Recipient{Ref: fmt.Sprintf("B%07d", i), Civility: "Mme", GivenName: "Léa", FamilyName: "Dupré"}
		rendered, err := tpl.Render("general_information", string(channels.Letter), templates.Input{Recipient: r, Data: data})
		if err != nil {
			return letters.Letter{}, err
		}
		addr := postal.Address{Addressee: "Mme Léa Dupré", Line1: fmt.Sprintf("%d rue de la République", 1+i%200),
			PostalCode: "97400", City: "Saint-Denis"}
		to := ""
		for j, l := range addr.Lines() {
			if j > 0 {
				to += "\n"
			}
			to += l
		}
		return letters.FromMessage(channels.Message{DeliveryID: int64(i + 1), To: to, Subject: rendered.Subject, Text: rendered.Text}, sender, date), nil
	}

	var heapMax atomic.Uint64
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		for {
			cur := heapMax.Load()
			if m.HeapInuse <= cur || heapMax.CompareAndSwap(cur, m.HeapInuse) {
				return
			}
		}
	}
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	defer func() { close(stop); sampler.Wait() }()

	b.startPhase()
	start := time.Now()
	var next atomic.Int64
	var pages atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := sha256.New()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				l, err := letterOf(i)
				if err == nil {
					h.Reset()
					var p int
					p, err = letters.Render(h, l)
					pages.Add(int64(p))
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				if i%1000 == 0 {
					b.progress("letters: %d/%d rendered", i, n)
				}
			}
		}()
	}
	wg.Wait()
	b.progressDone()
	if firstErr != nil {
		return firstErr
	}
	secs := time.Since(start).Seconds()
	sample()
	b.record(ctx, Phase{Name: "letters (2-page PDF rendered and hashed)", Count: n, Seconds: secs,
		Note: fmt.Sprintf("%.1f pages per letter; peak heap in use %.0f MB", float64(pages.Load())/float64(n), float64(heapMax.Load())/(1<<20))})

	// The cut-off: every letter streamed into one merged PDF on disk.
	f, err := os.CreateTemp("", "courrier-bench-batch-*.pdf")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	heapMax.Store(0)
	b.startPhase()
	start = time.Now()
	pw, err := letters.NewWriter(f, date)
	if err != nil {
		return err
	}
	for i := range n {
		l, err := letterOf(i)
		if err != nil {
			return err
		}
		if letters.AddLetter(pw, l)%2 == 1 {
			letters.AddBlankPage(pw)
		}
		if i%1000 == 0 {
			b.progress("letters: %d/%d merged", i, n)
		}
	}
	if err := pw.Close(); err != nil {
		return err
	}
	b.progressDone()
	secs = time.Since(start).Seconds()
	sample()
	st, _ := f.Stat()
	b.record(ctx, Phase{Name: "letters merged batch PDF (one file, streamed)", Count: n, Seconds: secs,
		Note: fmt.Sprintf("%d pages, %.0f MB file; peak heap in use %.0f MB", pw.PageCount(), float64(st.Size())/(1<<20), float64(heapMax.Load())/(1<<20))})
	return nil
}
