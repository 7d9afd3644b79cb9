package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// The attacks of issue 19, each mounted on the real binary with a real
// PostgreSQL, with hand-made requests as an attacker sends them: each test
// asserts the code, the time and the peak RSS the attack costs the server.

// cost is what an attack cost the server process.
type cost struct {
	wall, cpu     time.Duration
	before, after int64 // peak RSS (VmHWM)
}

// measure runs attack and returns what it cost p.
func (p *binProc) measure(t *testing.T, attack func()) cost {
	t.Helper()
	c := cost{before: p.peakRSS(t)}
	cpu := p.cpuTime(t)
	start := time.Now()
	attack()
	c.wall = time.Since(start)
	c.cpu = p.cpuTime(t) - cpu
	c.after = p.peakRSS(t)
	return c
}

func (c cost) grew() int64 { return c.after - c.before }

func (c cost) String() string {
	return fmt.Sprintf("%v wall, %v server CPU; server peak RSS %s before, %s after, +%s",
		c.wall.Round(time.Millisecond), c.cpu, mib(c.before), mib(c.after), mib(c.grew()))
}

func kib(n int) string { return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10)) }

// cpuTime is the user and system CPU time the process has used.
func (p *binProc) cpuTime(t *testing.T) time.Duration {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(p.Cmd.Process.Pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// After the command's closing parenthesis come the fields from the
	// third on: utime and stime are the 14th and 15th, in clock ticks of
	// 1/100 s (USER_HZ).
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	var ticks int64
	for _, f := range fields[14-3 : 15-3+1] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("/proc/<pid>/stat %q: %v", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// wantStatus fails t unless err has code and a message holding every one
// of want.
func wantStatus(t *testing.T, err error, code codes.Code, want ...string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Errorf("got %v, want %s naming %q", err, code, want)
		return
	}
	for _, w := range want {
		if !strings.Contains(st.Message(), w) {
			t.Errorf("got %v, want a message naming %q", err, w)
		}
	}
}

// The wire of a request, written by hand.

// bytesField appends field num holding val, length-delimited.
func bytesField(b []byte, num protowire.Number, val []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), val)
}

// rawRequest is a LoadRequest (or LoadStreamRequest) of cfg, when set,
// and rows, each a google.protobuf.Struct's bytes.
func rawRequest(t *testing.T, cfg *loadsvcv1.LoadConfig, rows ...[]byte) []byte {
	t.Helper()
	b, err := proto.Marshal(&loadsvcv1.LoadRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		b = bytesField(b, 2, r)
	}
	return b
}

// structOf is a Struct's bytes of map entries, each an entry message.
func structOf(entries ...[]byte) []byte {
	var b []byte
	for _, e := range entries {
		b = bytesField(b, 1, e)
	}
	return b
}

// mapEntry is a Struct's map entry of key and value, a Value's bytes.
func mapEntry(key string, value []byte) []byte {
	return bytesField(bytesField(nil, 1, []byte(key)), 2, value)
}

// nullValue is a Value of null_value (field 1).
var nullValue = protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 0)

// numberValue is a Value of number_value (field 2) f.
func numberValue(f float64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, 2, protowire.Fixed64Type), math.Float64bits(f))
}

// nestedValue is a Value whose list_value (field 6) holds a Value whose
// list_value holds another, levels deep; on each level a later field, replace, takes
// the list's place, so proto sees one replaced list a level.
func nestedValue(levels int, replace []byte) []byte {
	// Sizes from the inside out, then bytes from the outside in.
	sizes := make([]int, levels+1)
	sizes[0] = len(replace)
	for k := 1; k <= levels; k++ {
		list := 1 + protowire.SizeVarint(uint64(sizes[k-1])) + sizes[k-1]
		sizes[k] = 1 + protowire.SizeVarint(uint64(list)) + list + len(replace)
	}
	b := make([]byte, 0, sizes[levels])
	for k := levels; k >= 1; k-- {
		list := 1 + protowire.SizeVarint(uint64(sizes[k-1])) + sizes[k-1]
		b = protowire.AppendVarint(protowire.AppendTag(b, 6, protowire.BytesType), uint64(list))
		b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.BytesType), uint64(sizes[k-1]))
	}
	for range levels + 1 {
		b = append(b, replace...)
	}
	return b
}

