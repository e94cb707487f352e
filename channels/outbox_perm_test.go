package channels

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The outbox holds personal data: directories 0700, files 0600, also when
// the directory existed with a wider mode.
func TestOutboxIsPrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "outbox")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "email"), 0o755))
	o, err := NewOutbox(dir, "")
	require.NoError(t, err)
	for _, m := range []Message{
		{NoticeID: 1, DeliveryID: 1, Channel: Email, To: "lea@exemple.fr", ToName: "Léa Dupré", Subject: "Objet", Text: "Bonjour"},
		{NoticeID: 2, DeliveryID: 2, Channel: SMS, To: "+33612345678", Text: "Bonjour"},
		{NoticeID: 3, DeliveryID: 3, Channel: Letter, To: "Mme Léa Dupré\n3 rue des Lilas\n75011 PARIS", Text: "Bonjour"},
	} {
		_, err := o.Send(context.Background(), m)
		require.NoError(t, err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "email"), filepath.Join(dir, "sms"), filepath.Join(dir, "letter")} {
		fi, err := os.Stat(d)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), d)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	require.NoError(t, err)
	require.Len(t, files, 3)
	for _, f := range files {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
}
