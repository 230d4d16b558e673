// Package serve is kiln's inference server: it puts kiln models behind the
// HTTP/JSON protocols that serving clients already speak.
//
//   - The Open Inference Protocol (KServe v2, as Triton and Seldon speak
//     it): GET /v2/health/live, /v2/health/ready, GET /v2,
//     GET /v2/models/{name}[/versions/{v}][/ready] and
//     POST /v2/models/{name}[/versions/{v}]/infer.
//   - The TensorFlow Serving REST API: GET /v1/models/{name}[/versions/{v}]
//     and POST /v1/models/{name}[/versions/{v}]:predict with "instances"
//     (row) or "inputs" (columnar) requests.
//   - Prometheus metrics at GET /metrics.
//
// Requests for one model share a bounded queue and a set of workers; with
// Config.MaxBatch > 1, requests for a model with a batch dimension are
// merged along it and the outputs split back. Every error is a JSON object
// {"error": "..."} (the form both protocols specify) with a 4xx status for
// the client's mistakes: 400 for malformed JSON or a wrong name, dtype or
// shape, 404 for an unknown model or path, 413 for a body over
// Config.MaxBodyBytes. A full queue or an expired Config.Timeout gives 503
// with Retry-After.
//
// Each model is served at one version, "1"; requests may name it or leave
// the version out. Where the server departs from the published protocols,
// the handler's doc comment says so.
package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	goruntime "runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kiln-ml/kiln"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultMaxBatch is Config.MaxBatch's default.
const DefaultMaxBatch = 8

// Version is the server version reported by GET /v2.
const Version = "0.1.0"

// Config tunes a Server. Zero values take the defaults in brackets.
type Config struct {
	// MaxBatch is the most rows merged into one model run [8; 1 turns
	// batching off]. Only models whose inputs and outputs share a leading
	// dimension of free size are batched. With BatchDelay 0 a request
	// never waits for others, so batching costs nothing under light load
	// and merges the queue under heavy load.
	MaxBatch int
	// BatchDelay is how long a worker holding a request waits for more to
	// fill a batch [0: take only the requests already queued].
	BatchDelay time.Duration
	// MaxQueue bounds the requests waiting per model; past it requests get
	// 503 [256].
	MaxQueue int
	// Workers is the number of model runs per model at once [GOMAXPROCS].
	Workers int
	// Timeout bounds one request, from arrival to response, queueing
	// included [30s].
	Timeout time.Duration
	// MaxBodyBytes bounds a request body; larger ones get 413 [64 MiB].
	MaxBodyBytes int64
	// ShutdownTimeout bounds the wait for in-flight requests after the
	// context given to Serve is cancelled [Timeout + 5s].
	ShutdownTimeout time.Duration
	// Logger receives one record per request (debug; info for 4xx, error
	// for 5xx) and the lifecycle [no logging].
	Logger *slog.Logger
	// Registry receives the metrics [a new registry, served at /metrics].
	Registry *prometheus.Registry
}

func (c *Config) defaults() {
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 256
	}
	if c.Workers <= 0 {
		c.Workers = goruntime.GOMAXPROCS(0)
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 20
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = c.Timeout + 5*time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
}

// Server serves a fixed set of named models.
type Server struct {
	cfg      Config
	models   map[string]*entry
	names    []string
	met      *metrics
	mux      *http.ServeMux
	handler  http.Handler // mux with panics turned into 500s
	log      *slog.Logger
	draining atomic.Bool
	closed   atomic.Bool
	closeOne sync.Once
	nextID   atomic.Uint64
	idPrefix string
}

type entry struct {
	name string
	m    *kiln.Model
	b    *batcher
}

