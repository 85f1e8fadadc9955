import PostgresClient

extension Migrator {
    /// What the service role may do, table by table, and nothing more: `serve`,
    /// `import` and `reconcile` need these and only these. It may append to
    /// `audit_events` and read it, read `audit_chain` and record runs in
    /// `audit_verifications` (for `audit verify`), read
    /// `callers` (managing them is the owner's: `caller add`, `caller revoke`), and
    /// read the schema version (`/readyz`). Beyond tables: it may run
    /// `audit_chain_lock()`, through which the chain trigger, running as the
    /// role that appends, takes the head's lock (migration 0013).
    static let servicePrivileges: [(table: String, privileges: String)] = [
        ("accounts", "SELECT, INSERT, UPDATE"),
        ("idempotency_keys", "SELECT, INSERT, UPDATE, DELETE"),
        ("rate_limits", "SELECT, INSERT, UPDATE"),
        ("upstream_breaker", "SELECT, INSERT, UPDATE, DELETE"),
        ("audit_events", "SELECT, INSERT"),
        ("audit_chain", "SELECT"),
        ("audit_verifications", "SELECT, INSERT"),
        ("callers", "SELECT"),
        ("schema_migrations", "SELECT"),
    ]

    /// Grants the existing role `role` exactly `servicePrivileges` in this
    /// schema, after revoking whatever it held here before, in one transaction.
    /// Refuses a role that could undo the point of it: a superuser, one that may
    /// create roles, the owner itself or a member of the owner's role, or one that
    /// owns anything in the schema. Under the migrations' advisory lock, so
    /// replicas that each run `migrate --service-role` at once take turns
    /// (concurrent REVOKE/GRANT on the same objects fail in PostgreSQL with
    /// "tuple concurrently updated").
    public func grant(serviceRole role: String) async throws {
        try await pool.withTransaction { connection in
            _ = try connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))")
            let found = try connection.query("""
                SELECT quote_ident(r.rolname) AS quoted, quote_ident(current_schema()) AS schema,
                       quote_ident(current_database()) AS database, r.rolsuper AS superuser,
                       r.rolcreaterole AS createrole, r.rolname = current_user AS is_owner,
                       pg_has_role(r.oid, current_user, 'MEMBER') AS owner_member,
                       EXISTS (SELECT FROM pg_class c WHERE c.relowner = r.oid
                               AND c.relnamespace = current_schema()::regnamespace) AS owns_tables,
                       EXISTS (SELECT FROM pg_proc p WHERE p.proowner = r.oid
                               AND p.pronamespace = current_schema()::regnamespace) AS owns_functions,
                       to_regprocedure(quote_ident(current_schema()) || '.audit_chain_lock()') IS NOT NULL AS has_chain_lock
                FROM pg_roles r WHERE r.rolname = \(role)
                """).rows.first
            guard let found else {
                throw Failure(description: "--service-role \(role): no such role; create it first (CREATE ROLE \(role) LOGIN PASSWORD '…')")
            }
            if try found.bool("is_owner") {
                throw Failure(description: "--service-role \(role) is the role migrate runs as; the service role must be another role that owns nothing")
            }
            if try found.bool("superuser") || found.bool("createrole") {
                throw Failure(description: "--service-role \(role) is a superuser or may create roles, so it could grant itself anything; use a plain LOGIN role")
            }
            if try found.bool("owner_member") {
                throw Failure(description: "--service-role \(role) is a member of the owner role and so has its privileges; REVOKE that membership first")
            }
            if try found.bool("owns_tables") || found.bool("owns_functions") {
                throw Failure(description: "--service-role \(role) owns tables or functions in this schema; the service role must own nothing (REASSIGN OWNED BY \(role) TO the owner)")
            }
            let quoted = try found.string("quoted"), schema = try found.string("schema"), database = try found.string("database")
            var script = """
                REVOKE ALL ON ALL TABLES IN SCHEMA \(schema) FROM \(quoted);
                REVOKE ALL ON ALL SEQUENCES IN SCHEMA \(schema) FROM \(quoted);
                REVOKE CREATE ON SCHEMA \(schema) FROM \(quoted);
                GRANT CONNECT ON DATABASE \(database) TO \(quoted);
                GRANT USAGE ON SCHEMA \(schema) TO \(quoted);

                """
            for (table, privileges) in Self.servicePrivileges {
                script += "GRANT \(privileges) ON \(schema).\(table) TO \(quoted);\n"
            }
            if try found.bool("has_chain_lock") {  // before 0013 the trigger took the lock as its owner
                script += "GRANT EXECUTE ON FUNCTION \(schema).audit_chain_lock() TO \(quoted);\n"
            }
            try connection.executeScript(script)
        }
        logger.notice("service role granted", metadata: ["db.role": "\(role)"])
    }
}
