// Command webhook-load sends AdmissionReviews to a webhook on a fixed open-loop schedule, as kube-apiserver (a Go
// client with a pool of keep-alive connections) calls an admission webhook, and prints latency percentiles as JSON.
// Each request is measured from its scheduled send time, so a stall counts against every request it delays.
//
//	webhook-load -url https://127.0.0.1:PORT/validate/workloads -cacert ca.pem -bodies bodies.json -rate 2000 -seconds 10
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

type result struct {
	Sent      int       `json:"sent"`
	Answered  int       `json:"answered"`
	Denied    int       `json:"denied"`
	Errors    int       `json:"errors"`
	FirstErr  string    `json:"firstError,omitempty"`
	Latency   summary   `json:"latencyMs"`
	SendLag   summary   `json:"sendLagMs"`
	Achieved  float64   `json:"achievedPerSecond"`
	latencies []float64 // unexported: summarised
}

type summary struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func summarise(values []float64) summary {
	if len(values) == 0 {
		return summary{}
	}
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	at := func(p float64) float64 {
		i := int(p*float64(len(sorted))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(sorted) {
			i = len(sorted) - 1
		}
		return sorted[i]
	}
	return summary{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: sorted[len(sorted)-1]}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "webhook-load: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	url := flag.String("url", "", "webhook URL (https)")
	caFile := flag.String("cacert", "", "PEM file of the CA that issued the webhook's certificate")
	bodiesFile := flag.String("bodies", "", "JSON array of AdmissionReview request bodies, sent in turn")
	rate := flag.Int("rate", 2000, "requests per second")
	seconds := flag.Float64("seconds", 10, "measured duration")
	warmup := flag.Float64("warmup", 2, "unmeasured warm-up before it (connections, TLS, JIT on the server)")
	conns := flag.Int("conns", 16, "connections to the webhook at most, kept alive (as the Node client's maxSockets)")
	flag.Parse()
	if *url == "" || *caFile == "" || *bodiesFile == "" || *rate < 1 || *seconds <= 0 {
		fail("need -url, -cacert, -bodies, a positive -rate and -seconds")
	}
	caPem, err := os.ReadFile(*caFile)
	if err != nil {
		fail("reading -cacert: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPem) {
		fail("-cacert %s holds no PEM certificate", *caFile)
	}
	raw, err := os.ReadFile(*bodiesFile)
	if err != nil {
		fail("reading -bodies: %v", err)
	}
	var texts []string
	if err := json.Unmarshal(raw, &texts); err != nil || len(texts) == 0 {
		fail("-bodies must be a non-empty JSON array of strings: %v", err)
	}
	bodies := make([][]byte, len(texts))
	for i, t := range texts {
		bodies[i] = []byte(t)
	}
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: *conns,
			MaxConnsPerHost:     *conns,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	run(client, *url, bodies, *rate, *warmup, false)
	fmt.Fprintln(os.Stderr, "webhook-load: measuring")
	out := run(client, *url, bodies, *rate, *seconds, true)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fail("writing the result: %v", err)
	}
}

func run(client *http.Client, url string, bodies [][]byte, rate int, seconds float64, record bool) result {
	total := int(seconds * float64(rate))
	interval := time.Second / time.Duration(rate)
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := result{Sent: total}
	lags := make([]float64, 0, total)
	start := time.Now()
	for i := 0; i < total; i++ {
		scheduled := start.Add(time.Duration(i) * interval)
		if wait := time.Until(scheduled); wait > 0 {
			time.Sleep(wait)
		}
		lags = append(lags, float64(time.Since(scheduled).Microseconds())/1000)
		wg.Add(1)
		go func(body []byte) {
			defer wg.Done()
			res, err := client.Post(url+"?timeout=10s", "application/json", bytes.NewReader(body))
			var text []byte
			if err == nil {
				text, err = io.ReadAll(res.Body)
				res.Body.Close()
				if err == nil && res.StatusCode != http.StatusOK {
					err = fmt.Errorf("HTTP %d", res.StatusCode)
				}
			}
			elapsed := float64(time.Since(scheduled).Microseconds()) / 1000
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out.Errors++
				if out.FirstErr == "" {
					out.FirstErr = err.Error()
				}
				return
			}
			out.Answered++
			out.latencies = append(out.latencies, elapsed)
			if !strings.Contains(string(text), `"allowed":true`) {
				out.Denied++
			}
		}(bodies[i%len(bodies)])
	}
	wg.Wait()
	out.Achieved = float64(total) / time.Since(start).Seconds()
	if record {
		out.Latency = summarise(out.latencies)
		out.SendLag = summarise(lags)
	}
	return out
}
