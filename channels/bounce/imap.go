package bounce

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// IMAPConfig configures the poller of a bounce mailbox.
type IMAPConfig struct {
	Addr     string // host:port
	Security string // tls (default, port 993), starttls, or none (loopback tests only)
	Username string
	Password string
	Mailbox  string // default INBOX
	// Flag marks a message processed; the poller only fetches messages
	// without it (default $CourrierProcessed, a keyword, so that a person
	// reading the mailbox does not hide bounces from courrier).
	Flag string
	// MoveTo, when set, is where processed messages are moved after being
	// flagged (e.g. "Processed"); it must exist.
	MoveTo string
	// Interval between polls (default 30 s); Batch messages per FETCH
	// (default 200); MaxMessageBytes larger messages are flagged unread
	// (default 1 MiB).
	Interval time.Duration
	Batch    int
	// Parallelism is how many messages of a batch are recorded at once
	// (default 32); hard bounces recorded at once share a transaction.
	Parallelism     int
	MaxMessageBytes int64
	Timeout         time.Duration // per IMAP read or write (default 60 s)
	TLSConfig       *tls.Config
	Handler         Handler
	Logger          *slog.Logger
}

// Poller reads a bounce mailbox. Each message is handed to the Handler with
// its IMAPKey; the Handler records the key in the same transaction as the
// bounce, so a crash between recording and flagging never records twice.
// Only after the Handler returns is the message flagged (and moved).
type Poller struct {
	Counters
	cfg IMAPConfig
}

// NewPoller returns a poller for cfg.
func NewPoller(cfg IMAPConfig) (*Poller, error) {
	if cfg.Addr == "" || cfg.Handler == nil {
		return nil, errors.New("bounce IMAP poller: address and Handler are required")
	}
	switch cfg.Security {
	case "":
		cfg.Security = "tls"
	case "tls", "starttls", "none":
	default:
		return nil, fmt.Errorf("bounce IMAP security %q: use tls, starttls or none", cfg.Security)
	}
	if cfg.Mailbox == "" {
		cfg.Mailbox = "INBOX"
	}
	if cfg.Flag == "" {
		cfg.Flag = "$CourrierProcessed"
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 200
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = 32
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 1 << 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Poller{cfg: cfg}, nil
}

// Run polls until ctx ends. Errors are logged and the next poll retries.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := p.PollOnce(ctx); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Warn("bounce mailbox poll failed", "mailbox", p.cfg.Mailbox, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (p *Poller) dial() (*imapclient.Client, error) {
	opts := &imapclient.Options{TLSConfig: p.cfg.TLSConfig}
	switch p.cfg.Security {
	case "none":
		return imapclient.DialInsecure(p.cfg.Addr, opts)
	case "starttls":
		return imapclient.DialStartTLS(p.cfg.Addr, opts)
	}
	return imapclient.DialTLS(p.cfg.Addr, opts)
}

// PollOnce processes every unprocessed message of the mailbox and returns
// how many the Handler recorded.
func (p *Poller) PollOnce(ctx context.Context) (int, error) {
	c, err := p.dial()
	if err != nil {
		return 0, fmt.Errorf("connect to IMAP server: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Login(p.cfg.Username, p.cfg.Password).Wait(); err != nil {
		return 0, errors.New("IMAP login failed") // the error may echo the user name
	}
	sel, err := c.Select(p.cfg.Mailbox, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("select %s: %w", p.cfg.Mailbox, err)
	}
	search, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.Flag(p.cfg.Flag)}}, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("search %s: %w", p.cfg.Mailbox, err)
	}
	uids := search.AllUIDs()
	done := 0
	for start := 0; start < len(uids); start += p.cfg.Batch {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		chunk := uids[start:min(start+p.cfg.Batch, len(uids))]
		n, err := p.batch(ctx, c, sel.UIDValidity, chunk)
		done += n
		if err != nil {
			return done, err
		}
	}
	_ = c.Logout().Wait()
	return done, nil
}

func (p *Poller) batch(ctx context.Context, c *imapclient.Client, validity uint32, uids []imap.UID) (int, error) {
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{
		UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{section},
	}).Collect()
	if err != nil {
		return 0, fmt.Errorf("fetch %d messages: %w", len(uids), err)
	}
	done := make([]bool, len(msgs))
	sem := make(chan struct{}, p.cfg.Parallelism)
	var wg sync.WaitGroup
	for i, m := range msgs {
		raw := m.FindBodySection(section)
		if int64(len(raw)) > p.cfg.MaxMessageBytes {
			p.Refused.Add(1)
			done[i] = true // never handled; flagged so that it is not fetched again
			continue
		}
		key := IMAPKey{Mailbox: p.cfg.Mailbox, UIDValidity: validity, UID: uint32(m.UID)}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := p.cfg.Handler(ctx, Inbound{Raw: raw, IMAP: &key}); err != nil {
				p.Failed.Add(1)
				p.cfg.Logger.Warn("bounce not recorded; left for the next poll", "uid", key.UID, "error", err)
				return
			}
			p.Received.Add(1)
			done[i] = true
		}()
	}
	wg.Wait()
	var ok imap.UIDSet
	recorded := 0
	for i, m := range msgs {
		if done[i] {
			ok.AddNum(m.UID)
			if int64(len(m.FindBodySection(section))) <= p.cfg.MaxMessageBytes {
				recorded++
			}
		}
	}
	if len(ok) == 0 {
		return recorded, nil
	}
	if err := c.Store(ok, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.Flag(p.cfg.Flag)}}, nil).Close(); err != nil {
		return recorded, fmt.Errorf("flag processed messages: %w", err)
	}
	if p.cfg.MoveTo != "" {
		if _, err := c.Move(ok, p.cfg.MoveTo).Wait(); err != nil {
			return recorded, fmt.Errorf("move processed messages to %s: %w", p.cfg.MoveTo, err)
		}
	}
	return recorded, nil
}