// appendCfg is a load of table t.
var appendCfg = &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}

// oneRow loads the row {"id": id} into t, which must answer OK: the
// process lives on and serves.
func (p *binProc) oneRow(t *testing.T, id int) {
	t.Helper()
	if err := p.invokeRaw(t, rawRequest(t, appendCfg, structOf(mapEntry("id", numberValue(float64(id))))), false); err != nil {
		t.Fatalf("an ordinary load after the attack: %v", err)
	}
}

// Issue 19 #1 and #2: a column value nesting a list in a list a million
// levels deep (11 MB) or a hundred thousand (1 MB), each level's list
// replaced by a later field of its Value (a null_value, or a string_value),
// is refused INVALID_ARGUMENT naming the row, the column and the limit of
// 64, at once and without memory; the process serves an ordinary load
// after it. Before: at 1,000,000 levels "fatal error: stack overflow", the
// process died; at 100,000 accepted with +125 MiB of stack.
func TestAttackDeepNestingRefused(t *testing.T) {
	t.Parallel()
	for _, replace := range []struct {
		name  string
		value []byte
	}{{"null", nullValue}, {"string", bytesField(nil, 3, nil)}} {
		t.Run(replace.name, func(t *testing.T) {
			t.Parallel()
			attackEach(t, []int{1_000_000, 100_000}, func(t *testing.T, p *binProc, url string, levels int) {
				body := rawRequest(t, appendCfg, structOf(mapEntry("id", nestedValue(levels, replace.value))))
				var err error
				c := p.measure(t, func() { err = p.invokeRaw(t, body, false) })
				t.Logf("%d levels, %s replaces: %s body: %v; %s", levels, replace.name, mib(int64(len(body))), status.Code(err), c)
				wantStatus(t, err, codes.InvalidArgument, `row 0, column "id":`, "nests deeper than 64")
				if c.grew() >= 64<<20 || c.cpu >= time.Second {
					t.Errorf("%s, want under 64 MiB of peak RSS growth and 1 s of server CPU", c)
				}
				p.oneRow(t, 1)
				if n := adminCount(t, url, `SELECT count(*) FROM t`); n != 1 {
					t.Errorf("table has %d rows, want the ordinary load's 1", n)
				}
			})
		})
	}
}

// attackEach runs attack for each of ns, in parallel, each on a binary and
// a database of its own (bombTarget), so that each has its own peak RSS.
func attackEach(t *testing.T, ns []int, attack func(t *testing.T, p *binProc, url string, n int)) {
	for _, n := range ns {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			p, url := bombTarget(t)
			attack(t, p, url, n)
		})
	}
}

// repeatedList is a Value of n list_value fields (4 bytes each), which
// proto merges into one.
func repeatedList(n int) []byte {
	return bytes.Repeat([]byte{6<<3 | 2, 2, 1<<3 | 2, 0}, n)
}

// repeatedEntryValue is a map entry of key whose value field (6 bytes
// each: a list_value of one empty Value) comes n times, which proto merges.
func repeatedEntryValue(key string, n int) []byte {
	return append(bytesField(nil, 1, []byte(key)), bytes.Repeat([]byte{2<<3 | 2, 4, 6<<3 | 2, 2, 1<<3 | 2, 0}, n)...)
}

