// Package loadtest drives `krun serve` with concurrent Open Inference
// Protocol requests on the loopback interface and reports throughput,
// latency percentiles, errors and the server's memory. It starts the
// server itself, one process per run, so runs do not share state, and
// stops it with SIGTERM, checking that it exits 0.
package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Run describes one load run against a fresh server.
type Run struct {
	Krun     string   // path of the krun binary
	Model    string   // name to serve the model under
	Path     string   // model file
	Args     []string // extra `krun serve` flags (batching)
	Label    string   // how the run is named in reports
	Conns    int      // concurrent connections
	Warmup   time.Duration
	Duration time.Duration
	// SigtermAfter, when > 0, sends SIGTERM that long into the timed load
	// and keeps the clients going until the server is gone.
	SigtermAfter time.Duration
	Log          io.Writer // server's log lines, if not nil
}

// Result is what one run measured.
type Result struct {
	Label     string
	Requests  int // complete 200 responses in the timed window
	Errors    int // responses other than 200, or broken ones
	ErrorKind map[string]int
	// Refused counts requests the server never accepted (connection
	// refused or closed before the request was read), seen only after
	// SIGTERM.
	Refused  int
	Elapsed  time.Duration
	P50, P90 time.Duration
	P99, Max time.Duration
	RSSStart int64 // KiB, after warm-up
	RSSEnd   int64 // KiB, at the end of the timed load
	// RSSMid is the RSS halfway through the timed load and RSSPeak the
	// most seen in it (sampled every 250 ms), so growth shows as a trend
	// rather than one reading.
	RSSMid, RSSPeak int64
	ExitCode        int
	ExitAfter       time.Duration // from SIGTERM to exit
	// MeanBatch is the mean number of requests per model run, from the
	// server's kiln_batch_requests histogram (0 when not read).
	MeanBatch float64
	// LogTail holds the server's last log lines when it exited other than
	// with 0, to say why.
	LogTail []string
	lat     []time.Duration
}

// Throughput is complete responses per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// server is one running `krun serve` with a client for it.
type server struct {
	run    Run
	cmd    *exec.Cmd
	exited chan error
	url    string
	body   []byte
	client *http.Client
	tr     *http.Transport
	tailMu sync.Mutex
	tail   []string // the last log lines (request logs left out)
}

const tailLines = 8

// start runs `krun serve` for run and waits until it serves.
func start(run Run) (*server, error) {
	if run.Conns <= 0 {
		run.Conns = 32
	}
	args := append([]string{"serve", "--model", run.Model + "=" + run.Path, "--addr", "127.0.0.1:0", "--log-format", "json"}, run.Args...)
	cmd := exec.Command(run.Krun, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{run: run, cmd: cmd, exited: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if run.Log != nil {
				fmt.Fprintf(run.Log, "%s\n", line)
			}
			if !bytes.Contains(line, []byte(`"msg":"request"`)) {
				s.tailMu.Lock()
				s.tail = append(s.tail, string(line))
				if len(s.tail) > tailLines {
					s.tail = s.tail[1:]
				}
				s.tailMu.Unlock()
			}
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "serving" && rec.Addr != "" {
				select {
				case addrc <- rec.Addr:
				default:
				}
			}
		}
		s.exited <- cmd.Wait()
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-s.exited:
		return nil, fmt.Errorf("krun serve exited before serving: %v", err)
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		return nil, errors.New("krun serve did not start within 2 minutes")
	}
	base := "http://" + addr
	if s.body, err = requestBody(base, run.Model); err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	s.url = base + "/v2/models/" + run.Model + "/infer"
	s.tr = &http.Transport{MaxIdleConnsPerHost: run.Conns, MaxConnsPerHost: run.Conns, DisableCompression: true}
	s.client = &http.Client{Transport: s.tr, Timeout: 15 * time.Minute}
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// add folds one timed window into res.
func (res *Result) add(st *stats) {
	res.Elapsed += st.elapsed
	res.Requests += st.ok
	res.Errors += st.errs
	res.Refused += st.refused
	for k, v := range st.kinds {
		res.ErrorKind[k] += v
	}
	res.lat = append(res.lat, st.lat...)
	sort.Slice(res.lat, func(i, j int) bool { return res.lat[i] < res.lat[j] })
	res.P50, res.P90, res.P99 = pct(res.lat, 0.50), pct(res.lat, 0.90), pct(res.lat, 0.99)
	if len(res.lat) > 0 {
		res.Max = res.lat[len(res.lat)-1]
	}
}

// stop sends SIGTERM (unless sent at termAt already) and records the exit.
func (s *server) stop(res *Result, st *stats, termAt time.Time) error {
	defer s.tr.CloseIdleConnections()
	if termAt.IsZero() {
		res.MeanBatch = s.meanBatch()
		termAt = time.Now()
		s.cmd.Process.Signal(syscall.SIGTERM)
	}
	var werr error
	exitCh := s.exited
	if st != nil && st.exitErr != nil && st.exitWatched {
		exitCh = st.exitErr
	}
	select {
	case werr = <-exitCh:
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		return errors.New("krun serve did not exit within a minute of SIGTERM")
	}
	res.ExitAfter = time.Since(termAt)
	if st != nil && st.exitSeen {
		res.ExitAfter = st.exitAt.Sub(termAt)
	}
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		res.ExitCode = ee.ExitCode()
		s.tailMu.Lock()
		res.LogTail = append([]string(nil), s.tail...)
		s.tailMu.Unlock()
		if werr != nil && len(res.LogTail) == 0 {
			res.LogTail = []string{werr.Error()}
		}
	} else if werr != nil {
		return werr
	}
	return nil
}

