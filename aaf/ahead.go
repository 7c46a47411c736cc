package aaf

import (
	"context"
	"sync"
)

// parseEvent is a record, or an envelope problem, in the order the parse met
// them.
type parseEvent struct {
	rec   *Record
	issue *Problem
}

// parseBatch is a run of one file's events; the file's last batch has end
// set, with the header and the parse's error.
type parseBatch struct {
	events []parseEvent
	end    bool
	hdr    Header
	err    error
}

// parseAhead parses the files of d on up to workers goroutines, files in
// canonical order, each into its own channel: reading the channels in order
// gives exactly what parsing one file after the other would, problems
// included, while the next files are already being read. Chunks are
// independent documents, so a file needs nothing of the one before. Memory
// stays bounded by workers files in flight, each at most a few batches
// ahead of its reader. On an unchanged re-import the parse is the slow
// goroutine and the other core idle: this puts it to work.
//
// The caller reads out[i] to its end (a closed channel without an end batch
// means the parse was stopped) and calls stop when done, early or not; stop
// cancels what is still running and waits for it.
func (d *Delivery) parseAhead(ctx context.Context, opts ParseOptions, workers int) (out []chan parseBatch, stop func()) {
	const batchSize = 256
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	out = make([]chan parseBatch, len(d.Files))
	for i := range out {
		out[i] = make(chan parseBatch, 4)
	}
	sem := make(chan struct{}, max(workers, 1))
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, f := range d.Files {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				for _, ch := range out[i:] {
					close(ch)
				}
				return
			}
			wg.Add(1)
			go func(f *File, ch chan parseBatch) {
				defer wg.Done()
				defer func() { <-sem }()
				defer close(ch)
				b := parseBatch{events: make([]parseEvent, 0, batchSize)}
				send := func() error {
					select {
					case ch <- b:
						b = parseBatch{events: make([]parseEvent, 0, batchSize)}
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				fo := opts
				if opts.Issue != nil {
					fo.Issue = func(p Problem) { b.events = append(b.events, parseEvent{issue: &p}) }
				}
				hdr, err := ParseFile(ctx, f, fo, func(r *Record) error {
					if opts.prepare != nil {
						opts.prepare(r)
					}
					b.events = append(b.events, parseEvent{rec: r})
					if len(b.events) == batchSize {
						return send()
					}
					return nil
				})
				b.end, b.hdr, b.err = true, hdr, err
				_ = send()
			}(f, out[i])
		}
	}()
	return out, func() { cancel(); wg.Wait() }
}

// eachEvent reads one file's channel from parseAhead, calling fn for each
// event, and returns the file's header and parse error. An error of fn
// stops it and is returned as stopped.
func eachEvent(ctx context.Context, ch <-chan parseBatch, fn func(parseEvent) error) (hdr Header, err, stopped error) {
	for b := range ch {
		for _, ev := range b.events {
			if e := fn(ev); e != nil {
				return hdr, nil, e
			}
		}
		if b.end {
			return b.hdr, b.err, nil
		}
	}
	// Closed without an end: the parse was cancelled.
	if err := ctx.Err(); err != nil {
		return hdr, nil, err
	}
	return hdr, nil, context.Canceled
}