// Issue 19 #3 and #4: a Value of 40,000 repeated list_value fields (160 KB)
// and a map entry whose value comes 40,000 times (240 KB) are refused
// INVALID_ARGUMENT as non-canonical at once: under a second of server CPU
// (and two of wall time). Before: merged in quadratic time, 9.5–11.8 s and
// 17–24 s of CPU, going on after the client had gone.
func TestAttackRepeatedFieldsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		row  []byte
		want []string
	}{
		{"list_value", structOf(mapEntry("id", repeatedList(40_000))), []string{`row 0, column "id":`, "non-canonical"}},
		{"entry_value", structOf(repeatedEntryValue("id", 40_000)), []string{"row 0", "non-canonical"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, url := bombTarget(t)
			body := rawRequest(t, appendCfg, tt.row)
			var err error
			c := p.measure(t, func() { err = p.invokeRaw(t, body, false) })
			t.Logf("%s given 40,000 times: %s body: %v; %s", tt.name, kib(len(body)), status.Code(err), c)
			wantStatus(t, err, codes.InvalidArgument, tt.want...)
			if c.wall >= 2*time.Second || c.cpu >= time.Second {
				t.Errorf("%s, want under 2 s of wall time and 1 s of server CPU", c)
			}
			p.oneRow(t, 1)
			if n := adminCount(t, url, `SELECT count(*) FROM t`); n != 1 {
				t.Errorf("table has %d rows, want the ordinary load's 1", n)
			}
		})
	}
}

// run is part of a request's bytes: b, n times over. A request made of
// runs is gzipped at the cost of its distinct bytes (gzipRuns), which the
// race detector would otherwise make cost tens of seconds.
type run struct {
	b []byte
	n int
}

func once(b []byte) run { return run{b, 1} }

// joinRuns is the request's bytes.
func joinRuns(runs []run) []byte {
	var out []byte
	for _, r := range runs {
		out = append(out, bytes.Repeat(r.b, r.n)...)
	}
	return out
}

// gzipRuns is the request gzipped as a series of gzip members, which a
// reader inflates as one stream: the member of a run's chunk of 256 KB is
// compressed once and repeated.
func gzipRuns(t *testing.T, runs []run) []byte {
	t.Helper()
	member := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	var out []byte
	for _, r := range runs {
		k := min(r.n, max(1, 256<<10/len(r.b)))
		chunk := member(bytes.Repeat(r.b, k))
		for range r.n / k {
			out = append(out, chunk...)
		}
		if rest := r.n % k; rest > 0 {
			out = append(out, member(bytes.Repeat(r.b, rest))...)
		}
	}
	return out
}

// postGzip sends gz, a gzipped LoadRequest, as a Load with the token, on an
// HTTP/2 connection of its own: the gRPC client would compress it again.
// It returns the call's status as an error.
func (p *binProc) postGzip(ctx context.Context, t *testing.T, gz []byte) error {
	t.Helper()
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protocols}
	defer tr.CloseIdleConnections()
	n := len(gz)
	frame := []byte{1, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)} // compressed, its length
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.Addr+"/loadsvc.v1.LoadService/Load",
		io.MultiReader(bytes.NewReader(frame), bytes.NewReader(gz)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{"Content-Type": {"application/grpc"}, "Te": {"trailers"},
		"Grpc-Encoding": {"gzip"}, "Authorization": {"Bearer " + bombToken}}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return status.FromContextError(err).Err()
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return status.FromContextError(err).Err()
	}
	return grpcStatus(t, resp)
}

// grpcStatus is the status a gRPC response ends with: in its trailers, or
// in its headers when it has nothing else.
func grpcStatus(t *testing.T, resp *http.Response) error {
	t.Helper()
	h := resp.Trailer
	if resp.Header.Get("Grpc-Status") != "" {
		h = resp.Header
	}
	if details := h.Get("Grpc-Status-Details-Bin"); details != "" {
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(details, "="))
		st := &spb.Status{}
		if err == nil {
			err = proto.Unmarshal(raw, st)
		}
		if err != nil {
			t.Fatalf("grpc-status-details-bin: %v", err)
		}
		return status.FromProto(st).Err()
	}
	code, err := strconv.Atoi(h.Get("Grpc-Status"))
	if err != nil {
		t.Fatalf("no grpc-status: %v %v", resp.Header, resp.Trailer)
	}
	msg, err := url.PathUnescape(h.Get("Grpc-Message"))
	if err != nil {
		t.Fatal(err)
	}
	return status.Error(codes.Code(code), msg)
}