// New starts the workers for each model and returns the server. The
// models stay the caller's: Close stops the workers but does not close
// the models.
func New(models map[string]*kiln.Model, cfg Config) (*Server, error) {
	if len(models) == 0 {
		return nil, errors.New("serve: no models to serve")
	}
	cfg.defaults()
	s := &Server{cfg: cfg, models: map[string]*entry{}, log: cfg.Logger}
	s.met = newMetrics(cfg.Registry)
	s.idPrefix = strconv.FormatInt(time.Now().UnixNano()&0xffffff, 36) + "-"
	for name, m := range models {
		if name == "" || m == nil {
			return nil, fmt.Errorf("serve: model %q: empty name or nil model", name)
		}
		s.models[name] = &entry{name: name, m: m}
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	for _, name := range s.names {
		e := s.models[name]
		e.b = newBatcher(name, e.m, cfg, s.met)
		s.met.queueDepth.WithLabelValues(name).Set(0)
	}
	s.routes()
	return s, nil
}

// Handler returns the server's HTTP handler, for mounting in another
// server. Close it with Close.
func (s *Server) Handler() http.Handler { return s.handler }

// Models returns the names served, sorted.
func (s *Server) Models() []string { return s.names }

// Serve accepts connections on ln until ctx is cancelled, then shuts down
// gracefully: it stops accepting, reports not ready, lets every request in
// flight finish (within Config.ShutdownTimeout), stops the workers and
// returns nil. An error means the listener failed or in-flight requests
// did not finish in time.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	conns := &connTracker{idleSince: map[net.Conn]time.Time{}, active: map[net.Conn]bool{}}
	hs := &http.Server{
		// While draining, every response closes its connection, so clients
		// leave their keep-alive connections instead of reusing them.
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.draining.Load() {
				w.Header().Set("Connection", "close")
			}
			s.handler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnState:         conns.track,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "models", s.names,
		"max_batch", s.cfg.MaxBatch, "batch_delay", s.cfg.BatchDelay.String(),
		"workers", s.cfg.Workers, "max_queue", s.cfg.MaxQueue, "timeout", s.cfg.Timeout.String())
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down: finishing requests in flight", "timeout", s.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	// Stop accepting, then let clients finish on the connections they
	// hold: each gets its response with "Connection: close". An idle
	// keep-alive connection is closed only after it has stayed idle for a
	// while, because HTTP/1.1 cannot tell a request sent just as the server
	// closes an idle connection from one never sent, and the client would
	// see a reset for a request it thinks was accepted.
	ln.Close()
	conns.drain(sctx, 250*time.Millisecond)
	err := hs.Shutdown(sctx)
	if errors.Is(err, net.ErrClosed) {
		// Shutdown closes the listeners it still tracks; ours is closed
		// already, and hs.Serve may not have returned and untracked it
		// yet when no connection was left to drain.
		err = nil
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && !errors.Is(serr, net.ErrClosed) && err == nil {
		err = serr
	}
	s.Close()
	if err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	s.log.Info("shut down")
	return nil
}

// Close stops the model workers after the requests already queued have
// run. Handlers must not be called after Close.
func (s *Server) Close() {
	s.closeOne.Do(func() {
		s.draining.Store(true)
		s.closed.Store(true)
		for _, name := range s.names {
			s.models[name].b.close()
		}
	})
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/live", s.v2Live)
	mux.HandleFunc("GET /v2/health/ready", s.v2Ready)
	mux.HandleFunc("GET /v2", s.v2ServerMetadata)
	mux.HandleFunc("GET /v2/models/{name}", s.v2ModelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}", s.v2ModelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/ready", s.v2ModelReady)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}/ready", s.v2ModelReady)
	mux.HandleFunc("POST /v2/models/{name}/infer", s.v2Infer)
	mux.HandleFunc("POST /v2/models/{name}/versions/{version}/infer", s.v2Infer)
	mux.HandleFunc("GET /v1/models/{name}", s.tfStatus)
	mux.HandleFunc("GET /v1/models/{name}/versions/{version}", s.tfStatus)
	mux.HandleFunc("POST /v1/models/{rest...}", s.tfPost)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, &call{proto: "none", model: "unknown", start: time.Now()},
			&apiError{http.StatusNotFound, "not_found", fmt.Sprintf("no endpoint %s %s; see /v2 and /v1/models/{name}", r.Method, r.URL.Path)})
	})
	s.mux = mux
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.fail(w, r, &call{proto: "none", model: "unknown", start: time.Now()},
					&apiError{http.StatusInternalServerError, "internal", fmt.Sprintf("internal error: %v", v)})
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// apiError is an error with the HTTP status and metric reason to report.
type apiError struct {
	status int
	reason string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "bad_request", fmt.Sprintf(format, args...)}
}

