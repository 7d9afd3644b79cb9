package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// How often the progress display is refreshed: a bar on a terminal, a
// plain line otherwise (logs, CI).
var (
	barInterval   = 200 * time.Millisecond
	plainInterval = 2 * time.Second
)

// progress shows how a load is going on stderr: on a terminal a bar with
// rows, rows/s and, when the input's size is known, the ETA from the bytes
// read; otherwise a plain line every couple of seconds. A nil *progress
// shows nothing.
type progress struct {
	rows  atomic.Int64
	read  atomic.Bool  // every row was read; the service is finishing
	lines atomic.Int64 // plain lines printed
	in    *input
	out   io.Writer
	start time.Time
	bar   *progressbar.ProgressBar
	stop  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex // serialises plain lines
}

// startProgress starts the display, or returns nil when quiet.
func startProgress(in *input, stderr io.Writer, quiet bool) *progress {
	if quiet {
		return nil
	}
	p := &progress{in: in, out: stderr, start: time.Now(), stop: make(chan struct{})}
	every := plainInterval
	if isTerminal(stderr) {
		p.bar, every = newBar(stderr, in.size), barInterval
	}
	p.wg.Add(1)
	go p.loop(every)
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newBar is a byte bar with ETA when the size is known, else a spinner.
func newBar(w io.Writer, size int64) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(barInterval / 2),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetDescription("loading"),
	}
	if size >= 0 {
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionSetPredictTime(true))
	} else {
		opts = append(opts, progressbar.OptionSpinnerType(14))
	}
	return progressbar.NewOptions64(size, opts...)
}

// Add counts n more rows sent.
func (p *progress) Add(n int64) {
	if p != nil {
		p.rows.Add(n)
	}
}

// AllRead says every row is sent and the service is finishing the load
// (the last statements, COMMIT), which may take a while.
func (p *progress) AllRead() {
	if p == nil {
		return
	}
	p.read.Store(true)
	if p.bar == nil && p.lines.Load() > 0 { // a short load stays quiet
		p.printf("read all %d rows, %.0f rows/s; the service is finishing the load\n", p.rows.Load(), p.rate())
	}
}

// Stop ends the display: a bar gets one last update, full when the load
// succeeded, and leaves its line.
func (p *progress) Stop(succeeded bool) {
	if p == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	if p.bar == nil {
		return
	}
	p.read.Store(false) // the last line shows the overall rate
	p.update()
	if succeeded {
		p.bar.Finish() // display only: a failed write to the terminal changes nothing
	} else {
		p.bar.Exit() // as above
	}
	p.printf("\n") // the bar leaves the cursor on its line
}

// printf writes a line; the ticker and the loading goroutine both do.
func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, format, args...)
}

func (p *progress) loop(every time.Duration) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.update()
		}
	}
}

func (p *progress) update() {
	rows, rate := p.rows.Load(), p.rate()
	switch {
	case p.bar == nil && p.read.Load():
		return // AllRead said so
	case p.bar == nil:
		p.lines.Add(1)
		p.printf("loaded %d rows, %.0f rows/s%s\n", rows, rate, p.percent())
		return
	case p.read.Load():
		p.bar.Describe(fmt.Sprintf("%d rows, finishing", rows))
	default:
		p.bar.Describe(fmt.Sprintf("%d rows, %.0f rows/s", rows, rate))
	}
	if p.in.size >= 0 {
		p.bar.Set64(p.in.read.Load()) // display only, as in Stop
	} else {
		p.bar.Add64(0) // spins the spinner; display only
	}
}

// rate is the rows per second so far.
func (p *progress) rate() float64 {
	return float64(p.rows.Load()) / time.Since(p.start).Seconds()
}

// percent is how much of the input was read, when its size is known.
func (p *progress) percent() string {
	if p.in.size <= 0 {
		return ""
	}
	return fmt.Sprintf(", %.0f%% read", 100*float64(p.in.read.Load())/float64(p.in.size))
}
