package letters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courrier-dev/courrier/channels"
)

// ErrNotReproducible is returned when the delivery's content or address
// is no longer kept (retention) or was never stored.
var ErrNotReproducible = errors.New("letter cannot be reproduced: its content or address is no longer kept")

// ReproducePDF renders a letter again from what was kept of it (the
// delivery's address and rendered text, the letter's date and letterhead)
// and reports whether the bytes are those whose SHA-256 was recorded when it
// was queued. Letter PDFs are byte-stable: same input, same bytes (the PDF
// creation date is the letter's date; no random ids).
func ReproducePDF(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, deliveryID int64) (pdf []byte, same bool, err error) {
	var (
		addr, recorded string
		content        []byte
		sender         []byte
		date           time.Time
		noticeID       int64
	)
	err = db.QueryRow(ctx, `
		SELECT d.notice_id, d.address, d.content, l.sender, l.letter_date, l.pdf_sha256
		FROM letters l JOIN deliveries d ON d.id = l.delivery_id WHERE l.delivery_id = $1`, deliveryID).
		Scan(&noticeID, &addr, &content, &sender, &date, &recorded)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fmt.Errorf("letter %s: not found", Ref(deliveryID))
	}
	if err != nil {
		return nil, false, fmt.Errorf("letter %s: %w", Ref(deliveryID), err)
	}
	var c struct{ Subject, Text string }
	if len(content) == 0 || addr == "" || json.Unmarshal(content, &c) != nil || c.Text == "" {
		return nil, false, ErrNotReproducible
	}
	var s Sender
	if err := json.Unmarshal(sender, &s); err != nil {
		return nil, false, fmt.Errorf("letter %s: sender: %w", Ref(deliveryID), err)
	}
	l := FromMessage(channels.Message{NoticeID: noticeID, DeliveryID: deliveryID, To: addr, Subject: c.Subject, Text: c.Text}, s, date)
	pdf, _, err = RenderBytes(l)
	if err != nil {
		return nil, false, err
	}
	sum := sha256.Sum256(pdf)
	return pdf, hex.EncodeToString(sum[:]) == recorded, nil
}
