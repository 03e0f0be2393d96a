import java.sql.*;
import java.util.*;

/** Drives streamsql with pgJDBC: prepared statements past the server-side
 *  threshold, metadata calls, fetch-size cursors. Exits non-zero on failure. */
public class JdbcCheck {
    static void check(boolean ok, String what) {
        if (!ok) { throw new AssertionError(what); }
    }

    public static void main(String[] args) throws Exception {
        String url = args[0];
        Properties p = new Properties();
        p.setProperty("user", "jdbc");
        try (Connection c = DriverManager.getConnection(url, p)) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE trades (symbol TEXT PRIMARY KEY, price DOUBLE PRECISION, qty NUMERIC(10,2), ts TIMESTAMP)");
                s.execute("CREATE VIEW big AS SELECT * FROM trades WHERE price > 100");
            }
            // more than prepareThreshold (5) executions: the driver switches to a
            // named server-side statement with binary transfer
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO trades VALUES (?, ?, ?, ?)")) {
                for (int i = 0; i < 12; i++) {
                    ins.setString(1, "S" + i);
                    ins.setDouble(2, 10.5 * i);
                    ins.setBigDecimal(3, new java.math.BigDecimal(i + ".25"));
                    ins.setTimestamp(4, Timestamp.valueOf("2026-01-01 00:00:0" + (i % 10)));
                    check(ins.executeUpdate() == 1, "insert count");
                }
            }
            try (PreparedStatement q = c.prepareStatement("SELECT symbol, price, qty, ts FROM trades WHERE price >= ? ORDER BY price")) {
                for (int i = 0; i < 8; i++) {
                    q.setDouble(1, 100.0);
                    int n = 0;
                    try (ResultSet rs = q.executeQuery()) {
                        while (rs.next()) {
                            n++;
                            check(rs.getString(1).startsWith("S"), "symbol");
                            check(rs.getDouble(2) >= 100.0, "price");
                            check(rs.getBigDecimal(3).scale() == 2, "numeric scale " + rs.getBigDecimal(3));
                            check(rs.getTimestamp(4) != null, "timestamp");
                        }
                    }
                    check(n == 2, "rows " + n);
                }
            }
            // NULLs and errors
            try (PreparedStatement q = c.prepareStatement("SELECT ?::text IS NULL")) {
                q.setNull(1, Types.VARCHAR);
                try (ResultSet rs = q.executeQuery()) { rs.next(); check(rs.getBoolean(1), "null param"); }
            }
            try (Statement s = c.createStatement()) {
                s.executeQuery("SELECT * FROM missing");
                check(false, "expected an error");
            } catch (SQLException e) {
                check("42P01".equals(e.getSQLState()), "SQLSTATE " + e.getSQLState());
            }
            // metadata
            DatabaseMetaData md = c.getMetaData();
            Set<String> tables = new HashSet<>();
            try (ResultSet rs = md.getTables(null, "public", "%", new String[]{"TABLE", "VIEW"})) {
                while (rs.next()) { tables.add(rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE")); }
            }
            check(tables.contains("trades:TABLE") && tables.contains("big:VIEW"), "getTables " + tables);
            List<String> cols = new ArrayList<>();
            try (ResultSet rs = md.getColumns(null, "public", "trades", "%")) {
                while (rs.next()) { cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME")); }
            }
            check(cols.equals(Arrays.asList("symbol:text", "price:float8", "qty:numeric", "ts:timestamp")), "getColumns " + cols);
            // keys, indexes and types, as DBeaver, Metabase and other JDBC tools read them
            List<String> pk = new ArrayList<>();
            try (ResultSet rs = md.getPrimaryKeys(null, "public", "trades")) {
                while (rs.next()) { pk.add(rs.getString("COLUMN_NAME") + ":" + rs.getInt("KEY_SEQ") + ":" + rs.getString("PK_NAME")); }
            }
            check(pk.equals(Arrays.asList("symbol:1:trades_pkey")), "getPrimaryKeys " + pk);
            List<String> idx = new ArrayList<>();
            try (ResultSet rs = md.getIndexInfo(null, "public", "trades", false, true)) {
                while (rs.next()) { idx.add(rs.getString("INDEX_NAME") + ":" + rs.getString("COLUMN_NAME") + ":" + rs.getBoolean("NON_UNIQUE") + ":" + rs.getString("ASC_OR_DESC")); }
            }
            check(idx.equals(Arrays.asList("trades_pkey:symbol:false:A")), "getIndexInfo " + idx);
            List<String> best = new ArrayList<>();
            try (ResultSet rs = md.getBestRowIdentifier(null, "public", "trades", DatabaseMetaData.bestRowSession, true)) {
                while (rs.next()) { best.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME")); }
            }
            check(best.equals(Arrays.asList("symbol:text")), "getBestRowIdentifier " + best);
            try (ResultSet rs = md.getImportedKeys(null, "public", "trades")) { check(!rs.next(), "getImportedKeys"); }
            try (ResultSet rs = md.getExportedKeys(null, "public", "trades")) { check(!rs.next(), "getExportedKeys"); }
            Set<String> typeNames = new HashSet<>();
            try (ResultSet rs = md.getTypeInfo()) {
                while (rs.next()) { typeNames.add(rs.getString("TYPE_NAME")); }
            }
            check(typeNames.containsAll(Arrays.asList("int4", "text", "numeric", "timestamptz", "jsonb", "_int4")), "getTypeInfo " + typeNames);
            try (ResultSet rs = md.getVersionColumns(null, "public", "trades")) { while (rs.next()) { } }
            try (ResultSet rs = md.getUDTs(null, "public", "%", null)) { while (rs.next()) { } }
            // a fetch-size cursor (portal with a row limit) inside a transaction
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.setFetchSize(5);
                int n = 0;
                try (ResultSet rs = s.executeQuery("SELECT * FROM generate_series(1, 23)")) {
                    while (rs.next()) { n++; check(rs.getInt(1) == n, "fetch order"); }
                }
                check(n == 23, "fetched " + n);
            }
            c.commit();
        }
        System.out.println("jdbc ok");
    }
}
