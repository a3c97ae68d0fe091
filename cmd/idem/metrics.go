package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemotel"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// metricsServer serves the guard's metrics in the Prometheus format at
// /metrics, and /healthz, on an address of their own, so that the metrics
// are not exposed to the proxy's clients.
type metricsServer struct {
	srv      *http.Server
	ln       net.Listener
	observer idempotency.Observer
	mp       *sdkmetric.MeterProvider
}

func newMetricsServer(addr string, errorLog *log.Logger) (*metricsServer, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("idempotency: metrics: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	obs, err := idemotel.NewObserver(idemotel.Options{MeterProvider: mp})
	if err != nil {
		_ = mp.Shutdown(context.Background())
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: errorLog}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = mp.Shutdown(context.Background())
		return nil, &codeError{code: exitListen, err: fmt.Errorf("idempotency: metrics: %w", err)}
	}
	m := &metricsServer{ln: ln, observer: obs, mp: mp, srv: &http.Server{
		Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 60 * time.Second, ErrorLog: errorLog,
	}}
	go func() { _ = m.srv.Serve(ln) }()
	return m, nil
}

func (m *metricsServer) Close(ctx context.Context) error {
	return errors.Join(m.srv.Shutdown(ctx), m.mp.Shutdown(ctx))
}

// accessLog logs one line per request at info level: method, path, status,
// whether the response was a replay, and the time it took.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK // nothing written, or the connection was hijacked
		}
		logger.LogAttrs(r.Context(), slog.LevelInfo, "idem: proxy",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Bool("replayed", w.Header().Get("Idempotent-Replayed") == "true"),
			slog.Duration("took", time.Since(start)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
