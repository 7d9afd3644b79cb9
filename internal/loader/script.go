package loader

import "strings"

// Script renders the plan as one psql script that performs the same load:
// its own BEGIN/COMMIT (the stage is ON COMMIT DROP), each COPY followed by
// its rows inline and the \. terminator. `psql -f` alone runs it.
func (p *Plan) Script() string {
	stmts := p.Statements()
	if len(stmts) == 0 {
		return ""
	}
	cols := allColumns(len(p.Batch.Columns))
	ordinal := p.Config.Compares()
	var b strings.Builder
	// The script is UTF-8 whatever psql's client encoding would be
	// (PGCLIENTENCODING, a terminal's locale); set before any non-ASCII byte.
	b.WriteString("\\encoding UTF8\n")
	// A newline or CR in a name would end the comment and run the rest of
	// the name as SQL or as a psql meta-command.
	b.WriteString("-- loadsvc plan: " + p.Config.Mode.String() + " into " + commentEscaper.Replace(p.Config.Target()) + ", " + itoa(p.Batch.Len()) + " rows\n")
	b.WriteString("\\set ON_ERROR_STOP on\n")
	// Every literal of the script is an E'' literal, inert under either
	// setting; the script still pins the setting before anything else.
	b.WriteString("SET standard_conforming_strings = on;\nBEGIN;\n")
	var line []byte
	for _, s := range stmts {
		b.WriteString(s.SQL)
		b.WriteString(";\n")
		if s.role != RoleCopy && s.role != RoleCopyTarget {
			continue
		}
		for i := s.first; i < s.first+int(s.Rows); i++ {
			line = AppendCopyRow(line[:0], p.Batch.Row(i), cols)
			if ordinal {
				line = AppendOrdinal(line, i)
			}
			b.Write(line)
		}
		b.WriteString("\\.\n")
	}
	b.WriteString("COMMIT;\n")
	return b.String()
}

// ScriptBytes is at most the bytes of Script and of the plan's statements,
// counted without writing them: what a plan's answer takes.
func (p *Plan) ScriptBytes() int {
	n := 512 + 2*len(p.Config.Target()) // the lines around the statements
	for _, s := range p.Statements() {
		n += 2 * (len(s.SQL) + 4) // in the script and among the statements
	}
	for _, f := range p.Batch.Values {
		n += 2*len(f.Text) + 3 // escaped at worst, a separator, \N
	}
	return n + 21*p.Batch.Len() // the ordinal and the end of each line
}

// commentEscaper keeps text on one line of an SQL comment.
var commentEscaper = strings.NewReplacer("\n", `\n`, "\r", `\r`)

// Statements renders the plan's statements as the executor runs them when
// the table accepts every column the rows carry.
func (p *Plan) Statements() []Statement {
	return Statements(&p.Config, Shape{
		Columns: p.Batch.Columns,
		Rows:    p.Batch.Len(),
		Dropped: p.DuplicatesDropped,
		Lock:    p.Config.Locks(),
		Ordinal: p.Config.Compares(),
	})
}

// Locks reports whether loads of this mode serialize on the table's lock
// (Shape.Lock).
func (c *Config) Locks() bool {
	return c.Mode != ModeAppend
}

func allColumns(n int) []int {
	cols := make([]int, n)
	for i := range cols {
		cols[i] = i
	}
	return cols
}
