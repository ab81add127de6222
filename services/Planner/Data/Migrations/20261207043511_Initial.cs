using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Agents.Planner.Data.Migrations
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "catalog_tools",
                columns: table => new
                {
                    name = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    description = table.Column<string>(type: "text", nullable: false),
                    input_schema = table.Column<string>(type: "text", nullable: false),
                    output_schema = table.Column<string>(type: "text", nullable: false),
                    side_effect = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    risk = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    version = table.Column<string>(type: "text", nullable: false),
                    instance = table.Column<string>(type: "text", nullable: false),
                    announced_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    received_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_catalog_tools", x => x.name);
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
                name: "plan_versions",
                columns: table => new
                {
                    plan_id = table.Column<Guid>(type: "uuid", nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false),
                    task_id = table.Column<Guid>(type: "uuid", nullable: false),
                    tenant_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    user_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    source = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    steps_json = table.Column<string>(type: "jsonb", nullable: false),
                    rationale = table.Column<string>(type: "text", nullable: true),
                    goal = table.Column<string>(type: "text", nullable: true),
                    template_name = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    template_version = table.Column<int>(type: "integer", nullable: true),
                    parameters_json = table.Column<string>(type: "jsonb", nullable: true),
                    allowed_tools_json = table.Column<string>(type: "jsonb", nullable: true),
                    revision_reason = table.Column<string>(type: "text", nullable: true),
                    model_attempts = table.Column<int>(type: "integer", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_plan_versions", x => new { x.plan_id, x.version });
                });

            migrationBuilder.CreateTable(
                name: "workflow_templates",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    name = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false),
                    description = table.Column<string>(type: "text", nullable: false),
                    parameters_json = table.Column<string>(type: "jsonb", nullable: false),
                    steps_json = table.Column<string>(type: "jsonb", nullable: false),
                    created_by = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    retired = table.Column<bool>(type: "boolean", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_workflow_templates", x => new { x.tenant_id, x.name, x.version });
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
                name: "ix_plan_versions_task_id_version",
                table: "plan_versions",
                columns: new[] { "task_id", "version" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_plan_versions_tenant_id_task_id",
                table: "plan_versions",
                columns: new[] { "tenant_id", "task_id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "catalog_tools");

            migrationBuilder.DropTable(
                name: "messaging_inbox_state");

            migrationBuilder.DropTable(
                name: "messaging_outbox_message");

            migrationBuilder.DropTable(
                name: "plan_versions");

            migrationBuilder.DropTable(
                name: "workflow_templates");
        }
    }
}
