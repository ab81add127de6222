using Agents.Governance.Data;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Governance.Data.Migrations
{
    /// <summary>
    /// A tenant's audit head may only move strictly forward: an update that keeps the sequence (and could rewrite
    /// the last hash) is refused too. Refusals name the table they were refused on.
    /// </summary>
    [DbContext(typeof(GovernanceDbContext))]
    [Migration("20261128070000_AuditHeadsStrictlyForward")]
    public partial class AuditHeadsStrictlyForward : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                """
                CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                        USING ERRCODE = 'insufficient_privilege';
                END $$;

                CREATE OR REPLACE FUNCTION audit_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'UPDATE' OR NEW.tenant_id <> OLD.tenant_id OR NEW.last_sequence <= OLD.last_sequence THEN
                        RAISE EXCEPTION 'audit_heads only moves forward: % refused for tenant %', TG_OP, OLD.tenant_id
                            USING ERRCODE = 'insufficient_privilege';
                    END IF;
                    RETURN NEW;
                END $$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                """
                CREATE OR REPLACE FUNCTION audit_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'UPDATE' OR NEW.tenant_id <> OLD.tenant_id OR NEW.last_sequence < OLD.last_sequence THEN
                        RAISE EXCEPTION 'audit_heads only moves forward: % refused for tenant %', TG_OP, OLD.tenant_id
                            USING ERRCODE = 'insufficient_privilege';
                    END IF;
                    RETURN NEW;
                END $$;
                """);
        }
    }
}
