package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// openStore opens the store named by a --store value (or IDEM_STORE):
//
//	/var/lib/idem, ./dir, file:///var/lib/idem   filestore in that directory
//	redis://[user:pass@]host:port/db[?prefix=P&...] redisstore (go-redis ParseURL; also rediss://, unix://)
//	redis+cluster://h1:p1,h2:p2[?prefix=P&...]      redisstore on a Redis Cluster
//	postgres://user@host:port/db[?table=T&...]      pgstore (pgxpool; the schema is migrated)
//
// Anything else is a usage error: a directory must be absolute or start
// with ./ or ../, so that a mistyped URL (localhost:6379, redis:/host) is
// never taken for a directory to create. An empty value means
// $XDG_STATE_HOME/idem, or ~/.local/state/idem. The returned func closes
// the store and its client.
func (a *app) openStore(ctx context.Context, raw string) (idempotency.Store, func(), error) {
	if raw == "" {
		dir, err := a.defaultDir()
		if err != nil {
			return nil, nil, err
		}
		raw = dir
	}
	scheme, _, isURL := strings.Cut(raw, "://")
	switch {
	case isURL:
	case strings.HasPrefix(raw, "file:"): // file:/path, RFC 8089's short form
		scheme, isURL = "file", true
	case isDir(raw):
		return openFile(raw)
	default:
		return nil, nil, usageErr(fmt.Errorf("idempotency: --store %s: neither a directory (absolute, or ./relative) nor a URL (file://, redis://, rediss://, unix://, redis+cluster://, postgres://)", shown(raw)))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil, usageErr(fmt.Errorf("idempotency: --store %s: %v", shown(raw), err))
	}
	switch strings.ToLower(scheme) {
	case "file":
		path := u.Path
		if path == "" {
			path = u.Opaque
		}
		if (u.Host != "" && u.Host != "localhost") || !filepath.IsAbs(filepath.FromSlash(path)) {
			return nil, nil, usageErr(fmt.Errorf("idempotency: --store %s: a file URL names a local directory by its absolute path (file:///path)", raw))
		}
		return openFile(filepath.FromSlash(path))
	case "redis", "rediss", "unix":
		return openRedis(u, false)
	case "redis+cluster", "rediss+cluster":
		return openRedis(u, true)
	case "postgres", "postgresql":
		return openPostgres(ctx, u)
	}
	return nil, nil, usageErr(fmt.Errorf("idempotency: --store %s: unknown scheme %q (want a directory, file://, redis://, redis+cluster:// or postgres://)", redact(u), scheme))
}

// isDir reports whether a --store value names a directory: an absolute
// path, or a relative one that says so by starting with . or ..
func isDir(s string) bool {
	if filepath.IsAbs(s) || s == "." || s == ".." {
		return true
	}
	for _, p := range []string{"./", "../", "." + string(filepath.Separator), ".." + string(filepath.Separator)} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// shown is a --store value fit for a message: a URL's password hidden.
func shown(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	if at := strings.LastIndexByte(raw, '@'); at >= 0 {
		return "xxxxx" + raw[at:] // unparsable, but may hold user:password@
	}
	return raw
}

func usageErr(err error) error { return &codeError{code: exitUsage, err: err} }

// defaultDir is $XDG_STATE_HOME/idem, or ~/.local/state/idem.
func (a *app) defaultDir() (string, error) {
	if d := a.getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "idem"), nil
	}
	home := a.getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", usageErr(fmt.Errorf("idempotency: no --store, IDEM_STORE or home directory: %v", err))
		}
	}
	return filepath.Join(home, ".local", "state", "idem"), nil
}

func openFile(dir string) (idempotency.Store, func(), error) {
	if dir == "" {
		return nil, nil, usageErr(errors.New("idempotency: --store: empty directory"))
	}
	s, err := filestore.New(dir, nil)
	if err != nil {
		return nil, nil, unavailable(err)
	}
	return s, func() { _ = s.Close() }, nil
}

// takeParam removes the parameter name from u's query and returns its
// value: the store's own options must not reach the client library, which
// refuses (go-redis) or forwards to the server (pgx) what it does not know.
func takeParam(u *url.URL, name string) string {
	q := u.Query()
	v := q.Get(name)
	q.Del(name)
	u.RawQuery = q.Encode()
	return v
}

func openRedis(u *url.URL, cluster bool) (idempotency.Store, func(), error) {
	opts := &redisstore.Options{Prefix: takeParam(u, "prefix")}
	var client redis.UniversalClient
	if cluster {
		// go-redis takes one seed in the host and the others as addr
		// parameters.
		hosts := strings.Split(u.Host, ",")
		if hosts[0] == "" {
			return nil, nil, usageErr(fmt.Errorf("idempotency: --store %s: no cluster node", redact(u)))
		}
		v := *u
		v.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
		v.Host = hosts[0]
		q := v.Query()
		for _, h := range hosts[1:] {
			q.Add("addr", h)
		}
		v.RawQuery = q.Encode()
		co, err := redis.ParseClusterURL(v.String())
		if err != nil {
			return nil, nil, usageErr(fmt.Errorf("idempotency: --store %s: %v", redact(u), err))
		}
		client = redis.NewClusterClient(co)
	} else {
		o, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, nil, usageErr(fmt.Errorf("idempotency: --store %s: %v", redact(u), err))
		}
		client = redis.NewClient(o)
	}
	s := redisstore.New(client, opts)
	return s, func() {
		_ = s.Close()
		_ = client.Close()
	}, nil
}

func openPostgres(ctx context.Context, u *url.URL) (idempotency.Store, func(), error) {
	opts := &pgstore.Options{Table: takeParam(u, "table")}
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, nil, usageErr(fmt.Errorf("idempotency: --store %s: %v", redact(u), err))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, unavailable(fmt.Errorf("idempotency: --store %s: %w", redact(u), err))
	}
	// pgstore checks its options before it touches the database: with a
	// cancelled context only that check can fail, so what fails otherwise
	// is the ?table= (or another option), not the server.
	probe, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := pgstore.New(probe, pool, opts); err != nil && !errors.Is(err, context.Canceled) {
		pool.Close()
		return nil, nil, usageErr(fmt.Errorf("idempotency: --store %s: %w", redact(u), err))
	}
	s, err := pgstore.New(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, nil, unavailable(err)
	}
	return s, func() {
		_ = s.Close()
		pool.Close()
	}, nil
}

// redact hides a URL's password in messages.
func redact(u *url.URL) string { return u.Redacted() }
