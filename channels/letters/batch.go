package letters

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BatchConfig configures RunBatch.
type BatchConfig struct {
	Pool *pgxpool.Pool
	// SpoolDir is the letter channel's spool; batches are built in
	// SpoolDir/batches/<batch id>.
	SpoolDir string
	House    PrintHouse
	// MaxLettersPerFile splits a postage class into several PDFs (default
	// 5,000 letters, about 10,000 pages).
	MaxLettersPerFile int
	// KeepPDF keeps each letter's PDF and the batch's files in the spool
	// after the handover (the render input is always removed).
	KeepPDF bool
	Now     func() time.Time
}

func (c *BatchConfig) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Files of a batch besides its PDFs. ChecksumFile is uploaded last: its
// presence tells the print house that the batch is complete.
const (
	ManifestCSV  = "manifest.csv"
	ManifestJSON = "manifest.json"
	ChecksumFile = "SHA256SUMS"
)

// BatchID names the batch of a cut-off: "B20261204-160000" (Paris time).
func BatchID(cutoff time.Time) string { return "B" + cutoff.In(paris).Format("20060102-150405") }

// RunBatch first finishes any batch a crash left unfinished, then gathers
// the letters queued at or before cutoff into a new batch, builds its files
// (one merged PDF per postage class, manifests, checksums) and hands it to
// the print house. It returns the batches it handed (none when no letter
// was waiting).
func RunBatch(ctx context.Context, cfg BatchConfig, cutoff time.Time) ([]Batch, error) {
	if cfg.House == nil {
		return nil, errors.New("run batch: no print house configured")
	}
	var pending []string
	rows, err := cfg.Pool.Query(ctx, `SELECT id FROM print_batches WHERE state <> 'handed' ORDER BY cutoff_at, id`)
	if err != nil {
		return nil, fmt.Errorf("run batch: %w", err)
	}
	pending, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("run batch: %w", err)
	}
	id, err := gather(ctx, cfg, cutoff)
	if err != nil {
		return nil, err
	}
	if id != "" {
		pending = append(pending, id)
	}
	var out []Batch
	for _, id := range pending {
		b, err := finish(ctx, cfg, id)
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
	return out, nil
}

// gather creates the batch of cutoff with every letter queued at or before
// it, and records print_queued for each. It returns "" when none waits.
func gather(ctx context.Context, cfg BatchConfig, cutoff time.Time) (string, error) {
	var id string
	err := pgx.BeginFunc(ctx, cfg.Pool, func(tx pgx.Tx) error {
		var waiting bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM letters WHERE state = 'queued' AND created_at <= $1)`, cutoff).Scan(&waiting); err != nil {
			return err
		}
		if !waiting {
			return nil
		}
		base := BatchID(cutoff)
		for n := 1; ; n++ {
			id = base
			if n > 1 {
				id = base + "-" + strconv.Itoa(n) // a second run for the same cut-off
			}
			tag, err := tx.Exec(ctx, `INSERT INTO print_batches (id, cutoff_at, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
				id, cutoff, cfg.now())
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				break
			}
		}
		rows, err := tx.Query(ctx, `
			UPDATE letters SET state = 'batched', batch_id = $1, updated_at = now()
			WHERE state = 'queued' AND created_at <= $2
			RETURNING delivery_id, notice_id, pdf_sha256`, id, cutoff)
		if err != nil {
			return err
		}
		ls, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (letterRef, error) {
			var l letterRef
			return l, r.Scan(&l.DeliveryID, &l.NoticeID, &l.SHA256)
		})
		if err != nil {
			return err
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i].DeliveryID < ls[j].DeliveryID })
		return ledgerQueued(ctx, tx, id, ls, cfg.now())
	})
	if err != nil {
		return "", fmt.Errorf("gather batch: %w", err)
	}
	return id, nil
}

func finish(ctx context.Context, cfg BatchConfig, id string) (Batch, error) {
	var state string
	if err := cfg.Pool.QueryRow(ctx, `SELECT state FROM print_batches WHERE id = $1`, id).Scan(&state); err != nil {
		return Batch{}, fmt.Errorf("batch %s: %w", id, err)
	}
	dir := filepath.Join(cfg.SpoolDir, "batches", id)
	if state == "building" {
		if err := build(ctx, cfg, id, dir); err != nil {
			return Batch{}, fmt.Errorf("build batch %s: %w", id, err)
		}
	}
	if err := hand(ctx, cfg, id, dir); err != nil {
		return Batch{}, fmt.Errorf("hand batch %s to %s: %w", id, cfg.House.Name(), err)
	}
	bs, err := Batches(ctx, cfg.Pool, 1000)
	if err != nil {
		return Batch{}, err
	}
	for _, b := range bs {
		if b.ID == id {
			return b, nil
		}
	}
	return Batch{}, ErrNoBatch
}

