package letters

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshServer is Debian's OpenSSH sshd started for one test on a loopback
// port, with a throwaway host key and a throwaway client key.
type sshServer struct {
	addr, user, hostKey string
	clientKey           []byte
}

func newKey(t *testing.T) (ssh.PublicKey, []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp, pem.EncodeToMemory(block)
}

func startSSHD(t *testing.T) *sshServer {
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		sshd = "/usr/sbin/sshd"
	}
	sftpServer := "/usr/lib/openssh/sftp-server"
	for _, p := range []string{sshd, sftpServer} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s missing: install openssh-server (.ci/run does)", p)
		}
	}
	dir := t.TempDir()
	hostPub, hostPriv := newKey(t)
	clientPub, clientPriv := newKey(t)
	hostKeyFile := filepath.Join(dir, "host_ed25519")
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(hostKeyFile, hostPriv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(authKeys, ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd's privilege separation directory (absent until the service runs).
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	var logs bytes.Buffer
	cmd := exec.Command(sshd, "-D", "-e", "-f", "/dev/null", "-p", port, "-h", hostKeyFile,
		"-o", "ListenAddress=127.0.0.1", "-o", "AuthorizedKeysFile="+authKeys, "-o", "StrictModes=no",
		"-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no", "-o", "UsePAM=no",
		"-o", "PermitRootLogin=prohibit-password", "-o", "PidFile=none",
		"-o", "Subsystem=sftp "+sftpServer)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", logs.String())
		}
	})
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i == 200 {
			t.Fatalf("sshd did not listen: %v\n%s", err, logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return &sshServer{addr: addr, user: u.Username, hostKey: string(ssh.MarshalAuthorizedKey(hostPub)), clientKey: clientPriv}
}

func batchFiles(t *testing.T) (dir string, files []string) {
	t.Helper()
	dir = t.TempDir()
	for i, name := range []string{"B1-lettre_verte-001.pdf", "manifest.csv", ChecksumFile} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte('a' + i)}, 100_000+i), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	return dir, files
}

// TestSFTPHandoverResumes hands a batch over to a real sshd, then a second
// batch whose upload "crashed": one file fully uploaded but not renamed,
// one half uploaded, one longer than the local file. Put finishes all three
// without loss or duplicate; receipts are listed, read and archived.
func TestSFTPHandoverResumes(t *testing.T) {
	t.Parallel()
	srv := startSSHD(t)
	remote := t.TempDir()
	house, err := NewSFTP(SFTPConfig{Addr: srv.addr, User: srv.user, Key: srv.clientKey, HostKey: srv.hostKey, Dir: remote})
	if err != nil {
		t.Fatal(err)
	}
	defer house.Close()
	ctx := context.Background()
	_, files := batchFiles(t)
	if err := house.Put(ctx, "B1", files); err != nil {
		t.Fatal(err)
	}
	checkRemote(t, filepath.Join(remote, "in", "B1"), files)

	// The crash: what a killed upload leaves behind.
	in2 := filepath.Join(remote, "in", "B2")
	if err := os.MkdirAll(in2, 0o755); err != nil {
		t.Fatal(err)
	}
	whole, _ := os.ReadFile(files[0])
	half, _ := os.ReadFile(files[1])
	_ = os.WriteFile(filepath.Join(in2, filepath.Base(files[0])+".part"), whole, 0o644)              // uploaded, not renamed
	_ = os.WriteFile(filepath.Join(in2, filepath.Base(files[1])+".part"), half[:len(half)/2], 0o644) // half
	_ = os.WriteFile(filepath.Join(in2, filepath.Base(files[2])+".part"), bytes.Repeat([]byte("z"), 200_000), 0o644)
	if err := house.Put(ctx, "B2", files); err != nil {
		t.Fatal(err)
	}
	checkRemote(t, in2, files)
	// A second Put of a handed batch changes nothing.
	if err := house.Put(ctx, "B2", files); err != nil {
		t.Fatal(err)
	}
	checkRemote(t, in2, files)

	out := filepath.Join(remote, "out")
	_ = os.MkdirAll(out, 0o755)
	_ = os.WriteFile(filepath.Join(out, "ack-B1.csv"), []byte("batch_id,letter_id,status,date\n"), 0o644)
	_ = os.WriteFile(filepath.Join(out, "notes.txt"), []byte("ignored"), 0o644)
	names, err := house.Receipts(ctx)
	if err != nil || len(names) != 1 || names[0] != "ack-B1.csv" {
		t.Fatalf("receipts %v, %v", names, err)
	}
	b, err := house.Fetch(ctx, names[0])
	if err != nil || !strings.HasPrefix(string(b), "batch_id,") {
		t.Fatalf("fetch: %q, %v", b, err)
	}
	if err := house.Done(ctx, names[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "done", "ack-B1.csv")); err != nil {
		t.Fatalf("receipt not archived: %v", err)
	}
	if _, err := house.Fetch(ctx, "../in/B1/manifest.csv"); err == nil {
		t.Fatal("a receipt name with a path was accepted")
	}
}

