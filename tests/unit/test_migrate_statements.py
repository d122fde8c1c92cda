"""shared.migrate.statements: a migration's script split into the commands asyncpg prepares one at a time."""

from shared.migrate import statements


def test_a_script_is_split_where_a_line_ends_in_a_semicolon_outside_a_function_body() -> None:
    script = """
CREATE TABLE t (id int);
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('c', 'x');
    RETURN NULL;
END
$$;
CREATE TRIGGER t_f AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f();
"""
    found = [s.strip() for s in statements(script) if s.strip()]
    assert [s.split()[:2] for s in found] == [["CREATE", "TABLE"], ["CREATE", "FUNCTION"], ["CREATE", "TRIGGER"]]
    assert found[1].endswith("END\n$$") and "RETURN NULL;" in found[1]
