"""psycopg 3 against a running memdb: connect, simple and prepared
statements (server-side prepare, binary results), transactions that roll
back and commit, notices, COPY, errors with SQLSTATE.

Usage: python psycopg_smoke.py HOST PORT   (exits non-zero on a failure)
"""

import sys

import psycopg
from psycopg import errors


def main(host: str, port: int) -> None:
    conninfo = f"host={host} port={port} user=postgres dbname=postgres"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS py_items")
        conn.execute("CREATE TABLE py_items (id int PRIMARY KEY, name text NOT NULL, price numeric(8,2))")

        # Prepared statements: prepare=True makes psycopg use a named
        # server-side statement; binary=True asks for binary results.
        for i in range(1, 6):
            conn.execute("INSERT INTO py_items VALUES (%s, %s, %s)", (i, f"item{i}", i * 1.5), prepare=True)
        cur = conn.execute("SELECT id, name, price FROM py_items WHERE id = %s", (3,), prepare=True, binary=True)
        assert cur.fetchone() == (3, "item3", psycopg.types.numeric.Decimal("4.50")), "prepared select"

        # A transaction that rolls back leaves nothing.
        conn.autocommit = False
        with conn.transaction(force_rollback=True):
            conn.execute("DELETE FROM py_items")
        conn.autocommit = True
        assert conn.execute("SELECT count(*) FROM py_items").fetchone() == (5,), "rollback"

        # One that commits is seen by another connection, and only then.
        conn.autocommit = False
        with psycopg.connect(conninfo, autocommit=True) as other:
            with conn.transaction():
                conn.execute("UPDATE py_items SET name = 'renamed' WHERE id = 2")
                seen = other.execute("SELECT name FROM py_items WHERE id = 2").fetchone()
                assert seen == ("item2",), f"uncommitted change visible: {seen}"
            seen = other.execute("SELECT name FROM py_items WHERE id = 2").fetchone()
            assert seen == ("renamed",), f"committed change not visible: {seen}"
        conn.autocommit = True

        # Notices reach the client's handler.
        notices = []
        conn.add_notice_handler(lambda d: notices.append((d.severity, d.sqlstate, d.message_primary)))
        conn.execute("DROP TABLE IF EXISTS py_nope")
        assert notices == [("NOTICE", "00000", 'table "py_nope" does not exist, skipping')], f"notices: {notices}"

        # Errors carry their SQLSTATE and leave the connection usable.
        try:
            conn.execute("INSERT INTO py_items VALUES (1, 'dup', 0)")
            raise AssertionError("duplicate key accepted")
        except errors.UniqueViolation as e:
            assert e.sqlstate == "23505"
        try:
            conn.execute("SELECT nope FROM py_items")
            raise AssertionError("unknown column accepted")
        except errors.UndefinedColumn as e:
            assert e.sqlstate == "42703"

        # COPY in and out.
        with conn.cursor() as c:
            with c.copy("COPY py_items (id, name) FROM STDIN") as copy:
                for i in range(10, 20):
                    copy.write_row((i, f"copied{i}"))
        assert conn.execute("SELECT count(*) FROM py_items").fetchone() == (15,), "copy in"
        with conn.cursor() as c:
            with c.copy("COPY (SELECT id FROM py_items WHERE id < 3 ORDER BY id) TO STDOUT") as copy:
                rows = [bytes(r) for r in copy]
        assert b"".join(rows) == b"1\n2\n", f"copy out: {rows}"
    print("psycopg: all checks passed")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
