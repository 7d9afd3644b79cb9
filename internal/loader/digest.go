package loader

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// digest hashes what makes two loads the same load: the config's target,
// mode, keys and duplicates policy, then the columns and every field of
// every row in order. Each string goes as its length (8 bytes, little
// endian) and its bytes, gathered in buf and hashed a block at a time: a
// Write per value cost more than the hashing.
type digest struct {
	h       hash.Hash
	buf     []byte
	columns bool
}

// digestBlock is the most that buf gathers before it is hashed.
const digestBlock = 32 << 10

func newDigest(cfg *Config) *digest {
	d := &digest{h: sha256.New(), buf: make([]byte, 0, digestBlock)}
	d.str(cfg.Target())
	d.str(cfg.Mode.String())
	for _, k := range cfg.Keys {
		d.str(k)
	}
	d.num(int64(cfg.Duplicates))
	if cfg.StampColumn != "" { // what a load writes; absent, the digests of before stay as they were
		d.str("stamp_column")
		d.str(cfg.StampColumn)
	}
	return d
}

func (d *digest) str(s string) {
	d.num(int64(len(s)))
	for len(s) > 0 {
		if len(d.buf) == digestBlock {
			d.flush()
		}
		n := min(len(s), digestBlock-len(d.buf))
		d.buf = append(d.buf, s[:n]...)
		s = s[n:]
	}
}

func (d *digest) num(n int64) {
	if len(d.buf)+8 > digestBlock {
		d.flush()
	}
	d.buf = binary.LittleEndian.AppendUint64(d.buf, uint64(n))
}

// flush hashes what buf gathered.
func (d *digest) flush() {
	d.h.Write(d.buf)
	d.buf = d.buf[:0]
}

// add hashes a batch; the first batch also hashes the columns.
func (d *digest) add(b *Batch) {
	if !d.columns {
		d.columns = true
		d.num(int64(len(b.Columns)))
		for _, c := range b.Columns {
			d.str(c)
		}
	}
	for _, f := range b.Values {
		if f.Null {
			d.num(-1)
			continue
		}
		d.str(f.Text)
	}
}

func (d *digest) sum() string {
	d.flush()
	return hex.EncodeToString(d.h.Sum(nil))
}
