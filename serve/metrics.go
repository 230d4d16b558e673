package serve

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus series. Model labels are the names
// the server was started with; requests for other names are counted under
// the label "unknown", so clients cannot grow the series without bound.
type metrics struct {
	requests     *prometheus.CounterVec   // model, protocol, code
	errors       *prometheus.CounterVec   // model, protocol, reason
	latency      *prometheus.HistogramVec // model, protocol
	inferSeconds *prometheus.HistogramVec // model
	batchSize    *prometheus.HistogramVec // model
	queueDepth   *prometheus.GaugeVec     // model
	inFlight     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_requests_total",
			Help: "HTTP requests by model, protocol (v2, tfserving) and status code.",
		}, []string{"model", "protocol", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_request_errors_total",
			Help: "Requests that failed, by model, protocol and reason (bad_request, not_found, too_large, queue_full, timeout, canceled, internal).",
		}, []string{"model", "protocol", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kiln_request_duration_seconds",
			Help:    "Time from request arrival to the response written, by model and protocol.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16), // 0.2 ms .. 6.5 s
		}, []string{"model", "protocol"}),
		inferSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kiln_inference_duration_seconds",
			Help:    "Time of one model run (one batch), by model.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"model"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kiln_batch_requests",
			Help:    "Requests merged into one model run, by model.",
			Buckets: []float64{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64},
		}, []string{"model"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kiln_queue_depth",
			Help: "Requests waiting for a worker, by model.",
		}, []string{"model"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kiln_requests_in_flight",
			Help: "Inference requests being handled.",
		}),
	}
	reg.MustRegister(m.requests, m.errors, m.latency, m.inferSeconds, m.batchSize, m.queueDepth, m.inFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
