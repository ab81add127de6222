using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Agents.Memory.Data.Migrations
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "memories",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    user_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    kind = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    text = table.Column<string>(type: "text", nullable: false),
                    source = table.Column<string>(type: "character varying(2048)", maxLength: 2048, nullable: false),
                    source_task_id = table.Column<Guid>(type: "uuid", nullable: true),
                    source_step_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    trust = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    stale_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    embedding = table.Column<float[]>(type: "real[]", nullable: true),
                    embedding_claim = table.Column<Guid>(type: "uuid", nullable: true),
                    embedding_claimed_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_memories", x => new { x.tenant_id, x.user_id, x.id });
                });

            migrationBuilder.CreateTable(
                name: "memory_scopes",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    user_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    version = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_memory_scopes", x => new { x.tenant_id, x.user_id });
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
                name: "procedures",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    agent = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    name = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false),
                    content = table.Column<string>(type: "text", nullable: false),
                    created_by = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_procedures", x => new { x.tenant_id, x.agent, x.name, x.version });
                });

            migrationBuilder.CreateTable(
                name: "short_term_messages",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    tenant_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    user_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    session_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    role = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    content = table.Column<string>(type: "text", nullable: false),
                    tokens = table.Column<int>(type: "integer", nullable: false),
                    is_summary = table.Column<bool>(type: "boolean", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_short_term_messages", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_memories_expires_at",
                table: "memories",
                column: "expires_at",
                filter: "expires_at IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_memories_pending_embedding",
                table: "memories",
                column: "created_at",
                filter: "embedding IS NULL AND stale_at IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_memories_tenant_id_source",
                table: "memories",
                columns: new[] { "tenant_id", "source" });

            migrationBuilder.CreateIndex(
                name: "ix_memories_tenant_id_user_id_kind_created_at",
                table: "memories",
                columns: new[] { "tenant_id", "user_id", "kind", "created_at" });

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
                name: "ix_short_term_messages_expires_at",
                table: "short_term_messages",
                column: "expires_at",
                filter: "expires_at IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_short_term_messages_tenant_id_user_id_session_id_id",
                table: "short_term_messages",
                columns: new[] { "tenant_id", "user_id", "session_id", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "memories");

            migrationBuilder.DropTable(
                name: "memory_scopes");

            migrationBuilder.DropTable(
                name: "messaging_inbox_state");

            migrationBuilder.DropTable(
                name: "messaging_outbox_message");

            migrationBuilder.DropTable(
                name: "procedures");

            migrationBuilder.DropTable(
                name: "short_term_messages");
        }
    }
}
