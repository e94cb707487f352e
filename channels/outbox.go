package channels

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Outbox is the development channel: instead of leaving the building, each
// message becomes a file a person can open. Email is written as an RFC 5322
// .eml file, SMS as JSON, letters as plain text.
type Outbox struct {
	Dir  string
	From string // email From address
}

var _ Channel = (*Outbox)(nil)

// NewOutbox returns an outbox writing under dir (created if needed). The
// outbox holds names, addresses and contacts: its directories are 0700 and
// its files 0600, also when they existed with wider modes.
func NewOutbox(dir, from string) (*Outbox, error) {
	for _, sub := range []Name{Email, SMS, Letter} {
		if err := os.MkdirAll(filepath.Join(dir, string(sub)), 0o700); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
	}
	for _, d := range []string{dir, filepath.Join(dir, string(Email)), filepath.Join(dir, string(SMS)), filepath.Join(dir, string(Letter))} {
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
	}
	if from == "" {
		from = "Caf <ne-pas-repondre@caf.example.fr>"
	}
	if _, err := netmail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("outbox: from address %q: %w", from, err)
	}
	return &Outbox{Dir: dir, From: from}, nil
}

// Send writes msg to a file named after its notice and delivery.
func (o *Outbox) Send(ctx context.Context, msg Message) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, &Error{Class: Transient, Err: err}
	}
	base := fmt.Sprintf("n%d-d%d", msg.NoticeID, msg.DeliveryID)
	var path string
	var err error
	switch msg.Channel {
	case Email:
		path = filepath.Join(o.Dir, string(Email), base+".eml")
		err = o.writeEmail(path, msg)
	case SMS:
		path = filepath.Join(o.Dir, string(SMS), base+".json")
		var b []byte
		b, err = json.MarshalIndent(map[string]any{
			"to": msg.To, "body": msg.Text, "notice_id": msg.NoticeID, "delivery_id": msg.DeliveryID,
			"kind": msg.Kind, "written_at": time.Now().UTC().Format(time.RFC3339), "from": msg.Sender,
		}, "", "  ")
		if err == nil {
			err = writeFileAtomic(path, append(b, '\n'))
		}
	case Letter:
		path = filepath.Join(o.Dir, string(Letter), base+".txt")
		err = writeFileAtomic(path, []byte(msg.To+"\n\n"+msg.Text+"\n"))
	default:
		return Receipt{}, PermanentError("", "outbox: unknown channel %q", msg.Channel)
	}
	if err != nil {
		return Receipt{}, &Error{Class: Transient, Msg: "outbox write failed", Err: err}
	}
	return Receipt{Provider: "outbox", MessageID: filepath.Base(path), Delivered: true, Evidence: "outbox_file"}, nil
}

func (o *Outbox) writeEmail(path string, msg Message) error {
	from, err := netmail.ParseAddress(o.From)
	if err != nil {
		return PermanentError("invalid_message", "outbox from address: %v", err)
	}
	m, _, err := buildMIME(from, nil, from.Address[strings.LastIndexByte(from.Address, '@')+1:], msg)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := m.writeTo(&b); err != nil {
		return err
	}
	return writeFileAtomic(path, b.Bytes())
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
