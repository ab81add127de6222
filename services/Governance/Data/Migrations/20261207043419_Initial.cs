using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Agents.Governance.Data.Migrations
{
    /// <summary>
    /// The governance database: policies, budgets and usage, approvals, the audit chain (append-only, enforced by
    /// triggers), kill switches, loop counts, model reservations and the messaging inbox/outbox.
    /// </summary>
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "approvals",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    tenant_id = table.Column<string>(type: "text", nullable: false),
                    task_id = table.Column<Guid>(type: "uuid", nullable: false),
                    step_id = table.Column<string>(type: "text", nullable: false),
                    tool = table.Column<string>(type: "text", nullable: false),
                    arguments_hash = table.Column<string>(type: "text", nullable: false),
                    arguments_json = table.Column<string>(type: "text", nullable: false),
                    arguments_tainted = table.Column<bool>(type: "boolean", nullable: false),
                    tainted_arguments = table.Column<string>(type: "jsonb", nullable: false, defaultValueSql: "'[]'::jsonb"),
                    requested_by = table.Column<string>(type: "text", nullable: false),
                    reason = table.Column<string>(type: "text", nullable: false),
                    approver_roles = table.Column<string[]>(type: "text[]", nullable: false),
                    status = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    escalated = table.Column<bool>(type: "boolean", nullable: false),
                    decided_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    decided_by = table.Column<string>(type: "text", nullable: true),
                    comment = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_approvals", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "audit_entries",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "text", nullable: false),
                    sequence = table.Column<long>(type: "bigint", nullable: false),
                    time = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    actor = table.Column<string>(type: "text", nullable: false),
                    action = table.Column<string>(type: "text", nullable: false),
                    subject = table.Column<string>(type: "text", nullable: false),
                    task_id = table.Column<Guid>(type: "uuid", nullable: true),
                    decision = table.Column<string>(type: "text", nullable: true),
                    reason = table.Column<string>(type: "text", nullable: true),
                    details = table.Column<string>(type: "text", nullable: false),
                    prev_hash = table.Column<string>(type: "text", nullable: false),
                    hash = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_audit_entries", x => new { x.tenant_id, x.sequence });
                });

            migrationBuilder.CreateTable(
                name: "audit_heads",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "text", nullable: false),
                    last_sequence = table.Column<long>(type: "bigint", nullable: false),
                    last_hash = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_audit_heads", x => x.tenant_id);
                });

            migrationBuilder.CreateTable(
                name: "daily_usage",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "text", nullable: false),
                    day = table.Column<DateOnly>(type: "date", nullable: false),
                    user_id = table.Column<string>(type: "text", nullable: false),
                    tokens = table.Column<long>(type: "bigint", nullable: false),
                    cost = table.Column<decimal>(type: "numeric(18,6)", precision: 18, scale: 6, nullable: false),
                    tool_calls = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_daily_usage", x => new { x.tenant_id, x.day, x.user_id });
                });

            migrationBuilder.CreateTable(
                name: "kill_switches",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "text", nullable: false),
                    tool = table.Column<string>(type: "text", nullable: false),
                    enabled = table.Column<bool>(type: "boolean", nullable: false),
                    changed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    changed_by = table.Column<string>(type: "text", nullable: false),
                    reason = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_kill_switches", x => new { x.tenant_id, x.tool });
                });

            migrationBuilder.CreateTable(
                name: "messaging_inbox_state",
                columns: table => new
                {
                    message_id = table.Column<Guid>(type: "uuid", nullable: false),
                    consumer_id = table.Column<Guid>(type: "uuid", nullable: false),
                    received = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    receive_count = table.Column<int>(type: "integer", nullable: false),
                    consumed = table.Column<DateTime>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_messaging_inbox_state", x => new { x.message_id, x.consumer_id });
                });

            migrationBuilder.CreateTable(
                name: "messaging_outbox_message",
                columns: table => new
                {
                    sequence_number = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    message_id = table.Column<Guid>(type: "uuid", nullable: false),
                    inbox_message_id = table.Column<Guid>(type: "uuid", nullable: true),
                    inbox_consumer_id = table.Column<Guid>(type: "uuid", nullable: true),
                    created = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    due_time = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    schedule_token_id = table.Column<Guid>(type: "uuid", nullable: true),
                    delivered = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    failed_attempts = table.Column<int>(type: "integer", nullable: false),
                    conversation_id = table.Column<Guid>(type: "uuid", nullable: true),
                    correlation_id = table.Column<Guid>(type: "uuid", nullable: true),
                    initiator_id = table.Column<Guid>(type: "uuid", nullable: true),
                    request_id = table.Column<Guid>(type: "uuid", nullable: true),
                    source_address = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: true),
                    destination_address = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: true),
                    response_address = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: true),
                    fault_address = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: true),
                    expiration_time = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    sent_time = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    headers_json = table.Column<string>(type: "text", nullable: true),
                    properties_json = table.Column<string>(type: "text", nullable: true),
                    content_type = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    message_type = table.Column<string>(type: "text", nullable: false),
                    body = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_messaging_outbox_message", x => x.sequence_number);
                });

            migrationBuilder.CreateTable(
                name: "model_reservations",
                columns: table => new
                {
                    task_id = table.Column<Guid>(type: "uuid", nullable: false),
                    step_id = table.Column<string>(type: "text", nullable: false),
                    attempt = table.Column<int>(type: "integer", nullable: false),
                    day = table.Column<DateOnly>(type: "date", nullable: false),
                    granted = table.Column<bool>(type: "boolean", nullable: false),
                    max_output_tokens = table.Column<int>(type: "integer", nullable: false),
                    tokens = table.Column<long>(type: "bigint", nullable: false),
                    cost = table.Column<decimal>(type: "numeric(18,6)", precision: 18, scale: 6, nullable: false),
                    reason = table.Column<string>(type: "text", nullable: true),
                    budget_exhausted = table.Column<bool>(type: "boolean", nullable: false),
                    reserved_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    settled_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_model_reservations", x => new { x.task_id, x.step_id, x.attempt });
                });

            migrationBuilder.CreateTable(
                name: "policies",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "text", nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false),
                    document = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    created_by = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_policies", x => new { x.tenant_id, x.version });
                });

            migrationBuilder.CreateTable(
                name: "processed_messages",
                columns: table => new
                {
                    key = table.Column<string>(type: "text", nullable: false),
                    processed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    response = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_processed_messages", x => x.key);
                });

            migrationBuilder.CreateTable(
                name: "task_budgets",
                columns: table => new
                {
                    task_id = table.Column<Guid>(type: "uuid", nullable: false),
                    tenant_id = table.Column<string>(type: "text", nullable: false),
                    user_id = table.Column<string>(type: "text", nullable: false),
                    admitted = table.Column<bool>(type: "boolean", nullable: false),
                    rejection_reason = table.Column<string>(type: "text", nullable: true),
                    admitted_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    day = table.Column<DateOnly>(type: "date", nullable: false),
                    max_steps = table.Column<int>(type: "integer", nullable: true),
                    max_tool_calls = table.Column<int>(type: "integer", nullable: true),
                    max_tokens = table.Column<int>(type: "integer", nullable: true),
                    max_cost = table.Column<decimal>(type: "numeric(18,6)", precision: 18, scale: 6, nullable: true),
                    max_wall_clock_seconds = table.Column<int>(type: "integer", nullable: true),
                    allowed_tools = table.Column<string[]>(type: "text[]", nullable: true),
                    tokens = table.Column<long>(type: "bigint", nullable: false),
                    cost = table.Column<decimal>(type: "numeric(18,6)", precision: 18, scale: 6, nullable: false),
                    tool_calls = table.Column<int>(type: "integer", nullable: false),
                    steps = table.Column<int>(type: "integer", nullable: false),
                    finished_status = table.Column<string>(type: "text", nullable: true),
                    template = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_task_budgets", x => x.task_id);
                });

            migrationBuilder.CreateTable(
                name: "tool_call_counts",
                columns: table => new
                {
                    task_id = table.Column<Guid>(type: "uuid", nullable: false),
                    tool = table.Column<string>(type: "text", nullable: false),
                    arguments_hash = table.Column<string>(type: "text", nullable: false),
                    count = table.Column<int>(type: "integer", nullable: false),
                    step_ids = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tool_call_counts", x => new { x.task_id, x.tool, x.arguments_hash });
                });

            migrationBuilder.CreateIndex(
                name: "ix_approvals_status_expires_at",
                table: "approvals",
                columns: new[] { "status", "expires_at" });

            migrationBuilder.CreateIndex(
                name: "ix_approvals_task_id_step_id",
                table: "approvals",
                columns: new[] { "task_id", "step_id" });

            migrationBuilder.CreateIndex(
                name: "ix_approvals_tenant_id_status",
                table: "approvals",
                columns: new[] { "tenant_id", "status" });

            migrationBuilder.CreateIndex(
                name: "ix_audit_entries_tenant_id_task_id",
                table: "audit_entries",
                columns: new[] { "tenant_id", "task_id" });

            migrationBuilder.CreateIndex(
                name: "ix_messaging_inbox_state_received",
                table: "messaging_inbox_state",
                column: "received");

            migrationBuilder.CreateIndex(
                name: "ix_messaging_outbox_message_delivered",
                table: "messaging_outbox_message",
                column: "delivered",
                filter: "delivered IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_messaging_outbox_message_due",
                table: "messaging_outbox_message",
                column: "due_time",
                filter: "delivered IS NULL AND due_time IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_messaging_outbox_message_pending",
                table: "messaging_outbox_message",
                column: "sequence_number",
                filter: "delivered IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_messaging_outbox_message_schedule_token_id",
                table: "messaging_outbox_message",
                column: "schedule_token_id",
                filter: "schedule_token_id IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_model_reservations_day",
                table: "model_reservations",
                column: "day",
                filter: "settled_at IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_model_reservations_reserved_at",
                table: "model_reservations",
                column: "reserved_at");

            migrationBuilder.CreateIndex(
                name: "ix_processed_messages_processed_at",
                table: "processed_messages",
                column: "processed_at");

            migrationBuilder.CreateIndex(
                name: "ix_task_budgets_tenant_id_day",
                table: "task_budgets",
                columns: new[] { "tenant_id", "day" });

            // The audit trail is append-only in the database itself: entries cannot be updated, deleted or truncated, and a
            // tenant's chain head only moves strictly forward and is never deleted. The hash chain still detects what a
            // table owner does with the triggers disabled (see the service's README).
            migrationBuilder.Sql(
                """
                CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                        USING ERRCODE = 'insufficient_privilege';
                END $$;
                CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
                    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
                CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
                    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();
                CREATE FUNCTION audit_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'UPDATE' OR NEW.tenant_id <> OLD.tenant_id OR NEW.last_sequence <= OLD.last_sequence THEN
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
            migrationBuilder.DropTable(
                name: "approvals");

            migrationBuilder.DropTable(
                name: "audit_entries");

            migrationBuilder.DropTable(
                name: "audit_heads");

            migrationBuilder.DropTable(
                name: "daily_usage");

            migrationBuilder.DropTable(
                name: "kill_switches");

            migrationBuilder.DropTable(
                name: "messaging_inbox_state");

            migrationBuilder.DropTable(
                name: "messaging_outbox_message");

            migrationBuilder.DropTable(
                name: "model_reservations");

            migrationBuilder.DropTable(
                name: "policies");

            migrationBuilder.DropTable(
                name: "processed_messages");

            migrationBuilder.DropTable(
                name: "task_budgets");

            migrationBuilder.DropTable(
                name: "tool_call_counts");

            migrationBuilder.Sql(
                """
                DROP FUNCTION IF EXISTS audit_heads_forward_only();
                DROP FUNCTION IF EXISTS audit_entries_append_only();
                """);
        }
    }
}
