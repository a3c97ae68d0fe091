package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

func (a *app) proxy(ctx context.Context, common commonFlags, args []string) int {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8081", "")
	target := fs.String("target", "", "")
	required := fs.Bool("required", false, "")
	methods := fs.String("methods", "POST,PATCH", "")
	scopeHeader := fs.String("scope-header", "", "")
	sharedKeys := fs.Bool("shared-keys", false, "")
	scopeSecret := fs.String("scope-secret", a.getenv("IDEM_SCOPE_SECRET"), "")
	keyPrefix := fs.String("key-prefix", idemhttp.DefaultKeyPrefix, "")
	var ttl ttlFlag
	ttl.d = idempotency.DefaultTTL
	fs.Var(&ttl, "ttl", "")
	lease := fs.Duration("lease", idempotency.DefaultLease, "")
	wait := fs.Duration("wait", 0, "")
	noTakeover := fs.Bool("no-takeover", false, "")
	storeErrors := fs.Bool("store-server-errors", false, "")
	maxRequest := sizeFlag{n: idemhttp.DefaultMaxRequestBytes}
	fs.Var(&maxRequest, "max-request-bytes", "")
	maxResponse := sizeFlag{n: idemhttp.DefaultMaxResponseBytes}
	fs.Var(&maxResponse, "max-response-bytes", "")
	shutdown := fs.Duration("shutdown-timeout", 30*time.Second, "")
	readTimeout := fs.Duration("read-timeout", 60*time.Second, "")
	writeTimeout := fs.Duration("write-timeout", 60*time.Second, "")
	idleTimeout := fs.Duration("idle-timeout", 120*time.Second, "")
	metricsListen := fs.String("metrics-listen", "", "")
	if code, ok := a.parse("proxy", &common, args, fs); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return a.usageError("proxy", "takes no arguments")
	}
	if _, _, err := net.SplitHostPort(*listen); err != nil {
		return a.usageError("proxy", fmt.Sprintf("--listen %q: want HOST:PORT (%v)", *listen, err))
	}
	u, err := url.Parse(*target)
	switch {
	case *target == "":
		return a.usageError("proxy", "--target is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return a.usageError("proxy", fmt.Sprintf("--target %q is not an http:// or https:// URL", *target))
	case *lease < time.Millisecond:
		return a.usageError("proxy", "--lease must be at least 1ms")
	case *wait < 0 || *shutdown < 0:
		return a.usageError("proxy", "--wait and --shutdown-timeout must not be negative")
	case *readTimeout < 0 || *writeTimeout < 0 || *idleTimeout < 0:
		return a.usageError("proxy", "--read-timeout, --write-timeout and --idle-timeout must not be negative")
	case *sharedKeys && *scopeHeader != "":
		return a.usageError("proxy", "--shared-keys and --scope-header exclude each other")
	case *scopeSecret != "" && len(*scopeSecret) < idemhttp.MinScopeSecret:
		return a.usageError("proxy", fmt.Sprintf("--scope-secret (or IDEM_SCOPE_SECRET) must be at least %d bytes", idemhttp.MinScopeSecret))
	case maxRequest.n == 0 || maxResponse.n == 0:
		return a.usageError("proxy", "--max-request-bytes and --max-response-bytes must be positive")
	}
	var ms []string
	for _, m := range strings.Split(*methods, ",") {
		if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
			ms = append(ms, m)
		}
	}
	if len(ms) == 0 {
		return a.usageError("proxy", "--methods names no method")
	}
	gcfg := &idempotency.Config{TTL: ttl.d, Lease: *lease, NoTakeover: *noTakeover}
	if err := gcfg.Validate(); err != nil {
		return a.usageError("proxy", strings.TrimPrefix(err.Error(), "idempotency: "))
	}

	store, closeStore, err := a.openStore(ctx, common.store)
	if err != nil {
		return a.fail(ctx, err)
	}
	defer closeStore()
	gcfg.Logger = a.logger(common.verbose)
	if *metricsListen != "" {
		if _, _, err := net.SplitHostPort(*metricsListen); err != nil {
			return a.usageError("proxy", fmt.Sprintf("--metrics-listen %q: want HOST:PORT (%v)", *metricsListen, err))
		}
		m, err := newMetricsServer(*metricsListen, log.New(a.stderr, "idem: metrics: ", 0))
		if err != nil {
			return a.fail(ctx, err)
		}
		defer func() {
			// After the proxy's own shutdown, bounded like it: a scraper
			// that stops reading cannot hold the exit.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *shutdown)
			defer cancel()
			_ = m.Close(sctx)
		}()
		gcfg.Observer = m.observer
		fmt.Fprintf(a.stderr, "idem: metrics on http://%s/metrics\n", m.ln.Addr())
	}
	g := idempotency.New(store, gcfg)
	cfg := &idemhttp.Config{
		Methods:           ms,
		Required:          *required,
		KeyPrefix:         *keyPrefix,
		MaxRequestBytes:   maxRequest.n,
		MaxResponseBytes:  maxResponse.n,
		Wait:              *wait,
		StoreServerErrors: *storeErrors,
		SharedKeySpace:    *sharedKeys,
	}
	if *scopeSecret != "" {
		cfg.ScopeSecret = []byte(*scopeSecret)
	}
	if *scopeHeader != "" {
		cfg.ScopeHeaders = []string{*scopeHeader}
	}
	errorLog := log.New(a.stderr, "idem: proxy: ", 0)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// X-Forwarded-For, -Host and -Proto are set from the connection;
			// the client's own are dropped (Rewrite does), and so are the
			// forwarding headers the proxy does not set, which a client
			// could otherwise forge.
			r.SetXForwarded()
			r.Out.Header.Del("X-Real-IP")
			r.Out.Header.Del("Forwarded")
		},
		ErrorLog:     errorLog,
		ErrorHandler: badGateway(errorLog),
	}
	// A client that stops reading cannot hold a key (its lease renewed)
	// past the write timeout, nor a connection past the others.
	handler := idemhttp.New(g, cfg)(rp)
	if common.verbose {
		handler = accessLog(gcfg.Logger, handler)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: min(30*time.Second, *readTimeout),
		ReadTimeout:       *readTimeout,
		WriteTimeout:      *writeTimeout,
		IdleTimeout:       *idleTimeout,
		ErrorLog:          errorLog,
	}
	if *readTimeout == 0 {
		srv.ReadHeaderTimeout = 30 * time.Second
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return a.fail(ctx, &codeError{code: exitListen, err: fmt.Errorf("idempotency: proxy: %w", err)})
	}
	fmt.Fprintf(a.stderr, "idem: proxy listening on %s, forwarding to %s\n", ln.Addr(), u.Redacted())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return a.fail(ctx, &codeError{code: exitListen, err: fmt.Errorf("idempotency: proxy: %w", err)})
	case <-ctx.Done():
	}
	// Requests in flight finish and get their responses recorded.
	fmt.Fprintf(a.stderr, "idem: proxy shutting down (%v)\n", context.Cause(ctx))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *shutdown)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return a.fail(context.Background(), &codeError{code: exitSoftware, err: fmt.Errorf("idempotency: proxy shutdown: %w", err)})
	}
	return exitOK
}