// Issue 19 #5: 32 MB of empty TypedColumns, sent gzipped, are counted on the
// wire and refused INVALID_ARGUMENT naming the 1,600-column limit before
// anything is allocated for them; the server's peak RSS grows by less than
// 150 MiB (gRPC inflates the 32 MB body, the handler copies it once).
// Before: +4.7 GB.
func TestAttackEmptyTypedColumnsRefused(t *testing.T) {
	t.Parallel()
	p, _ := bombTarget(t)
	const columns = 16 << 20
	head := protowire.AppendVarint(protowire.AppendTag(rawRequest(t, appendCfg), 3, protowire.BytesType), 2*columns)
	runs := []run{once(head), {[]byte{1<<3 | 2, 0}, columns}}
	gz := gzipRuns(t, runs)
	var err error
	c := p.measure(t, func() { err = p.postGzip(context.Background(), t, gz) })
	t.Logf("%s body (%d empty typed columns), %s gzipped: %v; %s", mib(int64(len(head)+2*columns)), columns, kib(len(gz)), status.Code(err), c)
	wantStatus(t, err, codes.InvalidArgument, "at most 1600 distinct columns")
	if c.grew() >= 150<<20 {
		t.Errorf("peak RSS grew by %s, want < 150 MiB", mib(c.grew()))
	}
}

// fieldViolation is the field a refusal's BadRequest detail names.
func fieldViolation(err error) string {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) > 0 {
			return br.FieldViolations[0].Field
		}
	}
	return ""
}

// Issue 19 #6: 16 MB of empty config fields, sent gzipped, are refused
// INVALID_ARGUMENT as non-canonical, and 16 MB of empty pk entries in one
// config INVALID_ARGUMENT naming config.pk and its limit of 32, each with
// less than 100 MiB of peak RSS growth (the inflated body is 16 MB).
// Before: +690 MB and +470 MB.
func TestAttackEmptyConfigFieldsRefused(t *testing.T) {
	t.Parallel()
	const fields = 8 << 20
	cfg := rawRequest(t, appendCfg)[2:] // the LoadConfig's own bytes
	pkHead := append(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.BytesType), uint64(len(cfg)+2*fields)), cfg...)
	for _, tt := range []struct {
		name  string
		runs  []run
		field string
		want  []string
	}{
		{"config", []run{{[]byte{1<<3 | 2, 0}, fields}}, "request", []string{"non-canonical"}},
		{"pk", []run{once(pkHead), {[]byte{4<<3 | 2, 0}, fields}}, "config.pk", []string{"at most 32"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := bombTarget(t)
			gz := gzipRuns(t, tt.runs)
			var err error
			c := p.measure(t, func() { err = p.postGzip(context.Background(), t, gz) })
			t.Logf("empty %s fields: %s body, %s gzipped: %v; %s", tt.name, mib(int64(2*fields)), kib(len(gz)), status.Code(err), c)
			wantStatus(t, err, codes.InvalidArgument, tt.want...)
			if f := fieldViolation(err); f != tt.field {
				t.Errorf("the refusal names field %q, want %q", f, tt.field)
			}
			if c.grew() >= 100<<20 {
				t.Errorf("peak RSS grew by %s, want < 100 MiB", mib(c.grew()))
			}
		})
	}
}

// wideRow is a row of 1,600 null columns, "a" and c1 … c1599.
func wideRow() []byte {
	entries := [][]byte{mapEntry("a", nullValue)}
	for i := 1; i < 1600; i++ {
		entries = append(entries, mapEntry("c"+strconv.Itoa(i), nullValue))
	}
	return structOf(entries...)
}

// narrowRow is a row of one column "a" whose Value sets no kind (NULL): 9
// bytes on the wire, 1,600 values once the other columns are filled in.
var narrowRow = structOf(mapEntry("a", nil))

// planCfg plans a load of t.
var planCfg = &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, PlanOnly: true}

