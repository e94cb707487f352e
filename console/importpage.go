package console

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/staff"
)

// MaxUploadBytes bounds a CSV uploaded in the console.
const MaxUploadBytes = 20 << 20

func (c *Console) importRoutes(page func(string, staff.Permission, func(http.ResponseWriter, *http.Request, *staff.Session))) {
	page("GET /import", staff.PermImport, c.importPage)
	page("POST /import", staff.PermImport, c.importCheck)
	page("POST /import/confirm", staff.PermImport, c.importConfirm)
}

type importView struct {
	Filename string
	Token    string
	Summary  *recipients.ImportSummary
	Error    string
	Done     bool
}

func (c *Console) importPage(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	c.render(w, r, s, http.StatusOK, "import", "Importer des allocataires (CSV)", importView{})
}

// importCheck runs the import as a dry run (nothing written) and shows the
// per-row errors; the file waits in console_uploads for the confirmation.
func (c *Console) importCheck(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	ctx := r.Context()
	f, hdr, err := r.FormFile("file")
	if err != nil {
		c.render(w, r, s, http.StatusBadRequest, "import", "Importer des allocataires (CSV)", importView{Error: "Choisissez un fichier CSV."})
		return
	}
	content, err := io.ReadAll(io.LimitReader(f, MaxUploadBytes+1))
	f.Close()
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := importView{Filename: hdr.Filename}
	if len(content) > MaxUploadBytes {
		v.Error = fmt.Sprintf("Fichier trop volumineux (plus de %d Mo) : utilisez « courrier import ».", MaxUploadBytes>>20)
		c.render(w, r, s, http.StatusRequestEntityTooLarge, "import", "Importer des allocataires (CSV)", v)
		return
	}
	v.Summary, err = recipients.Import(ctx, c.DB, bytes.NewReader(content), recipients.ImportOpts{DryRun: true})
	var fe *recipients.FileError
	if errors.As(err, &fe) {
		v.Error = "Fichier refusé : " + fe.Error()
		c.render(w, r, s, http.StatusBadRequest, "import", "Importer des allocataires (CSV)", v)
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v.Token = newKey()
	h := sha256.Sum256([]byte(v.Token))
	if _, err := c.DB.Exec(ctx, `INSERT INTO console_uploads (token_hash, account_id, filename, content) VALUES ($1, $2, $3, $4)`,
		h[:], s.Account.ID, hdr.Filename, content); err != nil {
		c.fail(w, r, s, err)
		return
	}
	_ = staff.Record(ctx, c.DB, s.Account, "import_checked", "", fmt.Sprintf("%d rows, %d rejected", v.Summary.Rows, v.Summary.Rejected))
	c.render(w, r, s, http.StatusOK, "import", "Importer des allocataires (CSV)", v)
}

// importConfirm imports the checked file (valid rows; rejected rows are
// skipped, as the preview said) and deletes it.
func (c *Console) importConfirm(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	ctx := r.Context()
	h := sha256.Sum256([]byte(r.PostFormValue("token")))
	var content []byte
	var filename string
	err := c.DB.QueryRow(ctx, `DELETE FROM console_uploads WHERE token_hash = $1 AND account_id = $2
		AND created_at > now() - interval '1 day' RETURNING filename, content`, h[:], s.Account.ID).Scan(&filename, &content)
	if errors.Is(err, pgx.ErrNoRows) {
		c.render(w, r, s, http.StatusNotFound, "import", "Importer des allocataires (CSV)",
			importView{Error: "Ce fichier a déjà été importé ou a expiré : déposez-le à nouveau."})
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	sum, err := recipients.Import(ctx, c.DB, bytes.NewReader(content), recipients.ImportOpts{Actor: s.Account.Actor()})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if err := staff.Record(ctx, c.DB, s.Account, "import", "", fmt.Sprintf("%d inserted, %d updated, %d rejected",
		sum.Inserted, sum.Updated, sum.Rejected)); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "import", "Importer des allocataires (CSV)", importView{Filename: filename, Summary: sum, Done: true})
}
