package letters

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// PrintHouse is where batches go and receipts come from. An implementation
// for a print service's API (La Poste's Maileva, see docs/print-house.md)
// satisfies it without touching the batch logic.
type PrintHouse interface {
	// Name is recorded with the batch ("sftp print.example.fr", "dropdir").
	Name() string
	// Put hands the batch's files over, in order (the checksum file last).
	// It is atomic per file and resumable: after a crash, a second Put
	// finishes the batch without loss or duplicate.
	Put(ctx context.Context, batchID string, files []string) error
	// Receipts lists the receipt files waiting to be read, oldest name first.
	Receipts(ctx context.Context) ([]string, error)
	// Fetch reads one receipt file.
	Fetch(ctx context.Context, name string) ([]byte, error)
	// Done archives a receipt file once it has been recorded.
	Done(ctx context.Context, name string) error
}

// The remote layout, the same over SFTP and in a drop directory:
//
//	in/<batch id>/<file>        batches, written as <file>.part then renamed
//	out/<file>.csv              receipts from the print house (ack-*, returned-*)
//	out/done/<file>.csv         receipts already recorded
const (
	dirIn   = "in"
	dirOut  = "out"
	dirDone = "out/done"
)

// remoteFS is the little a print house's file system must offer.
type remoteFS interface {
	MkdirAll(p string) error
	Size(p string) (int64, bool, error) // size and existence
	// Append opens p for writing at its end, creating it, and returns its size.
	Append(p string) (io.WriteCloser, int64, error)
	Truncate(p string) error
	Rename(from, to string) error
	List(dir string) ([]string, error) // regular files
	ReadFile(p string) ([]byte, error)
}

// putFiles uploads files to in/<batch>: a file already there with the local
// size is skipped; a <file>.part left by a crash is continued from its size
// (or restarted if longer than the local file) and renamed.
func putFiles(ctx context.Context, fsys remoteFS, root, batchID string, files []string) error {
	dir := path.Join(root, dirIn, batchID)
	if err := fsys.MkdirAll(dir); err != nil {
		return err
	}
	for _, local := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := putFile(fsys, local, path.Join(dir, filepath.Base(local))); err != nil {
			return fmt.Errorf("upload %s: %w", filepath.Base(local), err)
		}
	}
	return nil
}

func putFile(fsys remoteFS, local, remote string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if size, ok, err := fsys.Size(remote); err != nil {
		return err
	} else if ok && size == st.Size() {
		return nil // already there
	}
	part := remote + ".part"
	if size, ok, err := fsys.Size(part); err != nil {
		return err
	} else if ok && size > st.Size() {
		if err := fsys.Truncate(part); err != nil {
			return err
		}
	}
	w, at, err := fsys.Append(part)
	if err != nil {
		return err
	}
	if _, err := f.Seek(at, io.SeekStart); err != nil {
		w.Close()
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if size, _, err := fsys.Size(part); err != nil {
		return err
	} else if size != st.Size() {
		return fmt.Errorf("%s: %d bytes uploaded, %d expected", part, size, st.Size())
	}
	return fsys.Rename(part, remote)
}

func listReceipts(fsys remoteFS, root string) ([]string, error) {
	names, err := fsys.List(path.Join(root, dirOut))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, ".csv") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("receipt name %q: want a plain file name", name)
	}
	return nil
}

// DropDir is a print house on the same network that reads batches from and
// writes receipts to a shared directory.
type DropDir struct{ Dir string }

var _ PrintHouse = (*DropDir)(nil)

// Name is "dropdir <dir>".
func (d *DropDir) Name() string { return "dropdir " + d.Dir }

// Put copies the batch to Dir/in/<batch>.
func (d *DropDir) Put(ctx context.Context, batchID string, files []string) error {
	return putFiles(ctx, osFS{}, d.Dir, batchID, files)
}

// Receipts lists Dir/out/*.csv.
func (d *DropDir) Receipts(ctx context.Context) ([]string, error) { return listReceipts(osFS{}, d.Dir) }

// Fetch reads Dir/out/name.
func (d *DropDir) Fetch(ctx context.Context, name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(d.Dir, dirOut, name))
}

// Done moves Dir/out/name to Dir/out/done.
func (d *DropDir) Done(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(d.Dir, dirDone), 0o750); err != nil {
		return err
	}
	return os.Rename(filepath.Join(d.Dir, dirOut, name), filepath.Join(d.Dir, dirDone, name))
}

type osFS struct{}

func (osFS) MkdirAll(p string) error { return os.MkdirAll(p, 0o750) }
func (osFS) Size(p string) (int64, bool, error) {
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return st.Size(), true, nil
}
func (osFS) Append(p string) (io.WriteCloser, int64, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return syncCloser{f}, st.Size(), nil
}
func (osFS) Truncate(p string) error      { return os.Truncate(p, 0) }
func (osFS) Rename(from, to string) error { return os.Rename(from, to) }
func (osFS) List(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var out []string
	for _, e := range es {
		if e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	return out, err
}
func (osFS) ReadFile(p string) ([]byte, error) { return os.ReadFile(p) }

type syncCloser struct{ f *os.File }

func (s syncCloser) Write(p []byte) (int, error) { return s.f.Write(p) }
func (s syncCloser) Close() error {
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return err
	}
	return s.f.Close()
}