// Issue 19 #7: four concurrent plan-only Loads of a row of 1,600 columns and
// 5,241 rows of one (a missing key costs nothing on the wire), 65 KB each,
// are refused RESOURCE_EXHAUSTED naming LOADSVC_MAX_PLAN_BYTES before their
// batch is built: the server's peak RSS grows by less than 64 MiB; so are
// four of 40,000 rows (0.4 MB). Before: +1.36 GB, and a 25 MB plan for
// each.
func TestAttackWidePlansRefused(t *testing.T) {
	t.Parallel()
	attackEach(t, []int{3495, 5242, 40_000}, func(t *testing.T, p *binProc, _ string, rows int) {
		all := [][]byte{wideRow()}
		for range rows - 1 {
			all = append(all, narrowRow)
		}
		body := rawRequest(t, planCfg, all...)
		errs := make([]error, 4)
		c := p.measure(t, func() {
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() { errs[i] = p.invokeRaw(t, body, false) })
			}
			wg.Wait()
		})
		t.Logf("4 × %s body, 1,600 columns × %d rows, plan-only: %v; %s", kib(len(body)), rows, codesOf(errs), c)
		for _, err := range errs {
			wantStatus(t, err, codes.ResourceExhausted, "LOADSVC_MAX_PLAN_BYTES")
		}
		if c.grew() >= 64<<20 {
			t.Errorf("peak RSS grew by %s, want < 64 MiB", mib(c.grew()))
		}
	})
}

func codesOf(errs []error) map[codes.Code]int {
	n := map[codes.Code]int{}
	for _, err := range errs {
		n[status.Code(err)]++
	}
	return n
}

// rawStream sends msgs as the messages of a LoadStream with the token and
// returns how it ended. It stops sending when the server has ended the call.
func (p *binProc) rawStream(ctx context.Context, msgs [][]byte) error {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+bombToken)
	s, err := p.conn.NewStream(ctx, &grpc.StreamDesc{StreamName: "LoadStream", ClientStreams: true},
		"/loadsvc.v1.LoadService/LoadStream", grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if s.SendMsg(&m) != nil {
			break // the server ended the call: RecvMsg says how
		}
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	var reply []byte
	return s.RecvMsg(&reply)
}

// Issue 19 #8: a plan-only LoadStream of a row of 1,600 columns and 39,999
// rows of one (about 370 KB), in messages of 5,000 or of 10,000 rows, is
// refused RESOURCE_EXHAUSTED naming LOADSVC_MAX_PLAN_BYTES, with less than
// 64 MiB of peak RSS growth. Before: +4.8–5.0 GB.
func TestAttackWidePlanStreamRefused(t *testing.T) {
	t.Parallel()
	rows := [][]byte{wideRow()}
	for range 39_999 {
		rows = append(rows, narrowRow)
	}
	attackEach(t, []int{3495, 5000, 10_000}, func(t *testing.T, p *binProc, _ string, each int) {
		var msgs [][]byte
		for i := 0; i < len(rows); i += each {
			cfg := planCfg
			if i > 0 {
				cfg = nil
			}
			msgs = append(msgs, rawRequest(t, cfg, rows[i:min(i+each, len(rows))]...))
		}
		var err error
		c := p.measure(t, func() { err = p.rawStream(context.Background(), msgs) })
		t.Logf("plan-only stream, %d messages of %d rows, %s, 1,600 columns × 40,000 rows: %v; %s",
			len(msgs), each, kib(len(bytes.Join(msgs, nil))), status.Code(err), c)
		wantStatus(t, err, codes.ResourceExhausted, "LOADSVC_MAX_PLAN_BYTES")
		if c.grew() >= 64<<20 {
			t.Errorf("peak RSS grew by %s, want < 64 MiB", mib(c.grew()))
		}
	})
}

// metricsTarget is bombTarget with the metrics listener on, and env.
func metricsTarget(t *testing.T, env ...string) (p *binProc, url, metricsAddr string) {
	t.Helper()
	metricsAddr = testenv.FreeAddr(t)
	p, url = bombTarget(t, append(env, "LOADSVC_METRICS_LISTEN="+metricsAddr)...)
	return p, url, metricsAddr
}

