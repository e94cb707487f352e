package letters

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// SFTPConfig configures the SFTP print house.
type SFTPConfig struct {
	Addr string // host:port
	User string
	// Key is the client's private key (PEM or OpenSSH format), read from a
	// key file: never from the database, never logged.
	Key []byte
	// HostKey pins the server: its public key in authorized_keys form
	// ("ssh-ed25519 AAAA…"). Any other key is refused.
	HostKey string
	Dir     string // remote root holding in/ and out/
	Timeout time.Duration
}

// SFTP is a print house reached over SFTP with key authentication and a
// pinned host key. It connects on first use and again after an error.
type SFTP struct {
	cfg    SFTPConfig
	signer ssh.Signer
	host   ssh.PublicKey

	mu     sync.Mutex
	conn   *ssh.Client
	client *sftp.Client
}

var _ PrintHouse = (*SFTP)(nil)

// NewSFTP checks cfg; it does not connect.
func NewSFTP(cfg SFTPConfig) (*SFTP, error) {
	if cfg.Addr == "" || cfg.User == "" {
		return nil, errors.New("sftp print house: address and user are required")
	}
	signer, err := ssh.ParsePrivateKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("sftp print house: private key: %w", err)
	}
	host, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(cfg.HostKey)))
	if err != nil {
		return nil, fmt.Errorf("sftp print house: host key (want \"ssh-ed25519 AAAA…\"): %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SFTP{cfg: cfg, signer: signer, host: host}, nil
}

// Name is "sftp user@addr".
func (s *SFTP) Name() string { return "sftp " + s.cfg.User + "@" + s.cfg.Addr }

func (s *SFTP) fs(ctx context.Context) (*sftpFS, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return &sftpFS{c: s.client}, nil
	}
	d := net.Dialer{Timeout: s.cfg.Timeout}
	nc, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, err
	}
	c, chans, reqs, err := ssh.NewClientConn(nc, s.cfg.Addr, &ssh.ClientConfig{
		User: s.cfg.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(s.signer)},
		HostKeyCallback: ssh.FixedHostKey(s.host), Timeout: s.cfg.Timeout,
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	s.conn = ssh.NewClient(c, chans, reqs)
	s.client, err = sftp.NewClient(s.conn)
	if err != nil {
		s.conn.Close()
		s.conn = nil
		return nil, err
	}
	return &sftpFS{c: s.client}, nil
}

// reset drops the connection after an error so the next call reconnects.
func (s *SFTP) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		s.client.Close()
	}
	if s.conn != nil {
		s.conn.Close()
	}
	s.client, s.conn = nil, nil
}

// Close closes the connection.
func (s *SFTP) Close() error { s.reset(); return nil }

func (s *SFTP) do(ctx context.Context, f func(*sftpFS) error) error {
	fsys, err := s.fs(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name(), err)
	}
	if err := f(fsys); err != nil {
		s.reset()
		return fmt.Errorf("%s: %w", s.Name(), err)
	}
	return nil
}

// Put uploads the batch to Dir/in/<batch>.
func (s *SFTP) Put(ctx context.Context, batchID string, files []string) error {
	return s.do(ctx, func(f *sftpFS) error { return putFiles(ctx, f, s.cfg.Dir, batchID, files) })
}

// Receipts lists Dir/out/*.csv.
func (s *SFTP) Receipts(ctx context.Context) (names []string, err error) {
	err = s.do(ctx, func(f *sftpFS) error { names, err = listReceipts(f, s.cfg.Dir); return err })
	return names, err
}

// Fetch reads Dir/out/name.
func (s *SFTP) Fetch(ctx context.Context, name string) (b []byte, err error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	err = s.do(ctx, func(f *sftpFS) error { b, err = f.ReadFile(path.Join(s.cfg.Dir, dirOut, name)); return err })
	return b, err
}

// Done moves Dir/out/name to Dir/out/done.
func (s *SFTP) Done(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return s.do(ctx, func(f *sftpFS) error {
		if err := f.MkdirAll(path.Join(s.cfg.Dir, dirDone)); err != nil {
			return err
		}
		return f.Rename(path.Join(s.cfg.Dir, dirOut, name), path.Join(s.cfg.Dir, dirDone, name))
	})
}

type sftpFS struct{ c *sftp.Client }

func (f *sftpFS) MkdirAll(p string) error { return f.c.MkdirAll(p) }
func (f *sftpFS) Size(p string) (int64, bool, error) {
	st, err := f.c.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return st.Size(), true, nil
}
func (f *sftpFS) Append(p string) (io.WriteCloser, int64, error) {
	file, err := f.c.OpenFile(p, os.O_WRONLY|os.O_CREATE)
	if err != nil {
		return nil, 0, err
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, 0, err
	}
	if _, err := file.Seek(st.Size(), io.SeekStart); err != nil {
		file.Close()
		return nil, 0, err
	}
	return file, st.Size(), nil
}
func (f *sftpFS) Truncate(p string) error { return f.c.Truncate(p, 0) }
func (f *sftpFS) Rename(from, to string) error {
	if _, ok := f.c.HasExtension("posix-rename@openssh.com"); ok {
		return f.c.PosixRename(from, to)
	}
	return f.c.Rename(from, to)
}
func (f *sftpFS) List(dir string) ([]string, error) {
	es, err := f.c.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if e.Mode().IsRegular() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
func (f *sftpFS) ReadFile(p string) ([]byte, error) {
	file, err := f.c.Open(p)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return io.ReadAll(io.LimitReader(file, 64<<20))
}
