package pgstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
)

// endsTxCases are statements fn may send, and whether DoTx refuses them.
// conservative marks texts refused though the server would not end the
// transaction with them (they fail to parse or to run).
var endsTxCases = []struct {
	name         string
	sql          string
	ends         bool
	conservative bool
}{
	{"Commit", "COMMIT", true, false},
	{"CommitLower", "commit work", true, false},
	{"CommitTransaction", "Commit Transaction;", true, false},
	{"End", "END", true, false},
	{"EndWork", "end work", true, false},
	{"Abort", "ABORT", true, false},
	{"Rollback", "ROLLBACK", true, false},
	{"RollbackTransaction", "ROLLBACK TRANSACTION", true, false},
	{"CommitAndChain", "COMMIT AND CHAIN", true, false},
	{"RollbackAndChain", "rollback and chain", true, false},
	{"EndAndChain", "END AND CHAIN", true, false},
	{"AbortAndChain", "ABORT WORK AND CHAIN", true, false},
	{"PrepareTransaction", "PREPARE TRANSACTION 'gid'", true, false},
	{"CommitPrepared", "COMMIT PREPARED 'gid'", true, true},
	{"RollbackPrepared", "ROLLBACK PREPARED 'gid'", true, true},
	{"AfterSelect", "SELECT 1; COMMIT", true, false},
	{"BetweenSelects", "SELECT 1;ROLLBACK;SELECT 2", true, false},
	{"AfterEmptyStatements", ";;; END", true, false},
	{"AfterBlockComment", "/* note */ COMMIT", true, false},
	{"AfterNestedComment", "/* a /* b */ c */ ROLLBACK", true, false},
	{"AfterLineComment", "-- note\nABORT", true, false},
	{"AfterLineCommentCR", "-- note\rCOMMIT", true, false},
	{"CommentInside", "COMMIT /* ; */ AND /* x */ CHAIN", true, false},
	{"AfterStringWithSemicolon", "SELECT 'a;b'; COMMIT", true, false},
	{"AfterDoubledQuote", "SELECT 'it''s;'; COMMIT", true, false},
	{"AfterEString", `SELECT E'\';'; COMMIT`, true, false},
	{"AfterDollarQuote", "SELECT $$;$$; END", true, false},
	{"AfterTaggedDollarQuote", "SELECT $f$ $$ ; $f$; ROLLBACK", true, false},
	{"AfterQuotedIdentifier", `SELECT 1 AS "a;""b"; COMMIT`, true, false},
	{"AfterParameterLikeDollar", "SELECT 1 WHERE $1$2 IS NULL; COMMIT", true, true},
	{"BackslashEitherWay", `SELECT 'a\''; COMMIT; --'`, true, false},
	{"AfterFunctionBody", "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; COMMIT", true, false},
	{"InsideFunctionBody", "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql BEGIN ATOMIC COMMIT; END", true, true},
	{"BeginAtomicNotARoutine", "CREATE TEMP VIEW v AS SELECT 1 AS begin, 2 atomic; END", true, false},
	{"Parenthesised", "(COMMIT)", true, true},

	{"RollbackToSavepoint", "SAVEPOINT s; ROLLBACK TO SAVEPOINT s", false, false},
	{"RollbackWorkTo", "SAVEPOINT s; ROLLBACK WORK TO s", false, false},
	{"ReleaseSavepoint", "SAVEPOINT s; RELEASE SAVEPOINT s", false, false},
	{"Begin", "BEGIN", false, false},
	{"StartTransaction", "START TRANSACTION", false, false},
	{"InString", "SELECT 'COMMIT'", false, false},
	{"StatementInString", "SELECT '; COMMIT'", false, false},
	{"InEString", `SELECT E'\'; COMMIT'`, false, false},
	{"InDollarQuote", "SELECT $$; COMMIT; $$", false, false},
	{"InTaggedDollarQuote", "SELECT $x$; $$; ROLLBACK; $x$", false, false},
	{"InBlockComment", "/* ; COMMIT */ SELECT 1", false, false},
	{"InNestedComment", "/* /* */ ; COMMIT */ SELECT 1", false, false},
	{"InLineComment", "SELECT 1 -- ; COMMIT", false, false},
	{"InQuotedIdentifier", `SELECT 1 AS "; COMMIT"`, false, false},
	{"ColumnNamedEnd", `SELECT 1 AS "end"; SELECT 2 AS commit`, false, false},
	{"CaseEnd", "SELECT CASE WHEN true THEN 1 END", false, false},
	{"FunctionBody", "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END", false, false},
	{"OrReplaceProcedureBody", "CREATE OR REPLACE PROCEDURE pg_temp.p() LANGUAGE sql BEGIN ATOMIC SELECT 1; END", false, false},
	{"DoBlockCommit", "DO $$BEGIN COMMIT; END$$", false, false},
	{"PrepareStatement", "PREPARE tx_plan AS SELECT 1", false, false},
	{"DollarInIdentifier", "SELECT 1 AS a$b$; SELECT 2", false, false},
}

