package main

import "strings"

// numFmtClass is what a number format makes of a cell's number.
type numFmtClass uint8

const (
	fmtNumber   numFmtClass = iota // a plain number
	fmtDate                        // a date, or a date and time
	fmtTimeOnly                    // a time of day, no date
)

// cellStyles holds the number format class of each cell style (the
// workbook's cellXfs, indexed by a cell's s attribute).
type cellStyles []numFmtClass

// class is the class of style s; an unknown style is a plain number.
func (c cellStyles) class(s int) numFmtClass {
	if s < 0 || s >= len(c) {
		return fmtNumber
	}
	return c[s]
}

// The built-in number formats that show dates (with or without a time)
// and those that show a time of day only. 27–36 and 50–58 are the East
// Asian locales' built-ins (年月日, 時分秒).
var (
	builtinDates = map[int]bool{14: true, 15: true, 16: true, 17: true, 22: true,
		27: true, 28: true, 29: true, 30: true, 31: true, 36: true,
		50: true, 51: true, 52: true, 53: true, 54: true, 57: true, 58: true}
	builtinTimes = map[int]bool{18: true, 19: true, 20: true, 21: true, 45: true, 46: true, 47: true,
		32: true, 33: true, 34: true, 35: true, 55: true, 56: true}
)

// classifyNumFmt classifies number format id, whose code is in custom when
// the workbook defines it.
func classifyNumFmt(id int, custom map[int]string) numFmtClass {
	if code, ok := custom[id]; ok {
		return classifyFormatCode(code)
	}
	switch {
	case builtinDates[id]:
		return fmtDate
	case builtinTimes[id]:
		return fmtTimeOnly
	}
	return fmtNumber
}

// classifyFormatCode tells a date or time format code from a number one by
// its tokens outside quotes, escapes and brackets, in its first section: y
// or d is a date, h or s (or AM/PM) a time, m alone a month. Elapsed-time
// brackets ([h], [mm]) count as a time.
func classifyFormatCode(code string) numFmtClass {
	code, _, _ = strings.Cut(code, ";")
	var date, clock, month bool
	lower := strings.ToLower(code)
	for i := 0; i < len(lower); i++ {
		switch c := lower[i]; c {
		case '"':
			if j := strings.IndexByte(lower[i+1:], '"'); j >= 0 {
				i += j + 1
			} else {
				i = len(lower)
			}
		case '\\', '_', '*':
			i++ // the next character is literal (or padding)
		case '[':
			j := strings.IndexByte(lower[i:], ']')
			if j < 0 {
				j = len(lower) - i
			}
			if strings.Trim(lower[i+1:i+j], "hms") == "" && j > 1 {
				clock = true
			}
			i += j
		case 'y', 'd':
			date = true
		case 'h', 's':
			clock = true
		case 'm':
			month = true
		case 'a':
			if strings.HasPrefix(lower[i:], "am/pm") || strings.HasPrefix(lower[i:], "a/p") {
				clock = true
			}
		}
	}
	switch {
	case date:
		return fmtDate
	case clock:
		return fmtTimeOnly
	case month:
		return fmtDate
	}
	return fmtNumber
}
