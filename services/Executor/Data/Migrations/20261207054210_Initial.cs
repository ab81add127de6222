using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Agents.Executor.Data.Migrations
{
    /// <summary>
    /// The executor database: tasks and their event logs (an insert notifies agents_task_changed), the TaskRun saga
    /// state (kept inline in its row), the tool catalog and the messaging inbox/outbox.
    /// </summary>
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
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
                name: "task_events",
                columns: table => new
                {
                    task_id = table.Column<Guid>(type: "uuid", nullable: false),
                    sequence = table.Column<long>(type: "bigint", nullable: false),
                    at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    kind = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    step_id = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    status = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    data = table.Column<string>(type: "jsonb", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_task_events", x => new { x.task_id, x.sequence });
                });

            migrationBuilder.CreateTable(
                name: "task_runs",
                columns: table => new
                {
                    correlation_id = table.Column<Guid>(type: "uuid", nullable: false),
                    current_state = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    xmin = table.Column<uint>(type: "xid", rowVersion: true, nullable: false),
                    principal = table.Column<string>(type: "jsonb", nullable: false),
                    goal = table.Column<string>(type: "text", nullable: true),
                    template_name = table.Column<string>(type: "text", nullable: true),
                    parameters = table.Column<string>(type: "jsonb", nullable: true),
                    requested_steps = table.Column<string>(type: "jsonb", nullable: true),
                    requested_limits = table.Column<string>(type: "jsonb", nullable: true),
                    requested_tools = table.Column<string>(type: "jsonb", nullable: true),
                    limits = table.Column<string>(type: "jsonb", nullable: false),
                    allowed_tools = table.Column<string>(type: "jsonb", nullable: true),
                    status = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    compensating = table.Column<bool>(type: "boolean", nullable: false),
                    replay_of = table.Column<Guid>(type: "uuid", nullable: true),
                    what_if = table.Column<bool>(type: "boolean", nullable: false),
                    plan_requested = table.Column<bool>(type: "boolean", nullable: false),
                    revision_pending = table.Column<bool>(type: "boolean", nullable: false),
                    revisions = table.Column<int>(type: "integer", nullable: false),
                    planner_saw_untrusted = table.Column<bool>(type: "boolean", nullable: false),
                    plan = table.Column<string>(type: "jsonb", nullable: true),
                    steps = table.Column<string>(type: "jsonb", nullable: false),
                    compensable_steps = table.Column<string>(type: "jsonb", nullable: false),
                    compensation_queue = table.Column<string>(type: "jsonb", nullable: false),
                    tool_call_counts = table.Column<string>(type: "jsonb", nullable: false),
                    steps_started = table.Column<int>(type: "integer", nullable: false),
                    tool_calls = table.Column<int>(type: "integer", nullable: false),
                    input_tokens = table.Column<int>(type: "integer", nullable: false),
                    output_tokens = table.Column<int>(type: "integer", nullable: false),
                    cost = table.Column<decimal>(type: "numeric", nullable: false),
                    memory_count = table.Column<int>(type: "integer", nullable: false),
                    reason = table.Column<string>(type: "text", nullable: true),
                    result = table.Column<string>(type: "jsonb", nullable: true),
                    event_sequence = table.Column<long>(type: "bigint", nullable: false),
                    submitted_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    finished_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_task_runs", x => x.correlation_id);
                });

            migrationBuilder.CreateTable(
                name: "tasks",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    tenant_id = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    user_id = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    idempotency_key = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    request_hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    goal = table.Column<string>(type: "text", nullable: true),
                    template_name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    parameters = table.Column<string>(type: "jsonb", nullable: true),
                    requested_steps = table.Column<string>(type: "jsonb", nullable: true),
                    requested_limits = table.Column<string>(type: "jsonb", nullable: true),
                    allowed_tools = table.Column<string>(type: "jsonb", nullable: true),
                    status = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    state = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    reason = table.Column<string>(type: "text", nullable: true),
                    last_sequence = table.Column<long>(type: "bigint", nullable: false),
                    trace_id = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    finished_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tasks", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "tool_catalog",
                columns: table => new
                {
                    name = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    side_effect = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    compensable = table.Column<bool>(type: "boolean", nullable: false),
                    version = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    announced_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    received_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tool_catalog", x => x.name);
                });

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
                name: "ix_tasks_tenant_id_created_at",
                table: "tasks",
                columns: new[] { "tenant_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_tasks_tenant_id_user_id_idempotency_key",
                table: "tasks",
                columns: new[] { "tenant_id", "user_id", "idempotency_key" },
                unique: true,
                filter: "idempotency_key IS NOT NULL");

            // Every event appended to a task's log notifies channel agents_task_changed with the task id, so that event
            // streams (in any executor replica) wake at once instead of polling; PostgreSQL delivers a notification only
            // when its transaction commits, which is exactly when the change can be read.
            migrationBuilder.Sql(
                """
                CREATE FUNCTION agents_notify_task_event() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('agents_task_changed', NEW.task_id::text);
                    RETURN NULL;
                END $$;
                CREATE TRIGGER task_events_notify_changed AFTER INSERT ON task_events
                    FOR EACH ROW EXECUTE FUNCTION agents_notify_task_event();
                """);

            // A run's row is rewritten on every step: keep it in one piece. Rows stay uncompressed inline up to a page
            // (toast_tuple_target = 8160, not the default 2 kB, which wrote and deleted TOAST chunks on every rewrite);
            // beyond that the large columns (STORAGE MAIN) are compressed in the row before anything moves out of line.
            migrationBuilder.Sql(
                """
                ALTER TABLE task_runs SET (toast_tuple_target = 8160);
                ALTER TABLE task_runs ALTER COLUMN steps SET STORAGE MAIN;
                ALTER TABLE task_runs ALTER COLUMN plan SET STORAGE MAIN;
                ALTER TABLE task_runs ALTER COLUMN requested_steps SET STORAGE MAIN;
                ALTER TABLE task_runs ALTER COLUMN parameters SET STORAGE MAIN;
                ALTER TABLE task_runs ALTER COLUMN result SET STORAGE MAIN;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "messaging_inbox_state");

            migrationBuilder.DropTable(
                name: "messaging_outbox_message");

            migrationBuilder.DropTable(
                name: "task_events");

            migrationBuilder.DropTable(
                name: "task_runs");

            migrationBuilder.DropTable(
                name: "tasks");

            migrationBuilder.DropTable(
                name: "tool_catalog");

            migrationBuilder.Sql("DROP FUNCTION IF EXISTS agents_notify_task_event();");
        }
    }
}
