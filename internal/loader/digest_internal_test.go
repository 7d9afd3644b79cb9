package loader

import (
	"strings"
	"testing"
)

// The digest a ledger row stores stays the same across versions: a
// request_id sent again after an upgrade is still the same load.
func TestDigestIsStable(t *testing.T) {
	cfg := &Config{Table: "规模明细", Schema: "business", Mode: ModeDeleteInsert, Keys: []string{"月度", "业务类型"}}
	d := newDigest(cfg)
	d.add(&Batch{Columns: []string{"月度", "金额"}, Values: []Field{{Text: "2024-11-01"}, {Null: true}, {Text: ""}, {Text: strings.Repeat("年金", 20000)}}})
	d.add(&Batch{Columns: []string{"月度", "金额"}, Values: []Field{{Text: "2024-12-01"}, {Text: "1.5"}}})
	if got, want := d.sum(), "de90cf6b6229023a4b4e7b6ab13590e5f33a7609292c1e2ea988e9daa036b178"; got != want {
		t.Errorf("digest %s, want %s", got, want)
	}
}

// BenchmarkDigest hashes a message of 5,000 rows of seven short texts, as
// every load with a request_id does for each of its messages.
func BenchmarkDigest(b *testing.B) {
	batch := &Batch{Columns: []string{"a", "b", "c", "day", "k2", "k3", "note"}}
	for i := range 5000 * 7 {
		batch.Values = append(batch.Values, Field{Text: strings.Repeat("x", 5+i%10)})
	}
	cfg := &Config{Table: "t", Mode: ModeAppend}
	b.ReportAllocs()
	for b.Loop() {
		d := newDigest(cfg)
		d.add(batch)
		_ = d.sum()
	}
}