// TestSFTPRefusesUnknownHostKey: a server whose key is not the pinned one is
// never sent a byte.
func TestSFTPRefusesUnknownHostKey(t *testing.T) {
	t.Parallel()
	srv := startSSHD(t)
	other, _ := newKey(t)
	house, err := NewSFTP(SFTPConfig{Addr: srv.addr, User: srv.user, Key: srv.clientKey,
		HostKey: string(ssh.MarshalAuthorizedKey(other)), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, files := batchFiles(t)
	err = house.Put(context.Background(), "B1", files)
	if err == nil || !strings.Contains(err.Error(), "host key") {
		t.Fatalf("Put with a wrong host key: %v", err)
	}
}

// TestDropDirResumes is the same crash on a drop directory.
func TestDropDirResumes(t *testing.T) {
	t.Parallel()
	d := &DropDir{Dir: t.TempDir()}
	_, files := batchFiles(t)
	in := filepath.Join(d.Dir, "in", "B3")
	_ = os.MkdirAll(in, 0o755)
	whole, _ := os.ReadFile(files[0])
	_ = os.WriteFile(filepath.Join(in, filepath.Base(files[0])+".part"), whole[:1000], 0o644)
	if err := d.Put(context.Background(), "B3", files); err != nil {
		t.Fatal(err)
	}
	checkRemote(t, in, files)
}

func checkRemote(t *testing.T, dir string, files []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(files) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("remote holds %v, want exactly the %d batch files", names, len(files))
	}
	for _, f := range files {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join(dir, filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes remote, %d local (%v)", filepath.Base(f), len(got), len(want), err)
		}
	}
}

func TestCutoff(t *testing.T) {
	t.Parallel()
	at := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, paris) }
	c := DefaultCutoff
	for _, tc := range []struct {
		name      string
		now, next time.Time
		last      time.Time
	}{
		{"Friday before the cut-off", at(2026, 12, 4, 15, 59), at(2026, 12, 4, 16, 0), at(2026, 12, 3, 16, 0)},
		{"Friday 16:00 is the cut-off; next is Monday", at(2026, 12, 4, 16, 0), at(2026, 12, 7, 16, 0), at(2026, 12, 4, 16, 0)},
		{"Saturday belongs to Friday's", at(2026, 12, 5, 10, 0), at(2026, 12, 7, 16, 0), at(2026, 12, 4, 16, 0)},
		{"Christmas (Friday) skipped", at(2026, 12, 24, 17, 0), at(2026, 12, 28, 16, 0), at(2026, 12, 24, 16, 0)},
		{"Easter Monday skipped", at(2027, 3, 26, 16, 30), at(2027, 3, 30, 16, 0), at(2027, 3, 26, 16, 0)},
		{"14 July (Wednesday) skipped", at(2027, 7, 13, 16, 0), at(2027, 7, 15, 16, 0), at(2027, 7, 13, 16, 0)},
	} {
		if got := c.Next(tc.now); !got.Equal(tc.next) {
			t.Errorf("%s: Next(%v) = %v, want %v", tc.name, tc.now, got, tc.next)
		}
		if got := c.Last(tc.now); !got.Equal(tc.last) {
			t.Errorf("%s: Last(%v) = %v, want %v", tc.name, tc.now, got, tc.last)
		}
	}
	if _, err := ParseCutoff("25:00"); err == nil {
		t.Error("ParseCutoff accepted 25:00")
	}
	if got, _ := ParseCutoff("15:30"); got != (Cutoff{Hour: 15, Minute: 30}) {
		t.Errorf("ParseCutoff(15:30) = %v", got)
	}
}