func TestEndsTx(t *testing.T) {
	t.Parallel()
	for _, tc := range endsTxCases {
		if got := pgstore.EndsTx(tc.sql); got != tc.ends {
			t.Errorf("%s: EndsTx(%q) = %v; want %v", tc.name, tc.sql, got, tc.ends)
		}
	}
}

// TestEndsTxAgreesWithServer sends each case inside a transaction, with
// standard_conforming_strings on and off, and checks the scanner against
// what the server did: a text the scanner lets through never ends the
// transaction, and one it refuses does (unless marked conservative).
func TestEndsTxAgreesWithServer(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, tc := range endsTxCases {
		ended := false
		for _, scs := range []string{"on", "off"} {
			if serverEnds(t, ctx, conn, tc.sql, scs) {
				ended = true
			}
		}
		switch {
		case !tc.ends && ended:
			t.Errorf("%s: %q ended the transaction on the server, and the scanner lets it through", tc.name, tc.sql)
		case tc.ends && !ended && !tc.conservative:
			t.Errorf("%s: %q did not end the transaction on the server; mark it conservative if refusing it is meant", tc.name, tc.sql)
		}
	}
}

// serverEnds runs sql in a transaction and reports whether that
// transaction ended (or was replaced).
func serverEnds(t *testing.T, ctx context.Context, conn *pgx.Conn, sql, scs string) bool {
	t.Helper()
	if _, err := conn.Exec(ctx, "BEGIN; SET LOCAL standard_conforming_strings = "+scs); err != nil {
		t.Fatal(err)
	}
	var xid string
	if err := conn.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	_, _ = conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol) // errors are fine: did it end?
	ended := false
	switch conn.PgConn().TxStatus() {
	case 'I':
		ended = true
	case 'T':
		var now string
		if err := conn.QueryRow(ctx, `SELECT coalesce(pg_current_xact_id_if_assigned()::text, '')`).Scan(&now); err != nil {
			t.Fatal(err)
		}
		ended = now != xid
	}
	if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	return ended
}

// FuzzEndsTx: a transaction-ending statement is found before or after
// any text hidden in a string, comment or dollar quote, and nothing
// hidden there is ever taken for one.
func FuzzEndsTx(f *testing.F) {
	for _, tc := range endsTxCases {
		f.Add(tc.sql)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = pgstore.EndsTx(s) // never panics
		if !pgstore.EndsTx("COMMIT;" + s) {
			t.Fatalf("COMMIT before %q not found", s)
		}
		hidden := []string{
			"SELECT $q$ " + strip(s, "$q$") + " $q$",
			"/* " + strip(strip(s, "*/"), "/*") + " */",
			"--" + strip(strip(s, "\n"), "\r") + "\n",
			"SELECT '" + strings.ReplaceAll(strip(s, `\`), "'", "''") + "'",
			"SELECT E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'",
			`SELECT 1 AS "` + strings.ReplaceAll(s, `"`, `""`) + `"`,
		}
		for _, h := range hidden {
			if pgstore.EndsTx(h) {
				t.Fatalf("hidden text taken for a transaction end: %q", h)
			}
			for _, end := range []string{"COMMIT", "rollback and chain", "END", "PREPARE TRANSACTION 'x'"} {
				if sql := h + ";\n" + end; !pgstore.EndsTx(sql) {
					t.Fatalf("%s after hidden text not found: %q", end, sql)
				}
			}
		}
	})
}

// strip removes every occurrence of sub from s, including those the
// removals form.
func strip(s, sub string) string {
	for strings.Contains(s, sub) {
		s = strings.ReplaceAll(s, sub, "")
	}
	return s
}