// call carries one request's bookkeeping for logs and metrics.
type call struct {
	proto string
	model string // a served name, or "unknown"
	id    string
	start time.Time
	batch int
}

// lookup finds a served model; version may be "" or "1".
func (s *Server) lookup(c *call, name, version string) (*entry, *apiError) {
	e, ok := s.models[name]
	if !ok {
		return nil, &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("unknown model %q; this server serves %s", name, quoteList(s.names))}
	}
	c.model = name
	if version != "" && version != "1" {
		return nil, &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("model %q has no version %q; kiln serves one version, \"1\" (or leave the version out)", name, version)}
	}
	return e, nil
}

func quoteList(names []string) string {
	b, _ := json.Marshal(names)
	return string(b)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads the request body within Config.MaxBodyBytes. The buffer
// goes back to the pool with putBuf.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, *apiError) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if r.ContentLength > s.cfg.MaxBodyBytes {
		putBuf(buf)
		return nil, s.tooLarge()
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		putBuf(buf)
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, s.tooLarge()
		}
		return nil, badRequest("reading the request body: %v", err)
	}
	return buf, nil
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 8<<20 {
		bufPool.Put(b)
	}
}

func (s *Server) tooLarge() *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body larger than %d bytes (krun serve --max-body-bytes)", s.cfg.MaxBodyBytes)}
}

// run queues the inputs for the model and waits for the outputs, within
// Config.Timeout from the request's arrival.
func (s *Server) run(ctx context.Context, c *call, e *entry, in []*tensor.Tensor) ([]*tensor.Tensor, *apiError) {
	for i, t := range in {
		if err := e.m.CheckInput(i, t); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	if s.closed.Load() {
		return nil, &apiError{http.StatusServiceUnavailable, "shutting_down", "the server is shutting down"}
	}
	j := &job{ctx: ctx, in: in, done: make(chan result, 1)}
	if e.m.Batched() && len(in) > 0 {
		j.rows = in[0].Shape()[0]
		for _, t := range in[1:] {
			if t.Shape()[0] != j.rows {
				return nil, badRequest("inputs disagree on the batch dimension: %q has %d rows, %q has %d", e.m.Inputs()[0].Name, j.rows, e.m.Inputs()[1].Name, t.Shape()[0])
			}
		}
	}
	if err := e.b.submit(j); err != nil {
		return nil, &apiError{http.StatusServiceUnavailable, "queue_full", fmt.Sprintf("model %q has %d requests waiting, the most it queues; retry later", e.name, s.cfg.MaxQueue)}
	}
	select {
	case res := <-j.done:
		c.batch = res.batch
		if res.err != nil {
			return nil, s.runError(ctx, e, res.err)
		}
		return res.out, nil
	case <-ctx.Done():
		return nil, s.runError(ctx, e, ctx.Err())
	}
}

func (s *Server) runError(ctx context.Context, e *entry, err error) *apiError {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusServiceUnavailable, "timeout", fmt.Sprintf("model %q did not answer within %s; retry later", e.name, s.cfg.Timeout)}
	case errors.Is(err, context.Canceled):
		return &apiError{499, "canceled", "the client closed the request"}
	case errors.Is(err, kiln.ErrInput):
		return badRequest("%v", err)
	case errors.Is(err, runtime.ErrEval):
		// Well-formed inputs whose values the model cannot take (an index
		// out of range, say): the client's data, not a server fault.
		return &apiError{http.StatusUnprocessableEntity, "invalid_value", err.Error()}
	}
	return &apiError{http.StatusInternalServerError, "internal", err.Error()}
}

