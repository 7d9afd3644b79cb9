package client

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	BatchRows int // rows per LoadStream message, default 5000
}

// DefaultBatchRows is the rows of one LoadStream message when
// WriterOptions.BatchRows is 0.
const DefaultBatchRows = 5000

// Writer streams rows into one load over LoadStream: the whole stream is one
// transaction, committed by Close, and the server writes rows as they
// arrive, so memory on both sides stays bounded by one message however many
// rows there are. The first message with rows fixes the load's columns (the
// union of its rows' keys); later rows may leave a column out (NULL) but not
// add one. A Writer is not safe for concurrent use. A failed stream is not
// retried: set LoadConfig.RequestId (NewRequestID) and write it again to
// retry exactly once.
//
// Always end a Writer with Close or Abort; `defer w.Abort()` right after
// NewWriter is a good habit, since Abort after Close does nothing.
type Writer struct {
	stream grpc.ClientStreamingClient[loadsvcv1.LoadStreamRequest, loadsvcv1.LoadResponse]
	cfg    *loadsvcv1.LoadConfig
	cancel context.CancelFunc
	batch  *batch
	max    int
	rows   int64

	failed   error // sticky: every later Write returns it
	done     bool  // Close or Abort ran
	resp     *loadsvcv1.LoadResponse
	closeErr error
}

// NewWriter opens a LoadStream and sends cfg. Write buffers rows and sends a
// typed message every BatchRows rows; Close flushes, closes the stream and
// returns the response. Abort cancels the stream: nothing is written. With
// cfg.DryRun the whole stream runs as a load and is rolled back: Close
// returns the real counts with DryRun set, and nothing is written.
func (c *Client) NewWriter(ctx context.Context, cfg *loadsvcv1.LoadConfig, opts WriterOptions) (*Writer, error) {
	if opts.BatchRows <= 0 {
		opts.BatchRows = DefaultBatchRows
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.svc.LoadStream(ctx)
	if err != nil {
		cancel()
		return nil, toError(err)
	}
	w := &Writer{stream: stream, cfg: cfg, cancel: cancel, batch: newBatch(), max: opts.BatchRows}
	if err := stream.Send(&loadsvcv1.LoadStreamRequest{Config: cfg}); err != nil {
		err := w.sendError(err)
		cancel()
		return nil, err
	}
	return w, nil
}

// Write adds one row; every BatchRows rows it sends them. The row's values
// are encoded (and []byte values copied) before Write returns, so the
// caller may reuse the map and its buffers. A row Write refuses (a value
// of an unsupported type, a column the stream's first message did not
// have) is not added and the Writer stays usable; an error of the stream
// itself ends the load, and every later Write and Close return it.
func (w *Writer) Write(row Row) error {
	if w.failed != nil {
		return w.failed
	}
	if err := w.batch.add(row, w.rows); err != nil {
		return err
	}
	w.rows++
	if w.batch.rows >= w.max {
		return w.flush()
	}
	return nil
}

// Rows is the number of rows written so far (accepted by Write, sent or
// still buffered).
func (w *Writer) Rows() int64 { return w.rows }

// Close sends the buffered rows, closes the stream and returns the
// service's response: the load is committed when Close returns nil (a dry
// run's is rolled back). Calling it again returns the same.
func (w *Writer) Close() (*loadsvcv1.LoadResponse, error) {
	if w.done {
		return w.resp, w.closeErr
	}
	w.done = true
	defer w.cancel()
	w.resp, w.closeErr = w.close()
	if w.failed == nil {
		w.failed = &Error{Code: codes.FailedPrecondition, Message: "Write after Close", Row: -1}
	}
	return w.resp, w.closeErr
}

func (w *Writer) close() (*loadsvcv1.LoadResponse, error) {
	if w.failed != nil {
		return nil, w.failed
	}
	if w.batch.rows > 0 {
		if err := w.flush(); err != nil {
			return nil, err
		}
	}
	resp, err := w.stream.CloseAndRecv()
	if err != nil {
		w.failed = toError(err)
		return nil, w.failed
	}
	return resp, checkResponse(w.cfg, resp)
}

// Abort cancels the stream: the service rolls the load back and nothing of
// it is written. Abort after Close does nothing.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.cancel()
	w.batch.reset()
	w.failed = &Error{Code: codes.Canceled, Message: "the writer was aborted; nothing was written", Row: -1, cause: context.Canceled}
	w.closeErr = w.failed
}

// flush sends the buffered rows as one typed message and reuses its arrays
// for the next one (Send has marshaled the message when it returns; a stats
// handler that keeps messages to read later would see them change). From
// then on the column set is fixed: the server keeps the first message's
// columns.
func (w *Writer) flush() error {
	err := w.stream.Send(&loadsvcv1.LoadStreamRequest{TypedRows: w.batch.message()})
	w.batch.reset()
	w.batch.fixed = true
	if err != nil {
		w.failed = w.sendError(err)
		w.cancel()
		return w.failed
	}
	return nil
}

// sendError is the error behind a failed Send: io.EOF means the server
// ended the stream, and its status comes with the response.
func (w *Writer) sendError(err error) *Error {
	if errors.Is(err, io.EOF) {
		_, err = w.stream.CloseAndRecv()
		if err == nil {
			err = &Error{Code: codes.Internal, Message: "the service ended the stream early without an error", Row: -1}
		}
	}
	return toError(err)
}
