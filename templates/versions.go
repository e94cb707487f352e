package templates

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DBTX is what SaveVersion and RenderVersion need from the database. It is
// satisfied by pgx.Tx, *pgxpool.Pool and *pgx.Conn.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const insertVersionSQL = `INSERT INTO template_versions (version, key, channel, source)
VALUES ($1, $2, $3, $4)
ON CONFLICT (version) DO NOTHING`

const selectVersionSQL = `SELECT key, channel, source FROM template_versions WHERE version = $1`

// SaveVersion stores the source of the template version r was rendered with,
// unless it is already stored. Versions saved outside a transaction (db is a
// pool or a connection) are remembered, so later calls cost nothing. Inside a
// transaction (db is a pgx.Tx) the row only counts once the transaction
// commits, so the insert is repeated until a call outside one, or SaveAll at
// start-up, has recorded it: a rollback can never leave a rendered message
// whose version is missing.
func (s *Set) SaveVersion(ctx context.Context, db DBTX, r *Rendered) error {
	if _, ok := s.saved.Load(r.Version); ok {
		return nil
	}
	c, ok := s.tmpls[r.Key+"/"+r.Channel]
	if !ok || c.version != r.Version {
		c = s.byVersion(r.Version)
	}
	if c == nil {
		return fmt.Errorf("templates: version %.12s of %s/%s is not in this set", r.Version, r.Key, r.Channel)
	}
	return s.save(ctx, db, c)
}

// SaveAll stores every template version of the set. Call it at start-up with
// a pool: every later SaveVersion of this set is then free, in a transaction
// or not.
func (s *Set) SaveAll(ctx context.Context, db DBTX) error {
	for _, c := range s.tmpls {
		if _, ok := s.saved.Load(c.version); ok {
			continue
		}
		if err := s.save(ctx, db, c); err != nil {
			return err
		}
	}
	return nil
}

func (s *Set) save(ctx context.Context, db DBTX, c *compiled) error {
	if _, err := db.Exec(ctx, insertVersionSQL, c.version, c.key, c.channel, c.source); err != nil {
		return fmt.Errorf("templates: save version %.12s of %s: %w", c.version, c.name(), err)
	}
	if _, inTx := db.(pgx.Tx); !inTx {
		s.saved.Store(c.version, struct{}{})
	}
	return nil
}

func (s *Set) byVersion(v string) *compiled {
	for _, c := range s.tmpls {
		if c.version == v {
			return c
		}
	}
	return nil
}

// ErrUnknownVersion is returned by RenderVersion for a version that was never
// stored.
var ErrUnknownVersion = errors.New("templates: unknown template version")

// stored caches versions compiled from the database: their source never
// changes, so neither does the compiled template.
var stored sync.Map // version → *compiled

// RenderVersion re-renders a message from the stored source of version, with
// the same data and agency, reproducing the text that was sent. The source's
// hash is checked against version before use.
func RenderVersion(ctx context.Context, db DBTX, version string, in Input, agency Agency) (*Rendered, error) {
	if in.Agency != nil {
		agency = *in.Agency
	}
	if v, ok := stored.Load(version); ok {
		return v.(*compiled).render(in, agency.withDefaults())
	}
	var key, channel, src string
	err := db.QueryRow(ctx, selectVersionSQL, version).Scan(&key, &channel, &src)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w %.12s", ErrUnknownVersion, version)
	}
	if err != nil {
		return nil, fmt.Errorf("templates: load version %.12s: %w", version, err)
	}
	c, err := compileBundle(version, src)
	if err != nil {
		return nil, err
	}
	if c.key != key || c.channel != channel {
		return nil, fmt.Errorf("templates: version %.12s is stored as %s/%s but its source says %s", version, key, channel, c.name())
	}
	stored.Store(version, c)
	return c.render(in, agency.withDefaults())
}

// compileBundle compiles a stored source after checking it hashes to version.
func compileBundle(version, src string) (*compiled, error) {
	if hashHex(src) != version {
		return nil, fmt.Errorf("templates: stored source of version %.12s does not match its hash", version)
	}
	name, content, partials, err := unbundle(src)
	if err != nil {
		return nil, fmt.Errorf("templates: version %.12s: %w", version, err)
	}
	prefix := "version " + version[:12] + "/"
	ps := map[string]srcFile{}
	for n, p := range partials {
		ps[n] = srcFile{display: prefix + n, content: p}
	}
	h, sections, err := parseFile(prefix+name, content)
	if err != nil {
		return nil, err
	}
	return compile(name, prefix+name, h, sections, ps, src)
}
