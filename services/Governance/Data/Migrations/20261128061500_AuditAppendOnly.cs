using Agents.Governance.Data;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Governance.Data.Migrations
{
    /// <summary>
    /// The audit trail becomes append-only in the database itself: entries cannot be updated, deleted or
    /// truncated, and a tenant's chain head can only move forward and never be deleted. The hash chain still
    /// detects what a table owner does with the triggers disabled (see the service's README).
    /// </summary>
    [DbContext(typeof(GovernanceDbContext))]
    [Migration("20261128061500_AuditAppendOnly")]
    public partial class AuditAppendOnly : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                """
                CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP
                        USING ERRCODE = 'insufficient_privilege';
                END $$;

                CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
                    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
                CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
                    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();

                CREATE FUNCTION audit_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'UPDATE' OR NEW.tenant_id <> OLD.tenant_id OR NEW.last_sequence < OLD.last_sequence THEN
                        RAISE EXCEPTION 'audit_heads only moves forward: % refused for tenant %', TG_OP, OLD.tenant_id
                            USING ERRCODE = 'insufficient_privilege';
                    END IF;
                    RETURN NEW;
                END $$;

                CREATE TRIGGER audit_heads_forward_only BEFORE UPDATE OR DELETE ON audit_heads
                    FOR EACH ROW EXECUTE FUNCTION audit_heads_forward_only();
                CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads
                    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                """
                DROP TRIGGER IF EXISTS audit_heads_no_truncate ON audit_heads;
                DROP TRIGGER IF EXISTS audit_heads_forward_only ON audit_heads;
                DROP FUNCTION IF EXISTS audit_heads_forward_only();
                DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries;
                DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries;
                DROP FUNCTION IF EXISTS audit_entries_append_only();
                """);
        }
    }
}
