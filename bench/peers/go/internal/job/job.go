// Package job reads the items the runner (bench/peers/run.ts) hands a peer, verifies each once for its
// verdict, times repeated verifications of the items it names, and prints the result as JSON.
package job

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Item is one piece of evidence with the time to verify it at; Fields are peer-specific (base64 or PEM text).
type Item struct {
	Name   string            `json:"name"`
	At     time.Time         `json:"at"`
	Fields map[string]string `json:"fields"`
}

// Input is what the runner writes: the items, which of them to time, and for how long.
type Input struct {
	Items   []Item   `json:"items"`
	Timed   []string `json:"timed"`
	Seconds float64  `json:"seconds"`
}

// ItemResult is one item's verdict: "accept" when the peer's verify call returned no error.
type ItemResult struct {
	Name    string `json:"name"`
	Verdict string `json:"verdict"`
	Error   string `json:"error,omitempty"`
}

// RateResult is the timed loop: verifications per CPU-second of this process (user + system).
type RateResult struct {
	Name       string  `json:"name"`
	Count      int     `json:"count"`
	CPUSeconds float64 `json:"cpuSeconds"`
	PerSecond  float64 `json:"perSecond"`
	Error      string  `json:"error,omitempty"`
}

// Output is what the peer writes.
type Output struct {
	Peer    string       `json:"peer"`
	Version string       `json:"version"`
	Items   []ItemResult `json:"items"`
	Rates   []RateResult `json:"rates"`
}

// Verify verifies one item; a nil error is an accept.
type Verify func(item Item) error

func cpuSeconds() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()).Seconds()
}

func timeItem(item Item, seconds float64, verify Verify) RateResult {
	result := RateResult{Name: item.Name}
	window := time.Duration(seconds * float64(time.Second))
	// Warm up for a tenth of the window, as the trustgate side does before its windows.
	for warm := time.Now(); time.Since(warm) < window/10; {
		if err := verify(item); err != nil {
			result.Error = err.Error()
			return result
		}
	}
	startCPU, start := cpuSeconds(), time.Now()
	for time.Since(start) < window {
		for range 8 {
			if err := verify(item); err != nil {
				result.Error = err.Error()
				return result
			}
		}
		result.Count += 8
	}
	result.CPUSeconds = cpuSeconds() - startCPU
	if result.CPUSeconds > 0 {
		result.PerSecond = float64(result.Count) / result.CPUSeconds
	}
	return result
}

// Run reads the input file named by the first argument, runs verify, and writes the Output as JSON to the file named
// by the second (the libraries log to stdout).
func Run(peer, version string, verify Verify) {
	if len(os.Args) != 3 {
		fmt.Fprintf(os.Stderr, "usage: %s <input.json> <output.json>\n", os.Args[0])
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", peer, err)
		os.Exit(1)
	}
	var input Input
	if err := json.Unmarshal(raw, &input); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s is not a peer input: %v\n", peer, os.Args[1], err)
		os.Exit(1)
	}
	output := Output{Peer: peer, Version: version, Items: []ItemResult{}, Rates: []RateResult{}}
	byName := map[string]Item{}
	for _, item := range input.Items {
		byName[item.Name] = item
		result := ItemResult{Name: item.Name, Verdict: "accept"}
		if err := verify(item); err != nil {
			result.Verdict, result.Error = "reject", err.Error()
		}
		output.Items = append(output.Items, result)
	}
	for _, name := range input.Timed {
		item, ok := byName[name]
		if !ok {
			output.Rates = append(output.Rates, RateResult{Name: name, Error: "no such item"})
			continue
		}
		output.Rates = append(output.Rates, timeItem(item, input.Seconds, verify))
	}
	encoded, err := json.Marshal(output)
	if err == nil {
		err = os.WriteFile(os.Args[2], encoded, 0o600)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", peer, err)
		os.Exit(1)
	}
}
