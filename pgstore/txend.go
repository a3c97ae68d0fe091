package pgstore

import "strings"

// endsTx reports whether sql, one statement or several separated by
// semicolons (the simple protocol runs them all), holds a statement that
// ends or hands over the current transaction: COMMIT, END, ROLLBACK and
// ABORT (AND CHAIN too), PREPARE TRANSACTION, COMMIT PREPARED and
// ROLLBACK PREPARED. ROLLBACK TO SAVEPOINT does not end it.
//
// It lexes as PostgreSQL does: comments (nested /* */ and --), string
// literals (standard, and E-prefixed with backslash escapes), quoted identifiers and
// dollar quotes hide what they hold. How a plain string treats a
// backslash depends on standard_conforming_strings, which fn may change,
// so the text is read both ways and refused when either finds such a
// statement. Every semicolon outside those starts a statement, except
// inside the BEGIN ATOMIC body of CREATE FUNCTION or PROCEDURE, where the
// body's closing END is not one. Splitting at too many places can only
// refuse more: the server runs nothing of a text it cannot parse.
func endsTx(sql string) bool {
	return scanEndsTx(sql, false) || scanEndsTx(sql, true)
}

// scanEndsTx is endsTx with plain strings read with backslash escapes
// (standard_conforming_strings off) or without.
func scanEndsTx(sql string, backslashes bool) bool {
	var (
		stmt   words // the current statement's first words
		sub    words // inside a BEGIN ATOMIC body: its current statement's
		parens int
		atomic int    // depth inside a BEGIN ATOMIC body
		prev   string // the previous word
	)
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexAny(sql[i:], "\n\r") // either ends it
			if j < 0 {
				i = len(sql)
			} else {
				i += j + 1
			}
			continue
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			i = skipBlockComment(sql, i)
			continue
		case c == ';':
			i++
			prev = ""
			if atomic > 0 {
				// A statement of the body: refuse one that ends a
				// transaction all the same; END closes the body.
				if sub.first() != "end" && endsStmt(sub) {
					return true
				}
				sub = words{}
				continue
			}
			if endsStmt(stmt) {
				return true
			}
			stmt, sub, parens = words{}, words{}, 0
			continue
		}
		switch {
		case c == '\'':
			i = skipString(sql, i, backslashes)
			prev = ""
		case c == '"':
			i = skipQuoted(sql, i, '"')
			stmt.add("\"") // an identifier, never a keyword
			prev = ""
		case c == '$':
			if j, ok := dollarTag(sql, i); ok {
				tag := sql[i:j]
				if k := strings.Index(sql[j:], tag); k < 0 {
					i = len(sql)
				} else {
					i = j + k + len(tag)
				}
			} else {
				i++
			}
			prev = ""
		case isIdentStart(c) || isDigit(c):
			j := i + 1
			for j < len(sql) && isIdentCont(sql[j]) {
				j++
			}
			w := strings.ToLower(sql[i:j])
			i = j
			if i < len(sql) && sql[i] == '\'' && (w == "e" || w == "x" || w == "b" || w == "n") {
				// A prefixed string: an E-string has backslash escapes
				// whatever the setting.
				i = skipString(sql, i, backslashes || w == "e")
				prev = ""
				continue
			}
			if atomic > 0 {
				sub.add(w)
				if parens == 0 {
					switch w {
					case "begin", "case":
						atomic++
					case "end":
						atomic--
					}
				}
			} else {
				stmt.add(w)
				if w == "atomic" && prev == "begin" && parens == 0 && stmt.createsRoutine() {
					atomic = 1
				}
			}
			prev = w
		case c == '(':
			parens++
			i++
			prev = ""
		case c == ')':
			parens--
			i++
			prev = ""
		default:
			i++
			prev = ""
		}
	}
	return endsStmt(stmt) || atomic > 0 && sub.first() != "end" && endsStmt(sub)
}

// words holds the first words of a statement, in lower case.
type words struct {
	w [4]string
	n int
}

func (s *words) add(w string) {
	if s.n < len(s.w) {
		s.w[s.n] = w
		s.n++
	}
}

func (s *words) at(i int) string { return s.w[i] }

func (s *words) first() string { return s.w[0] }

// createsRoutine reports whether the statement is CREATE [OR REPLACE]
// FUNCTION or PROCEDURE, whose body may be BEGIN ATOMIC ... END.
func (s *words) createsRoutine() bool {
	routine := func(w string) bool { return w == "function" || w == "procedure" }
	return s.at(0) == "create" && (routine(s.at(1)) || s.at(1) == "or" && s.at(2) == "replace" && routine(s.at(3)))
}

// endsStmt reports whether a statement beginning with s ends or hands
// over the transaction.
func endsStmt(s words) bool {
	switch s.at(0) {
	case "commit", "end", "abort":
		return true
	case "rollback":
		// ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name keeps it.
		i := 1
		if w := s.at(1); w == "work" || w == "transaction" {
			i = 2
		}
		return s.at(i) != "to"
	case "prepare":
		return s.at(1) == "transaction"
	}
	return false
}

// skipBlockComment returns the index after the (nested) comment at i, or
// len(sql) when it does not end.
func skipBlockComment(sql string, i int) int {
	depth := 0
	for i < len(sql) {
		switch {
		case sql[i] == '/' && i+1 < len(sql) && sql[i+1] == '*':
			depth++
			i += 2
		case sql[i] == '*' && i+1 < len(sql) && sql[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return i
}

// skipString returns the index after the string literal opening at i
// (a doubled quote is a quote inside; with backslashes, \ escapes the next byte).
func skipString(sql string, i int, backslashes bool) int {
	for i++; i < len(sql); i++ {
		switch sql[i] {
		case '\\':
			if backslashes {
				i++
			}
		case '\'':
			if i+1 < len(sql) && sql[i+1] == '\'' {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(sql)
}

// skipQuoted returns the index after the quoted identifier opening at i.
func skipQuoted(sql string, i int, q byte) int {
	for i++; i < len(sql); i++ {
		if sql[i] == q {
			if i+1 < len(sql) && sql[i+1] == q {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(sql)
}

// dollarTag returns the end of the dollar-quote tag ($$ or $name$) at i.
// $1 is a parameter, not a tag.
func dollarTag(sql string, i int) (int, bool) {
	j := i + 1
	if j < len(sql) && isIdentStart(sql[j]) {
		for j++; j < len(sql) && isIdentStart(sql[j]) || j < len(sql) && isDigit(sql[j]); j++ {
		}
	}
	if j < len(sql) && sql[j] == '$' {
		return j + 1, true
	}
	return 0, false
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentCont(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }
