package main

import (
	"fmt"
	"math/big"
	"strconv"
	"sync"
	"time"
)

// The benchmark table: a daily NAV report per pension plan and company.
const tableName = "bench_nav"

// columns are the table's columns in table order (also the CSV order).
var columns = []string{"report_date", "plan_code", "company_code", "return_rate", "nav", "scale", "data_source"}

// keyColumns are the primary key.
var keyColumns = columns[:3]

const createTableSQL = `CREATE TABLE ` + tableName + ` (
	report_date  date NOT NULL,
	plan_code    text NOT NULL,
	company_code text NOT NULL,
	return_rate  numeric(8,6),
	nav          numeric(18,4),
	scale        numeric(18,2),
	data_source  text
) WITH (autovacuum_enabled = off)`

const addKeySQL = `ALTER TABLE ` + tableName + ` ADD PRIMARY KEY (report_date, plan_code, company_code)`

// The key space: row i is company i%companies of plan-slot (i/companies)%plans
// on business day i/rowsPerDay. Plan slots map to plan codes through a
// bijection, so that within a day rows do not arrive in key order.
const (
	companies  = 50
	plans      = 2000
	rowsPerDay = companies * plans
	planMul    = 769 // prime, coprime with plans
	maxDays    = 10_000
)

var sources = []string{"custodian", "ta_system", "bloomberg", "wind", "manual_entry"}

// staleSource marks the rows a delete_insert figure must replace.
const staleSource = "stale"

// row is one generated row; numbers are scaled integers.
type row struct {
	day, plan, company int
	returnRate         int64 // × 10⁻⁶, numeric(8,6)
	nav                int64 // × 10⁻⁴, numeric(18,4)
	scale              int64 // × 10⁻², numeric(18,2)
	source             string
}

// maxRows is the most rows the key space holds.
const maxRows = maxDays * rowsPerDay

// genRow is row i, a pure function of i. A stale row has the same key and
// other values, so a load that replaces it shows in the table.
func genRow(i int, stale bool) row {
	h := splitmix64(uint64(i) + 0x5eed)
	h2 := splitmix64(h)
	r := i % rowsPerDay
	w := row{
		day:        i / rowsPerDay,
		plan:       (r / companies * planMul) % plans,
		company:    r%companies + 1,
		returnRate: int64(h%400_001) - 200_000,             // -0.200000 .. 0.200000
		nav:        5_000 + int64((h>>24)%95_000),          // 0.5000 .. 9.9999
		scale:      10_000_000 + int64(h2%999_990_000_000), // 100,000.00 .. 10,000,000,000.00
		source:     sources[(h>>12)%uint64(len(sources))],
	}
	if stale {
		w.nav++
		w.source = staleSource
	}
	return w
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// The key parts as text (and the days as time.Time), computed once.
var (
	keyTexts = sync.OnceValue(func() (t struct {
		days                    []time.Time
		dates, plans, companies []string
	}) {
		monday := time.Date(2020, 1, 6, 0, 0, 0, 0, time.UTC)
		for d := 0; d < maxDays; d++ {
			t.days = append(t.days, monday.AddDate(0, 0, d/5*7+d%5))
			t.dates = append(t.dates, t.days[d].Format("2006-01-02"))
		}
		for p := 0; p < plans; p++ {
			t.plans = append(t.plans, fmt.Sprintf("P%06d", 100+p*7))
		}
		for c := 0; c <= companies; c++ {
			t.companies = append(t.companies, fmt.Sprintf("C%04d", c))
		}
		return t
	})
)

func (w *row) date() string     { return keyTexts().dates[w.day] }
func (w *row) planCode() string { return keyTexts().plans[w.plan] }
func (w *row) compCode() string { return keyTexts().companies[w.company] }

// appendScaled appends v × 10^-scale in plain decimal.
func appendScaled(b []byte, v int64, scale int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	p := int64(1)
	for range scale {
		p *= 10
	}
	b = strconv.AppendInt(b, v/p, 10)
	if scale == 0 {
		return b
	}
	b = append(b, '.')
	frac := strconv.AppendInt(nil, v%p, 10)
	for range scale - len(frac) {
		b = append(b, '0')
	}
	return append(b, frac...)
}

func scaledText(v int64, scale int) string { return string(appendScaled(nil, v, scale)) }

// scaledFloat is v × 10^-scale as the float64 nearest to that decimal, so
// that its shortest form reads back as the same decimal.
func scaledFloat(v int64, scale int) float64 {
	p := 1.0
	for range scale {
		p *= 10
	}
	return float64(v) / p
}

// appendCSV appends row w as one CSV line in table column order. No value
// needs quoting.
func appendCSV(b []byte, w *row) []byte {
	b = append(b, w.date()...)
	b = append(b, ',')
	b = append(b, w.planCode()...)
	b = append(b, ',')
	b = append(b, w.compCode()...)
	b = append(b, ',')
	b = appendScaled(b, w.returnRate, 6)
	b = append(b, ',')
	b = appendScaled(b, w.nav, 4)
	b = append(b, ',')
	b = appendScaled(b, w.scale, 2)
	b = append(b, ',')
	b = append(b, w.source...)
	return append(b, '\n')
}

// sums are what a range of rows adds up to, as PostgreSQL prints sum() of
// each numeric column.
type sums struct {
	count, stale                int64
	returnRate, nav, scaleTotal big.Int
}

// add adds rows [from, to) of the stale or fresh variant.
func (s *sums) add(from, to int, stale bool) {
	var rr, nav, sc int64
	flush := func() {
		s.returnRate.Add(&s.returnRate, big.NewInt(rr))
		s.nav.Add(&s.nav, big.NewInt(nav))
		s.scaleTotal.Add(&s.scaleTotal, big.NewInt(sc))
		rr, nav, sc = 0, 0, 0
	}
	for i := from; i < to; i++ {
		w := genRow(i, stale)
		rr += w.returnRate
		nav += w.nav
		sc += w.scale
		if (i-from)%4096 == 4095 {
			flush()
		}
	}
	flush()
	s.count += int64(to - from)
	if stale {
		s.stale += int64(to - from)
	}
}

// expectSums returns the sums of fresh rows [0, fresh) and stale rows
// [fresh, total).
func expectSums(fresh, total int) *sums {
	s := &sums{}
	s.add(0, fresh, false)
	s.add(fresh, total, true)
	return s
}

// bigScaled formats v × 10^-scale as PostgreSQL prints a numeric of that scale.
func bigScaled(v *big.Int, scale int) string {
	neg := v.Sign() < 0
	digits := new(big.Int).Abs(v).String()
	for len(digits) <= scale {
		digits = "0" + digits
	}
	out := digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	if neg {
		out = "-" + out
	}
	return out
}
