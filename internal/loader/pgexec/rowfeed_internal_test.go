package pgexec

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// readPiece reads a chunkReader to its end, in Reads of the size pgconn's
// CopyFrom uses, and returns what it sent.
func readPiece(t *testing.T, r *chunkReader) []byte {
	t.Helper()
	var sent bytes.Buffer
	p := make([]byte, 64<<10)
	for {
		n, err := r.Read(p)
		sent.Write(p[:n])
		if err == io.EOF {
			return sent.Bytes()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestChunkReaderKeepsOnlyWhatItMust: a piece is kept whole only when it
// may be searched (keep); the clean COPY of a source that can be read again
// holds no more than a Read's worth of text, whatever the piece's size, and
// both send the same text, ending the piece at pieceBytes.
func TestChunkReaderKeepsOnlyWhatItMust(t *testing.T) {
	value := loader.Field{Text: strings.Repeat("x", 1000)}
	b := &loader.Batch{Columns: []string{"v"}}
	for range 10_000 { // 10 MB of text: more than one piece
		b.Values = append(b.Values, value)
	}
	var sent [2][]byte
	for i, keep := range []bool{false, true} {
		feed := &rowFeed{src: loader.OneBatch(b), cols: []int{0}}
		if more, err := feed.more(context.Background()); err != nil || !more {
			t.Fatal(more, err)
		}
		r := &chunkReader{ctx: context.Background(), feed: feed, left: b.Len(), max: pieceBytes, keep: keep}
		sent[i] = readPiece(t, r)
		p := r.piece()
		if want := pieceBytes/1001 + 1; p.rows != want || len(sent[i]) != want*1001 {
			t.Fatalf("keep=%v: the piece has %d rows, %d bytes; want %d rows of 1001 bytes", keep, p.rows, len(sent[i]), want)
		}
		switch {
		case keep && !bytes.Equal(p.data, sent[i]):
			t.Fatalf("keep: the piece's data (%d bytes) is not what was sent (%d bytes)", len(p.data), len(sent[i]))
		case !keep && (len(p.data) != 0 || cap(r.kept) > 256<<10):
			t.Fatalf("no keep: the reader holds %d bytes (capacity %d) after sending %d", len(p.data), cap(r.kept), len(sent[i]))
		}
	}
	if !bytes.Equal(sent[0], sent[1]) {
		t.Fatal("keep changes what is sent")
	}
}

// TestPieceForStage: a piece COPYed into the target, its lines ending in
// the load id, goes to the stage as its rows numbered, the id gone; one
// numbered already goes as it is.
func TestPieceForStage(t *testing.T) {
	id := loader.NewLoadID()
	var data []byte
	for _, line := range []string{"a\t\\N\n", "b\\tc\t1\n", "\\N\t2\n"} {
		data = loader.AppendStamp(append(data, line...), id)
	}
	p := &piece{data: data, first: 40, rows: 3, stamp: id}
	if got, want := string(p.forStage().data), "a\t\\N\t40\nb\\tc\t1\t41\n\\N\t2\t42\n"; got != want {
		t.Errorf("stamped piece for the stage:\n%q\nwant\n%q", got, want)
	}
	numbered := &piece{data: []byte("a\t7\n"), first: 7, rows: 1, ordinal: true}
	if got := numbered.forStage(); got != numbered {
		t.Errorf("a numbered piece was copied: %q", got.data)
	}
}