// requestContext bounds a request by Config.Timeout.
func (s *Server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.Timeout)
}

// newID makes a request id for requests that bring none.
func (s *Server) newID() string {
	return s.idPrefix + strconv.FormatUint(s.nextID.Add(1), 10)
}

// reply writes a successful JSON response.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, c *call, body []byte) {
	s.replyAs(w, r, c, body, "application/json")
}

// replyAs is reply with another content type.
func (s *Server) replyAs(w http.ResponseWriter, r *http.Request, c *call, body []byte, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if c.id != "" {
		h.Set("X-Request-Id", c.id)
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	s.done(r, c, http.StatusOK, "")
}

// fail writes {"error": msg}, the error object of both protocols.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, c *call, e *apiError) {
	body, _ := json.Marshal(map[string]string{"error": e.msg})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if c.id != "" {
		h.Set("X-Request-Id", c.id)
	}
	if e.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	status := e.status
	if status == 499 {
		// Nobody is listening; 499 is only for the logs and metrics.
		status = http.StatusServiceUnavailable
	}
	w.WriteHeader(status)
	w.Write(body)
	s.met.errors.WithLabelValues(c.model, c.proto, e.reason).Inc()
	s.done(r, c, e.status, e.msg)
}

func (s *Server) done(r *http.Request, c *call, status int, msg string) {
	d := time.Since(c.start)
	s.met.requests.WithLabelValues(c.model, c.proto, strconv.Itoa(status)).Inc()
	if c.proto != "none" && c.proto != "meta" {
		s.met.latency.WithLabelValues(c.model, c.proto).Observe(d.Seconds())
	}
	level := slog.LevelDebug
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelInfo
	}
	if !s.log.Enabled(r.Context(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", status), slog.String("model", c.model), slog.String("protocol", c.proto),
		slog.Float64("ms", float64(d.Microseconds())/1000),
	}
	if c.id != "" {
		attrs = append(attrs, slog.String("id", c.id))
	}
	if c.batch > 0 {
		attrs = append(attrs, slog.Int("batch", c.batch))
	}
	if msg != "" {
		attrs = append(attrs, slog.String("error", msg))
	}
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// writeJSON marshals v as a successful response.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, c *call, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.fail(w, r, c, &apiError{http.StatusInternalServerError, "internal", err.Error()})
		return
	}
	s.reply(w, r, c, body)
}

// decodeJSON unmarshals a request object, naming the problem in a 400.
func decodeJSON(data []byte, v any) *apiError {
	if err := json.Unmarshal(data, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return badRequest("malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "the request"
			}
			return badRequest("malformed request: %s must be %s, got JSON %s", field, jsonKind(te.Type.Kind().String()), te.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badRequest("malformed JSON: unexpected end of body")
		}
		return badRequest("malformed JSON: %v", err)
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "a list"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

// connTracker follows the server's connections so shutdown can wait for
// busy keep-alive connections to go quiet before closing them.
type connTracker struct {
	mu        sync.Mutex
	idleSince map[net.Conn]time.Time
	active    map[net.Conn]bool
}

func (c *connTracker) track(conn net.Conn, st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch st {
	case http.StateNew, http.StateActive:
		c.active[conn] = true
		delete(c.idleSince, conn)
	case http.StateIdle:
		delete(c.active, conn)
		c.idleSince[conn] = time.Now()
	case http.StateHijacked, http.StateClosed:
		delete(c.active, conn)
		delete(c.idleSince, conn)
	}
}

// drain waits until no connection is active and every idle one has been
// idle for at least quiet (or ctx ends).
func (c *connTracker) drain(ctx context.Context, quiet time.Duration) {
	for {
		c.mu.Lock()
		busy := len(c.active) > 0
		for _, t := range c.idleSince {
			if time.Since(t) < quiet {
				busy = true
			}
		}
		c.mu.Unlock()
		if !busy {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