// scrape is the metrics endpoint's text.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	var text []byte
	r, err := http.Get("http://" + addr + "/metrics")
	if err == nil {
		defer r.Body.Close()
		text, err = io.ReadAll(r.Body)
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// metricValue is the value of the sample of name whose labels include every
// one of labels (`table="t"`), 0 when there is none; it sums when several
// match.
func metricValue(t *testing.T, text, name string, labels ...string) float64 {
	t.Helper()
	sum := 0.0
	for line := range strings.SplitSeq(text, "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		set, value, _ := strings.Cut(rest, "} ")
		matches := true
		for _, l := range labels {
			matches = matches && strings.Contains(","+set+",", ","+l+",")
		}
		if matches {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			sum += v
		}
	}
	return sum
}

// mergeRuns is a load of one row whose column is a Value of repeated
// list_value fields (issue 19 #3), of at most size bytes.
func mergeRuns(t *testing.T, size int) []run {
	t.Helper()
	unit := repeatedList(1)
	for n := size / len(unit); ; n-- {
		value := bytes.Repeat(unit, n)
		b := rawRequest(t, appendCfg, structOf(mapEntry("id", value)))
		if len(b) <= size {
			head := b[:len(b)-len(value)]
			return []run{once(head), {unit, n}}
		}
	}
}

// Issue 19 #9: three gzipped merge requests that together take all but a
// few bytes of LOADSVC_MAX_INFLIGHT_BYTES=8MiB are refused INVALID_ARGUMENT
// at once, so an ordinary 1-row load sent while they are in flight, with a
// 5 s deadline, loads its row. Before: they pinned the budget for as long
// as their quadratic merges ran, and the 1-row load ended DEADLINE_EXCEEDED.
func TestAttackMergesDoNotPinTheBudget(t *testing.T) {
	t.Parallel()
	p, url, metricsAddr := metricsTarget(t, "LOADSVC_MAX_INFLIGHT_BYTES=8388608", "LOADSVC_MAX_RECV_BYTES=8388608")
	runs := mergeRuns(t, 8<<20/3)
	gz := gzipRuns(t, runs)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	var ended atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); wg.Wait() }()
	var one error
	done := make(chan struct{})
	c := p.measure(t, func() {
		for i := range errs {
			wg.Go(func() {
				defer ended.Add(1)
				errs[i] = p.postGzip(ctx, t, gz)
			})
		}
		go func() { wg.Wait(); close(done) }()
		waitCalls(t, metricsAddr, "Load", len(errs), ended.Load)
		octx, ocancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ocancel()
		one = p.invokeRawCtx(octx, rawRequest(t, appendCfg, structOf(mapEntry("id", numberValue(1)))), false)
	})
	t.Logf("3 × %s merge bodies, %s gzipped, then a 1-row load with a 5 s deadline: the 1-row load %v; %s",
		mib(int64(len(joinRuns(runs)))), kib(len(gz)), status.Code(one), c)
	if one != nil {
		t.Errorf("the 1-row load: %v, want OK", one)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the merges did not end within 5 s")
	}
	t.Logf("the merges: %v", codesOf(errs))
	for _, err := range errs {
		wantStatus(t, err, codes.InvalidArgument, "non-canonical")
	}
	if c.cpu >= 2*time.Second {
		t.Errorf("%s, want under 2 s of server CPU", c)
	}
	if n := adminCount(t, url, `SELECT count(*) FROM t`); n != 1 {
		t.Errorf("table has %d rows, want the 1-row load's", n)
	}
}

