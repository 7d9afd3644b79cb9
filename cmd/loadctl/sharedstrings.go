package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
)

// The layout of the shared strings table in memory.
const (
	textBlock  = 1 << 20 // bytes of text a block holds, about
	indexBlock = 1 << 16 // strings an index block holds
	stringCost = 16      // bytes a string takes beyond its text (its header)
)

// sharedStrings is a workbook's shared strings table, held within a limit
// on its memory: its texts and stringCost bytes a string. The texts are
// substrings of blocks of about textBlock bytes, one allocation each, and
// the index grows in blocks of indexBlock strings, never by copying all.
type sharedStrings struct {
	index [][]string
	n     int    // strings in index
	text  []byte // the texts of the block being filled
	ends  []int  // where each of its strings ends in text
	size  int64  // memory taken
	limit int64
}

// readSharedStrings reads the table from its part: each item's text is its
// own text or the concatenation of its rich-text runs (phonetic runs left
// out).
func readSharedStrings(p *xmlPart, limit int64) (sharedStrings, error) {
	s := sharedStrings{limit: limit}
	for {
		tok, err := p.Token()
		if errors.Is(err, io.EOF) {
			s.seal()
			return s, nil
		}
		if err != nil {
			return s, err
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "si" {
			if err := s.add(p); err != nil {
				return s, err
			}
		}
	}
}

// add reads the item just opened (<si>) into the table.
func (s *sharedStrings) add(p *xmlPart) error {
	begin := len(s.text)
	room := max(s.limit-s.size-stringCost, 0)
	text, err := p.text(s.text, begin+int(min(room, int64(math.MaxInt-begin))), true)
	s.text = text
	if err == nil {
		if bytes.Contains(text[begin:], []byte("_x")) {
			s.text = append(text[:begin], unescapeOOXML(string(text[begin:]))...)
		}
		if s.size += stringCost + int64(len(s.text)-begin); s.size > s.limit {
			err = errTextLimit
		}
	}
	if errors.Is(err, errTextLimit) {
		return fmt.Errorf("%s: the shared strings take more than %s of memory, loadctl's limit (%s raises it)", p.name, mib(s.limit), flagXLSXText)
	}
	if err != nil {
		return err
	}
	s.ends = append(s.ends, len(s.text))
	if len(s.text) >= textBlock {
		s.seal()
	}
	return nil
}

// seal makes the block being filled one string, and its strings substrings
// of it, in the index.
func (s *sharedStrings) seal() {
	block, begin := string(s.text), 0
	for _, end := range s.ends {
		if s.n%indexBlock == 0 {
			s.index = append(s.index, nil)
		}
		last := len(s.index) - 1
		s.index[last] = append(s.index[last], block[begin:end])
		s.n, begin = s.n+1, end
	}
	s.text, s.ends = s.text[:0], s.ends[:0]
}

// get returns string i.
func (s *sharedStrings) get(i int) (string, bool) {
	if i < 0 || i >= s.n {
		return "", false
	}
	return s.index[i/indexBlock][i%indexBlock], true
}