// fileSum is one file of a batch with its totals.
type fileSum struct {
	Name    string `json:"name"`
	Postage string `json:"postage,omitempty"`
	Letters int    `json:"letters,omitempty"`
	Pages   int    `json:"pages,omitempty"`
	Sheets  int    `json:"sheets,omitempty"`
	SHA256  string `json:"sha256"`
}

// build writes the batch's files from scratch (a crash mid-build restarts
// it): the letters are read from the spool one at a time and set again into
// the merged PDF of their postage class, after checking that their input
// still renders to the PDF whose hash was recorded. Printing is two-sided:
// a letter with an odd page count gets a blank back, so that every letter
// starts on a new sheet. Memory does not grow with the batch.
func build(ctx context.Context, cfg BatchConfig, id, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	var cutoff time.Time
	if err := cfg.Pool.QueryRow(ctx, `SELECT cutoff_at FROM print_batches WHERE id = $1`, id).Scan(&cutoff); err != nil {
		return err
	}
	rows, err := cfg.Pool.Query(ctx, `SELECT DISTINCT postage FROM letters WHERE batch_id = $1 ORDER BY postage`, id)
	if err != nil {
		return err
	}
	classes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	perFile := cfg.MaxLettersPerFile
	if perFile <= 0 {
		perFile = 5000
	}

	csvF, err := os.Create(filepath.Join(dir, ManifestCSV))
	if err != nil {
		return err
	}
	defer csvF.Close()
	csvH := sha256.New()
	cw := csv.NewWriter(io.MultiWriter(csvF, csvH))
	_ = cw.Write([]string{"batch_id", "letter_id", "notice_id", "postage", "pages", "sheets", "file", "first_page", "sha256"})
	jsonF, err := os.Create(filepath.Join(dir, ManifestJSON))
	if err != nil {
		return err
	}
	defer jsonF.Close()
	jsonH := sha256.New()
	jw := bufio.NewWriter(io.MultiWriter(jsonF, jsonH))
	fmt.Fprintf(jw, "{\n  \"batch_id\": %q,\n  \"cutoff_at\": %q,\n  \"duplex\": true,\n  \"letters\": [", id, cutoff.UTC().Format(time.RFC3339))

	var files []fileSum
	totals := struct{ letters, pages, sheets int }{}
	first := true
	for _, class := range classes {
		var after int64
		part := 0
		var cur *pdfPart
		for {
			page, err := batchLetters(ctx, cfg.Pool, id, class, after, 500)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			var upd struct {
				ids   []int64
				files []string
				first []int
			}
			for i := range page {
				r := &page[i]
				if cur == nil || cur.letters == perFile {
					if cur != nil {
						fs, err := cur.close()
						if err != nil {
							return err
						}
						files = append(files, fs)
					}
					part++
					if cur, err = newPart(dir, fmt.Sprintf("%s-%s-%03d.pdf", id, class, part), class, cutoff); err != nil {
						return err
					}
				}
				if err := cur.add(r); err != nil {
					return err
				}
				totals.letters++
				totals.pages += r.Pages
				totals.sheets += r.Sheets
				_ = cw.Write([]string{id, r.Ref, strconv.FormatInt(r.NoticeID, 10), class, strconv.Itoa(r.Pages),
					strconv.Itoa(r.Sheets), r.File, strconv.Itoa(r.FirstPage), r.SHA256})
				b, _ := json.Marshal(map[string]any{"letter_id": r.Ref, "notice_id": r.NoticeID, "postage": class,
					"postage_label": PostageLabel(class), "pages": r.Pages, "sheets": r.Sheets, "file": r.File,
					"first_page": r.FirstPage, "sha256": r.SHA256})
				if !first {
					jw.WriteString(",")
				}
				first = false
				jw.WriteString("\n    ")
				jw.Write(b)
				upd.ids = append(upd.ids, r.DeliveryID)
				upd.files = append(upd.files, r.File)
				upd.first = append(upd.first, r.FirstPage)
				after = r.DeliveryID
			}
			if _, err := cfg.Pool.Exec(ctx, `
				UPDATE letters l SET batch_file = v.f, first_page = v.p, updated_at = now()
				FROM unnest($1::bigint[], $2::text[], $3::int[]) AS v(id, f, p) WHERE l.delivery_id = v.id`,
				upd.ids, upd.files, upd.first); err != nil {
				return err
			}
		}
		if cur != nil {
			fs, err := cur.close()
			if err != nil {
				return err
			}
			files = append(files, fs)
		}
	}
	fb, _ := json.MarshalIndent(files, "  ", "  ")
	fmt.Fprintf(jw, "\n  ],\n  \"files\": %s,\n  \"totals\": {\"letters\": %d, \"pages\": %d, \"sheets\": %d}\n}\n",
		fb, totals.letters, totals.pages, totals.sheets)
	if err := jw.Flush(); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := csvF.Sync(); err != nil {
		return err
	}
	if err := jsonF.Sync(); err != nil {
		return err
	}
	manifestSum := hex.EncodeToString(jsonH.Sum(nil))
	files = append(files, fileSum{Name: ManifestCSV, SHA256: hex.EncodeToString(csvH.Sum(nil))},
		fileSum{Name: ManifestJSON, SHA256: manifestSum})
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	err = writeAtomic(filepath.Join(dir, ChecksumFile), func(w io.Writer) error {
		for _, f := range files {
			if _, err := fmt.Fprintf(w, "%s  %s\n", f.SHA256, f.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = cfg.Pool.Exec(ctx, `
		UPDATE print_batches SET state = 'built', letters = $2, pages = $3, sheets = $4, manifest_sha256 = $5, built_at = $6
		WHERE id = $1`, id, totals.letters, totals.pages, totals.sheets, manifestSum, cfg.now())
	return err
}

// pdfPart is one merged PDF being written.
type pdfPart struct {
	f       *os.File
	h       hash.Hash
	pw      *Writer
	name    string
	postage string
	letters int
	pages   int
	sheets  int
}

func newPart(dir, name, postage string, date time.Time) (*pdfPart, error) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	pw, err := NewWriter(io.MultiWriter(f, h), date)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &pdfPart{f: f, h: h, pw: pw, name: name, postage: postage}, nil
}

// add sets r's letter into the part after checking it against its hash.
func (p *pdfPart) add(r *manifestRow) error {
	l, err := readSpooled(r.path[:len(r.path)-len(".pdf")] + ".json")
	if err != nil {
		return fmt.Errorf("letter %s: %w", r.Ref, err)
	}
	h := sha256.New()
	if _, err := Render(h, l); err != nil {
		return err
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != r.SHA256 {
		return fmt.Errorf("letter %s: spooled input renders to %s, recorded %s", r.Ref, sum, r.SHA256)
	}
	r.File, r.FirstPage = p.name, p.pw.PageCount()+1
	n := AddLetter(p.pw, l)
	if n != r.Pages {
		return fmt.Errorf("letter %s: %d pages in the batch, %d recorded", r.Ref, n, r.Pages)
	}
	if n%2 == 1 {
		AddBlankPage(p.pw)
	}
	p.letters++
	p.pages += n
	p.sheets += r.Sheets
	return nil
}

func (p *pdfPart) close() (fileSum, error) {
	if err := p.pw.Close(); err != nil {
		p.f.Close()
		return fileSum{}, err
	}
	if err := p.f.Sync(); err != nil {
		p.f.Close()
		return fileSum{}, err
	}
	if err := p.f.Close(); err != nil {
		return fileSum{}, err
	}
	sum := p.h.Sum(nil)
	return fileSum{Name: p.name, Postage: p.postage, Letters: p.letters, Pages: p.pages, Sheets: p.sheets,
		SHA256: hex.EncodeToString(sum)}, nil
}

// hand uploads the batch's files (checksums last) and records the handover.
func hand(ctx context.Context, cfg BatchConfig, id, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var paths []string
	for _, e := range entries {
		if e.Type().IsRegular() && e.Name() != ChecksumFile && filepath.Ext(e.Name()) != ".tmp" {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(paths)
	paths = append(paths, filepath.Join(dir, ChecksumFile))
	if err := cfg.House.Put(ctx, id, paths); err != nil {
		return err
	}
	var spool []string
	err = pgx.BeginFunc(ctx, cfg.Pool, func(tx pgx.Tx) error {
		now := cfg.now()
		rows, err := tx.Query(ctx, `
			UPDATE letters SET state = 'handed', updated_at = now() WHERE batch_id = $1 AND state = 'batched'
			RETURNING delivery_id, notice_id, pdf_sha256, pdf_path`, id)
		if err != nil {
			return err
		}
		var ls []letterRef
		for rows.Next() {
			var l letterRef
			var p string
			if err := rows.Scan(&l.DeliveryID, &l.NoticeID, &l.SHA256, &p); err != nil {
				rows.Close()
				return err
			}
			ls = append(ls, l)
			spool = append(spool, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i].DeliveryID < ls[j].DeliveryID })
		if err := ledgerHanded(ctx, tx, id, cfg.House.Name(), ls, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE print_batches SET state = 'handed', handed_at = $2, print_house = $3 WHERE id = $1`,
			id, now, cfg.House.Name())
		return err
	})
	if err != nil {
		return err
	}
	// The print house holds the letters now: the local copies (personal
	// data) go, unless KeepPDF asks to keep the PDFs. The ledger keeps the
	// hashes; ReproducePDF renders a letter again while its content is
	// retained.
	for _, p := range spool {
		if !cfg.KeepPDF {
			_ = os.Remove(p)
		}
		_ = os.Remove(p[:len(p)-len(".pdf")] + ".json")
	}
	if !cfg.KeepPDF {
		_ = os.RemoveAll(dir)
	}
	return nil
}