// waitCalls waits until n calls of method have each either started on the
// server (in flight, from its metrics) or ended on the client (ended).
func waitCalls(t *testing.T, metricsAddr, method string, n int, ended func() int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		inflight := metricValue(t, scrape(t, metricsAddr), "loadsvc_inflight_loads", `method="`+method+`"`)
		if int(inflight)+int(ended()) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s calls neither ended nor were in flight within 10 s", n, method)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// typedNotes are n typed rows {id: first+i, note: 80 bytes}, about 90
// bytes each on the wire.
func typedNotes(first, n int) *loadsvcv1.TypedRows {
	ids, notes := make([]int64, n), make([]string, n)
	for i := range ids {
		ids[i], notes[i] = int64(first+i), strings.Repeat("x", 80)
	}
	return &loadsvcv1.TypedRows{Columns: []*loadsvcv1.TypedColumn{{Name: "id", Int64S: ids}, {Name: "note", Texts: notes}}}
}

// Issue 19 #11: against a pool of 2 connections that a load waits for
// without end (LOADSVC_ACQUIRE_TIMEOUT=0), three LoadStreams start and two
// of them take both connections; then four unary Loads of 2 MB ask for
// nearly all of LOADSVC_MAX_INFLIGHT_BYTES=8MiB; then the streams send
// their next messages of 0.5 MB. Every call ends within 60 s: OK, or a
// unary Load refused RESOURCE_EXHAUSTED as busy; never UNAVAILABLE, never a
// hang. The table holds exactly the rows of the calls that succeeded.
// Before: a unary Load took budget then connection, a stream's message
// connection then budget: a deadlock, ended by the 60 s deadline.
func TestAttackBudgetAndPoolTakenInOneOrder(t *testing.T) {
	t.Parallel()
	url := cluster.NewDatabase(t)
	adminExec(t, url, `CREATE TABLE t (id int, note text)`)
	metricsAddr := testenv.FreeAddr(t)
	p := startBinary(t, []string{"LOADSVC_DATABASE_URL=" + url + "&pool_max_conns=2", "LOADSVC_ACQUIRE_TIMEOUT=0",
		"LOADSVC_MAX_INFLIGHT_BYTES=8388608", "LOADSVC_MAX_RECV_BYTES=8388608", "LOADSVC_STREAM_SHARE_BYTES=2097152",
		"LOADSVC_METRICS_LISTEN=" + metricsAddr})
	client := loadsvcv1.NewLoadServiceClient(p.conn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const streams, unary, span = 3, 4, 100_000 // call i loads ids from i*span
	const streamMsgs, streamRows, unaryRows = 3, 6000, 24_000
	cfg := &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}
	errs := make([]error, streams+unary)
	rows := make([]int, streams+unary)
	var wg sync.WaitGroup
	var ended atomic.Int64
	next := make(chan struct{}) // the streams send their next messages
	start := time.Now()
	for i := range streams {
		rows[i] = streamMsgs * streamRows
		wg.Go(func() { errs[i] = sendStream(ctx, client, cfg, i*span, streamMsgs, streamRows, next) })
	}
	waitCalls(t, metricsAddr, "LoadStream", streams, func() int64 { return 0 })
	waitOpenTransactions(t, url, 2)
	for i := streams; i < streams+unary; i++ {
		rows[i] = unaryRows
		wg.Go(func() {
			defer ended.Add(1)
			_, errs[i] = client.Load(ctx, &loadsvcv1.LoadRequest{Config: cfg, TypedRows: typedNotes(i*span, unaryRows)})
		})
	}
	waitCalls(t, metricsAddr, "Load", unary, ended.Load)
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d streams of %d × %d rows, %d unary loads of %d rows (%s each) against a pool of 2: %v in %v; streams %v, unary %v",
		streams, streamMsgs, streamRows, unary, unaryRows, mib(int64(proto.Size(typedNotes(0, unaryRows)))),
		codesOf(errs), elapsed.Round(time.Millisecond), codesOf(errs[:streams]), codesOf(errs[streams:]))
	var ok []string
	want := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok = append(ok, strconv.Itoa(i))
			want += rows[i]
		case i >= streams && status.Code(err) == codes.ResourceExhausted:
			wantStatus(t, err, codes.ResourceExhausted, "busy", "LOADSVC_MAX_INFLIGHT_BYTES")
		default:
			t.Errorf("call %d (a stream: %v): %v, want OK, or a unary load refused as busy", i, i < streams, err)
		}
	}
	if n := adminCount(t, url, `SELECT count(*) FROM t`); n != int64(want) {
		t.Errorf("table has %d rows, want the %d of the calls that succeeded", n, want)
	}
	if len(ok) > 0 {
		if n := adminCount(t, url, `SELECT count(*) FROM t WHERE id / `+strconv.Itoa(span)+` NOT IN (`+strings.Join(ok, ",")+`)`); n != 0 {
			t.Errorf("table has %d rows of calls that failed", n)
		}
	}
}