// meanBatch reads the mean requests per model run from /metrics.
func (s *server) meanBatch() float64 {
	resp, err := s.client.Get(strings.TrimSuffix(s.url, "/v2/models/"+s.run.Model+"/infer") + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var sum, count float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(f[0], "kiln_batch_requests_sum"):
			sum += v
		case strings.HasPrefix(f[0], "kiln_batch_requests_count"):
			count += v
		}
	}
	if count == 0 {
		return 0
	}
	return sum / count
}

// Do starts the server, loads it, stops it and reports.
func Do(ctx context.Context, run Run) (*Result, error) {
	s, err := start(run)
	if err != nil {
		return nil, err
	}
	if run.Warmup > 0 {
		drive(ctx, s.client, s.url, s.body, s.run.Conns, run.Warmup, nil)
	}
	res := &Result{Label: run.Label, ErrorKind: map[string]int{}}
	res.RSSStart = rss(s.pid())
	var termAt time.Time
	var term *sigterm
	if run.SigtermAfter > 0 {
		term = &sigterm{after: run.SigtermAfter, exited: s.exited, fire: func() {
			termAt = time.Now()
			s.cmd.Process.Signal(syscall.SIGTERM)
		}}
	}
	stopWatch := watchRSS(s.pid(), res, run.Duration)
	st := drive(ctx, s.client, s.url, s.body, s.run.Conns, run.Duration, term)
	stopWatch()
	res.RSSEnd = rss(s.pid())
	res.add(st)
	return res, s.stop(res, st, termAt)
}

