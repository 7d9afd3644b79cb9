package loader

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// digest hashes what makes two loads the same load: the config's target,
// mode, keys and duplicates policy, then the columns and every field of
// every row in order.
type digest struct {
	h       hash.Hash
	columns bool
}

func newDigest(cfg *Config) *digest {
	d := &digest{h: sha256.New()}
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
	d.h.Write([]byte(s))
}

func (d *digest) num(n int64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	d.h.Write(b[:])
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

func (d *digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }
