package main

import (
	"archive/zip"
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// The bounds on reading a part of a workbook as XML.
const (
	// maxXMLToken is the most bytes one token (a tag with its attributes,
	// or a run of text) may take. Excel keeps a cell's text under 32,767
	// characters: at most about 320 KB of XML.
	maxXMLToken = 1 << 20
	// maxXMLDepth is how deep elements may nest; a workbook's parts nest
	// about ten deep.
	maxXMLDepth = 100
	// maxIndexPart is the most a part read whole may inflate to: the
	// relationships, the workbook part (the sheet list) and the styles.
	maxIndexPart = 16 << 20
	// maxSheetPart is the most a worksheet may inflate to; it is streamed
	// a row at a time.
	maxSheetPart = 16 << 30
)

// partLimit is the most a part may inflate to, and what sets it for
// messages: "loadctl's limit for a worksheet".
type partLimit struct {
	bytes int64
	what  string
}

// xmlPart reads one part of a workbook's zip as XML tokens within bounds, so
// that no part, however far it inflates, makes loadctl hold more than one
// token and the elements open around it. The part may inflate to its limit:
// the size its zip header declares is checked first, archive/zip refuses to
// inflate past that size, and the bytes are counted as they are read. One
// token takes at most maxXMLToken bytes, and elements nest at most
// maxXMLDepth deep.
type xmlPart struct {
	name  string // the part's path in the zip
	limit partLimit
	file  io.Closer
	in    *partReader
	dec   *xml.Decoder
	depth int   // elements open
	err   error // the error Token returned, if any
}

// openXMLPart opens the part name of zr.
func openXMLPart(zr *zip.Reader, name string, limit partLimit) (*xmlPart, error) {
	f, err := zr.Open(name)
	if err != nil {
		return nil, fmt.Errorf("part %s: %v", name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("part %s: %v", name, err)
	}
	if n := st.Size(); n < 0 || n > limit.bytes {
		f.Close()
		return nil, fmt.Errorf("%s: its zip header says it inflates to %d bytes, more than %s, %s", name, uint64(n), mib(limit.bytes), limit.what)
	}
	p := newXMLPart(name, f, limit)
	p.in.declared = st.Size()
	return p, nil
}

// newXMLPart reads the part name from r.
func newXMLPart(name string, r io.ReadCloser, limit partLimit) *xmlPart {
	in := &partReader{r: bufio.NewReaderSize(r, 64<<10), declared: -1}
	return &xmlPart{name: name, limit: limit, file: r, in: in, dec: xml.NewDecoder(in)}
}

// Close closes the part.
func (p *xmlPart) Close() error { return p.file.Close() }

// Token returns the next token, as xml.Decoder's Token does (its data valid
// until the next call), or io.EOF after the last.
func (p *xmlPart) Token() (xml.Token, error) {
	if p.err != nil {
		return nil, p.err
	}
	p.in.begin, p.in.stop = p.in.read, min(p.limit.bytes, p.in.read+maxXMLToken)
	tok, err := p.dec.Token()
	if err != nil {
		p.err = p.explain(err)
		return nil, p.err
	}
	switch tok.(type) {
	case xml.StartElement:
		if p.depth++; p.depth > maxXMLDepth {
			p.err = fmt.Errorf("%s: elements nest more than %d deep at byte %d, loadctl's limit", p.name, maxXMLDepth, p.in.begin)
			return nil, p.err
		}
	case xml.EndElement:
		p.depth--
	}
	return tok, nil
}

// explain names the part in an error of the decoder, and the limit when
// one stopped it.
func (p *xmlPart) explain(err error) error {
	switch {
	case errors.Is(err, io.EOF):
		return err
	case errors.Is(err, errPartLimit):
		return fmt.Errorf("%s inflates to more than %s, %s", p.name, mib(p.limit.bytes), p.limit.what)
	case errors.Is(err, errTokenLimit):
		return fmt.Errorf("%s: an XML token (a tag, or a text) of more than %s at byte %d, loadctl's limit (Excel keeps a cell's text under 32,767 characters)",
			p.name, mib(maxXMLToken), p.in.long)
	case errors.Is(err, zip.ErrFormat) && p.in.declared >= 0:
		return fmt.Errorf("%s inflates to more than the %d bytes its zip header declares", p.name, p.in.declared)
	}
	return fmt.Errorf("%s: %w", p.name, err)
}

// skip reads past the end of the element just opened.
func (p *xmlPart) skip() error {
	for open := p.depth; p.depth >= open; {
		if _, err := p.Token(); err != nil {
			return err
		}
	}
	return nil
}

// text appends to buf the text of the element just opened: its own
// character data or, rich, that of its <t> and of its runs' <r><t> (the
// text of a shared string <si> or of an inline string <is>, phonetic runs
// <rPh> left out). The text of a nested element is left out. It fails with
// errTextLimit when buf would pass max bytes.
func (p *xmlPart) text(buf []byte, max int, rich bool) ([]byte, error) {
	base, at, run := p.depth, 0, false // at: the depth whose text is kept
	if !rich {
		at = base
	}
	for {
		tok, err := p.Token()
		if err != nil {
			return buf, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			in := p.depth - base
			run = run || in == 1 && t.Name.Local == "r"
			if rich && t.Name.Local == "t" && (in == 1 || in == 2 && run) {
				at = p.depth
			}
		case xml.EndElement:
			if p.depth < base {
				return buf, nil
			}
			if p.depth < at {
				at = 0
			}
			run = run && p.depth > base
		case xml.CharData:
			if p.depth != at {
				continue
			}
			if len(buf)+len(t) > max {
				return buf, errTextLimit
			}
			buf = append(buf, t...)
		}
	}
}

// Decode reads the rest of the part, a small one, into v as
// xml.Decoder.Decode does, within the same bounds.
func (p *xmlPart) Decode(v any) error {
	if err := xml.NewTokenDecoder(p).Decode(v); err != nil {
		if p.err != nil {
			return p.err
		}
		return fmt.Errorf("%s: %v", p.name, err)
	}
	return nil
}

// Why a partReader stopped, and why text stopped.
var (
	errPartLimit  = errors.New("the part's limit")
	errTokenLimit = errors.New("the token's limit")
	errTextLimit  = errors.New("the text's limit")
)

// partReader gives the XML decoder a part a byte at a time, counting them,
// and stops at the part's limit or at the end of the current token's
// allowance.
type partReader struct {
	r        *bufio.Reader
	read     int64 // bytes read so far
	begin    int64 // read when the current token began
	stop     int64 // read may not pass it
	long     int64 // where the token that passed maxXMLToken began
	declared int64 // the size the zip header declares, -1 if none
}

// ReadByte is how the decoder reads.
func (r *partReader) ReadByte() (byte, error) {
	if r.read >= r.stop {
		if r.stop-r.begin < maxXMLToken {
			return 0, errPartLimit
		}
		r.long = r.begin // the decoder may return the token cut short, and fail on the next
		return 0, errTokenLimit
	}
	b, err := r.r.ReadByte()
	if err == nil {
		r.read++
	}
	return b, err
}

// Read makes partReader an io.Reader, a byte at a time.
func (r *partReader) Read(p []byte) (int, error) {
	for i := range p {
		b, err := r.ReadByte()
		if err != nil {
			return i, err
		}
		p[i] = b
	}
	return len(p), nil
}

// mib is n bytes in MiB, for messages.
func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