// sendStream sends a LoadStream of msgs messages of n typed rows from id
// first, the first message as soon as it starts, the others once next is
// closed.
func sendStream(ctx context.Context, client loadsvcv1.LoadServiceClient, cfg *loadsvcv1.LoadConfig, first, msgs, n int, next <-chan struct{}) error {
	s, err := client.LoadStream(ctx)
	if err != nil {
		return err
	}
	for m := range msgs {
		req := &loadsvcv1.LoadStreamRequest{TypedRows: typedNotes(first+m*n, n)}
		if m == 0 {
			req.Config = cfg
		} else {
			<-next
		}
		if s.Send(req) != nil {
			break // the server ended the call: CloseAndRecv says how
		}
	}
	_, err = s.CloseAndRecv()
	return err
}

// Issue 19 #12: 1,000 plan-only loads of as many tables that do not exist
// count under table="(plan)", admitted loads of missing tables
// (NOT_FOUND) under "(unresolved)", and neither takes a table label: the
// next real table's load counts under its own name, not "(other)". Before:
// the plans took every one of the 1,000 label slots.
func TestAttackPlansTakeNoTableLabels(t *testing.T) {
	t.Parallel()
	p, _, metricsAddr := metricsTarget(t)
	const plans, missing = 1000, 20
	loadEach := func(n int, cfg func(i int) *loadsvcv1.LoadConfig, want codes.Code) {
		work := make(chan int)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for i := range work {
					err := p.invokeRaw(t, rawRequest(t, cfg(i), structOf(mapEntry("id", numberValue(1)))), false)
					if status.Code(err) != want {
						t.Errorf("load %d of %s: %v, want %s", i, cfg(i).Table, err, want)
					}
				}
			})
		}
		for i := range n {
			work <- i
		}
		close(work)
		wg.Wait()
	}
	loadEach(plans, func(i int) *loadsvcv1.LoadConfig {
		return &loadsvcv1.LoadConfig{Table: fmt.Sprintf("planned_%d", i), Mode: loadsvcv1.Mode_MODE_APPEND, PlanOnly: true}
	}, codes.OK)
	loadEach(missing, func(i int) *loadsvcv1.LoadConfig {
		return &loadsvcv1.LoadConfig{Table: fmt.Sprintf("missing_%d", i), Mode: loadsvcv1.Mode_MODE_APPEND}
	}, codes.NotFound)
	p.oneRow(t, 1)
	text := scrape(t, metricsAddr)
	const loads = "loadsvc_loads_total"
	planned := metricValue(t, text, loads, `table="(plan)"`, `code="OK"`, `plan_only="true"`)
	unresolved := metricValue(t, text, loads, `table="(unresolved)"`, `code="NotFound"`)
	own := metricValue(t, text, loads, `table="t"`, `code="OK"`)
	t.Logf(`%d plans of missing tables, %d loads of missing tables, 1 of t: loads_total (plan) %v, (unresolved) %v, t %v, (other) %v`,
		plans, missing, planned, unresolved, own, metricValue(t, text, loads, `table="(other)"`))
	if planned != plans || unresolved != missing || own != 1 {
		t.Errorf(`loads_total: table="(plan)" %v, want %d; "(unresolved)" NotFound %v, want %d; "t" OK %v, want 1`, planned, plans, unresolved, missing, own)
	}
	for _, name := range []string{"planned_", "missing_", "(other)"} {
		if strings.Contains(text, name) {
			t.Errorf("/metrics names %q", name)
		}
	}
}
