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

// proxyFlags are the flags of idem proxy.
type proxyFlags struct {
	guardFlags
	listen, target, metricsListen       string
	methods, keyPrefix                  string
	scopeHeader, scopeSecret            string
	required, sharedKeys, storeErrors   bool
	maxRequest, maxResponse             sizeFlag
	shutdown, readTimeout, writeTimeout time.Duration
	idleTimeout                         time.Duration

	// Set by check: the parsed --target and --methods.
	targetURL  *url.URL
	methodList []string
}

// register declares the flags; --scope-secret defaults to secret (the
// environment's IDEM_SCOPE_SECRET).
func (f *proxyFlags) register(fs *flag.FlagSet, secret string) {
	f.guardFlags.register(fs)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8081", "")
	fs.StringVar(&f.target, "target", "", "")
	fs.BoolVar(&f.required, "required", false, "")
	fs.StringVar(&f.methods, "methods", "POST,PATCH", "")
	fs.StringVar(&f.scopeHeader, "scope-header", "", "")
	fs.BoolVar(&f.sharedKeys, "shared-keys", false, "")
	fs.StringVar(&f.scopeSecret, "scope-secret", secret, "")
	fs.StringVar(&f.keyPrefix, "key-prefix", idemhttp.DefaultKeyPrefix, "")
	fs.BoolVar(&f.storeErrors, "store-server-errors", false, "")
	f.maxRequest.n = idemhttp.DefaultMaxRequestBytes
	fs.Var(&f.maxRequest, "max-request-bytes", "")
	f.maxResponse.n = idemhttp.DefaultMaxResponseBytes
	fs.Var(&f.maxResponse, "max-response-bytes", "")
	fs.DurationVar(&f.shutdown, "shutdown-timeout", 30*time.Second, "")
	fs.DurationVar(&f.readTimeout, "read-timeout", 60*time.Second, "")
	fs.DurationVar(&f.writeTimeout, "write-timeout", 60*time.Second, "")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", 120*time.Second, "")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "")
}

func (f *proxyFlags) check(fs *flag.FlagSet) string {
	if fs.NArg() != 0 {
		return "takes no arguments"
	}
	if _, _, err := net.SplitHostPort(f.listen); err != nil {
		return fmt.Sprintf("--listen %q: want HOST:PORT (%v)", f.listen, err)
	}
	if _, _, err := net.SplitHostPort(f.metricsListen); err != nil && f.metricsListen != "" {
		return fmt.Sprintf("--metrics-listen %q: want HOST:PORT (%v)", f.metricsListen, err)
	}
	u, err := url.Parse(f.target)
	switch {
	case f.target == "":
		return "--target is required"
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Sprintf("--target %q is not an http:// or https:// URL", f.target)
	case f.shutdown < 0:
		return "--shutdown-timeout must not be negative"
	case f.readTimeout < 0 || f.writeTimeout < 0 || f.idleTimeout < 0:
		return "--read-timeout, --write-timeout and --idle-timeout must not be negative"
	case f.sharedKeys && f.scopeHeader != "":
		return "--shared-keys and --scope-header exclude each other"
	case f.scopeHeader != "" && !fieldName(f.scopeHeader):
		return fmt.Sprintf("--scope-header %q is not a header field name", f.scopeHeader)
	case f.scopeSecret != "" && len(f.scopeSecret) < idemhttp.MinScopeSecret:
		return fmt.Sprintf("--scope-secret (or IDEM_SCOPE_SECRET) must be at least %d bytes", idemhttp.MinScopeSecret)
	case f.maxRequest.n == 0 || f.maxResponse.n == 0:
		return "--max-request-bytes and --max-response-bytes must be positive"
	}
	f.targetURL, f.methodList = u, nil
	for _, m := range strings.Split(f.methods, ",") {
		if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
			f.methodList = append(f.methodList, m)
		}
	}
	if len(f.methodList) == 0 {
		return "--methods names no method"
	}
	return f.guardFlags.check()
}

func (a *app) proxy(ctx context.Context, common commonFlags, args []string) int {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	var f proxyFlags
	f.register(fs, a.getenv("IDEM_SCOPE_SECRET"))
	if code, ok := a.parse("proxy", &common, args, fs); !ok {
		return code
	}
	if msg := f.check(fs); msg != "" {
		return a.usageError("proxy", msg)
	}
	u := f.targetURL
	gcfg, msg := f.config()
	if msg != "" {
		return a.usageError("proxy", msg)
	}

	store, closeStore, err := a.openStore(ctx, common.store)
	if err != nil {
		return a.fail(ctx, err)
	}
	defer closeStore()
	gcfg.Logger = a.logger(common.verbose)
	if f.metricsListen != "" {
		m, err := newMetricsServer(f.metricsListen, log.New(a.stderr, "idem: metrics: ", 0))
		if err != nil {
			return a.fail(ctx, err)
		}
		defer func() {
			// After the proxy's own shutdown, bounded like it: a scraper
			// that stops reading cannot hold the exit.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.shutdown)
			defer cancel()
			_ = m.Close(sctx)
		}()
		gcfg.Observer = m.observer
		fmt.Fprintf(a.stderr, "idem: metrics on http://%s/metrics\n", m.ln.Addr())
	}
	g := idempotency.New(store, gcfg)
	cfg := &idemhttp.Config{
		Methods:           f.methodList,
		Required:          f.required,
		KeyPrefix:         f.keyPrefix,
		MaxRequestBytes:   f.maxRequest.n,
		MaxResponseBytes:  f.maxResponse.n,
		Wait:              f.wait,
		StoreServerErrors: f.storeErrors,
		SharedKeySpace:    f.sharedKeys,
	}
	if f.scopeSecret != "" {
		cfg.ScopeSecret = []byte(f.scopeSecret)
	}
	if f.scopeHeader != "" {
		cfg.ScopeHeaders = []string{f.scopeHeader}
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
		ReadHeaderTimeout: min(30*time.Second, f.readTimeout),
		ReadTimeout:       f.readTimeout,
		WriteTimeout:      f.writeTimeout,
		IdleTimeout:       f.idleTimeout,
		ErrorLog:          errorLog,
	}
	if f.readTimeout == 0 {
		srv.ReadHeaderTimeout = 30 * time.Second
	}
	ln, err := net.Listen("tcp", f.listen)
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
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.shutdown)
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

// fieldName reports an HTTP header field name (an RFC 9110 token).
func fieldName(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}