// Pair measures two configurations of one model in the same period: both
// servers run side by side, and the load alternates between them in
// rounds windows of Duration/rounds each, so that other work on the
// machine weighs on both alike. RSS is read from each process after the
// warm-up and after its last window.
func Pair(ctx context.Context, a, b Run, rounds int) (*Result, *Result, error) {
	if rounds < 1 {
		rounds = 1
	}
	runs := []Run{a, b}
	var srv [2]*server
	for i, r := range runs {
		s, err := start(r)
		if err != nil {
			if i == 1 {
				srv[0].cmd.Process.Kill()
			}
			return nil, nil, err
		}
		srv[i] = s
	}
	res := [2]*Result{}
	for i, s := range srv {
		if runs[i].Warmup > 0 {
			drive(ctx, s.client, s.url, s.body, s.run.Conns, runs[i].Warmup, nil)
		}
		res[i] = &Result{Label: runs[i].Label, ErrorKind: map[string]int{}}
		res[i].RSSStart = rss(s.pid())
	}
	for k := range rounds {
		for i, s := range srv {
			stopWatch := watchRSS(s.pid(), res[i], 0)
			res[i].add(drive(ctx, s.client, s.url, s.body, s.run.Conns, runs[i].Duration/time.Duration(rounds), nil))
			stopWatch()
			res[i].RSSEnd = rss(s.pid())
			if k == (rounds-1)/2 {
				res[i].RSSMid = res[i].RSSEnd
			}
		}
	}
	var firstErr error
	for i, s := range srv {
		if err := s.stop(res[i], nil, time.Time{}); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return res[0], res[1], firstErr
}

// requestBody builds an inference request for the model's inputs from its
// metadata: free dimensions are 1, values are seeded random numbers.
func requestBody(base, model string) ([]byte, error) {
	resp, err := http.Get(base + "/v2/models/" + model)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var meta struct {
		Inputs []struct {
			Name     string `json:"name"`
			Datatype string `json:"datatype"`
			Shape    []int  `json:"shape"`
		} `json:"inputs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		return nil, fmt.Errorf("model metadata: %w", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString(`{"inputs":[`)
	for i, in := range meta.Inputs {
		if i > 0 {
			b.WriteByte(',')
		}
		n := 1
		shape := make([]string, len(in.Shape))
		for k, d := range in.Shape {
			if d < 0 {
				d = 1
			}
			n *= d
			shape[k] = strconv.Itoa(d)
		}
		fmt.Fprintf(&b, `{"name":%q,"shape":[%s],"datatype":%q,"data":[`, in.Name, strings.Join(shape, ","), in.Datatype)
		for k := range n {
			if k > 0 {
				b.WriteByte(',')
			}
			switch in.Datatype {
			case "FP32", "FP64", "FP16":
				b.WriteString(strconv.FormatFloat(rng.Float64(), 'g', 6, 32))
			case "BOOL":
				b.WriteString("false")
			case "BYTES":
				b.WriteString(`"a"`)
			default:
				b.WriteByte('0')
			}
		}
		b.WriteString("]}")
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

type sigterm struct {
	after  time.Duration
	fire   func()
	exited chan error
}

type stats struct {
	ok, errs, refused int
	kinds             map[string]int
	lat               []time.Duration
	elapsed           time.Duration
	exitErr           chan error
	exitWatched       bool // exitErr will receive the exit
	exitSeen          bool
	exitAt            time.Time
}

// drive keeps conns requests in flight for d (or, with a SIGTERM plan,
// until the server is gone) and gathers the outcomes.
func drive(ctx context.Context, client *http.Client, url string, body []byte, conns int, d time.Duration, term *sigterm) *stats {
	st := &stats{kinds: map[string]int{}, exitErr: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	terminating := false
	gone := make(chan struct{})
	if term != nil && term.fire != nil {
		terminating = true
		st.exitWatched = true
		// No time limit once SIGTERM is planned: the clients run until the
		// server has exited.
		cancel()
		ctx = context.Background()
		go func() {
			time.Sleep(term.after)
			term.fire()
			err := <-term.exited
			st.exitSeen, st.exitAt = true, time.Now()
			st.exitErr <- err
			close(gone)
		}()
	}
	var mu sync.Mutex
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1024)
			kinds := map[string]int{}
			ok, errs, refused := 0, 0, 0
			for {
				if terminating {
					select {
					case <-gone:
						goto done
					default:
					}
				} else if ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				kind, accepted := post(ctx, client, url, body)
				switch {
				case kind == "":
					ok++
					lat = append(lat, time.Since(t0))
				case !accepted && terminating:
					refused++
					time.Sleep(5 * time.Millisecond)
				case ctx.Err() != nil && !terminating:
					// cut off by the end of the run, not the server
				default:
					errs++
					kinds[kind]++
				}
			}
		done:
			mu.Lock()
			st.ok += ok
			st.errs += errs
			st.refused += refused
			for k, v := range kinds {
				st.kinds[k] += v
			}
			st.lat = append(st.lat, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	st.elapsed = time.Since(start)
	return st
}

// post sends one request. kind is "" for a complete 200 response, else a
// short description; accepted is false when the server never took the
// request (refused connection, or a kept-alive connection it had closed).
func post(ctx context.Context, client *http.Client, url string, body []byte) (kind string, accepted bool) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return "request: " + err.Error(), true
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "connection refused") || strings.Contains(msg, "server closed idle connection") {
			return "not accepted", false
		}
		return "transport: " + msg, true
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "truncated response: " + err.Error(), true
	}
	if resp.StatusCode != http.StatusOK {
		return "status " + strconv.Itoa(resp.StatusCode), true
	}
	if len(data) == 0 || data[len(data)-1] != '}' {
		return "incomplete body", true
	}
	return "", true
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

// rss reads a process's resident set size in KiB from /proc.
func rss(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// watchRSS samples a process's RSS into res.RSSPeak until the returned
// function is called; with half > 0 it also records RSSMid after half/2.
func watchRSS(pid int, res *Result, half time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				v := rss(pid)
				res.RSSPeak = max(res.RSSPeak, v)
				if half > 0 && res.RSSMid == 0 && time.Since(start) >= half/2 {
					res.RSSMid = v
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// Report prints one line per result.
func Report(w io.Writer, rs []*Result) {
	fmt.Fprintln(w, "batch: mean requests per model run. RSS in MiB: after warm-up (rss0), halfway through the timed load (rss_mid), at its end (rss1), and the most seen (peak).")
	fmt.Fprintf(w, "%-28s %9s %8s %8s %8s %8s %7s %6s %7s %7s %7s %7s %5s\n", "run", "req/s", "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors", "batch", "rss0", "rss_mid", "rss1", "peak", "exit")
	for _, r := range rs {
		fmt.Fprintf(w, "%-28s %9.1f %8.2f %8.2f %8.2f %8.2f %7d %6.2f %7.1f %7.1f %7.1f %7.1f %5d\n", r.Label, r.Throughput(),
			ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Errors, r.MeanBatch, float64(r.RSSStart)/1024, float64(r.RSSMid)/1024, float64(r.RSSEnd)/1024, float64(r.RSSPeak)/1024, r.ExitCode)
		for k, v := range r.ErrorKind {
			fmt.Fprintf(w, "    %d x %s\n", v, k)
		}
		if r.ExitCode != 0 {
			fmt.Fprintf(w, "    exit %d; the server's last log lines:\n", r.ExitCode)
			for _, l := range r.LogTail {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
