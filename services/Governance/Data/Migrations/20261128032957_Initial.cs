using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Governance.Data.Migrations
{
    /// <inheritdoc />
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
                    requested_by = table.Column<string>(type: "text", nullable: false),
                    reason = table.Column<string>(type: "text", nullable: false),
                    approver_roles = table.Column<string[]>(type: "text[]", nullable: false),
                    status = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    escalated = table.Column<bool>(type: "boolean", nullable: false),
                    decided_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    decided_by = table.Column<string>(type: "text", nullable: true),
                    comment = table.Column<string>(type: "text", nullable: true),
                    decision_published = table.Column<bool>(type: "boolean", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_approvals", x => x.id);
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
                    table.PrimaryKey("PK_audit_entries", x => new { x.tenant_id, x.sequence });
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
                    table.PrimaryKey("PK_audit_heads", x => x.tenant_id);
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
                    table.PrimaryKey("PK_daily_usage", x => new { x.tenant_id, x.day, x.user_id });
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
                    table.PrimaryKey("PK_kill_switches", x => new { x.tenant_id, x.tool });
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
                    table.PrimaryKey("PK_policies", x => new { x.tenant_id, x.version });
                });

            migrationBuilder.CreateTable(
                name: "processed_messages",
                columns: table => new
                {
                    key = table.Column<string>(type: "text", nullable: false),
                    processed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_processed_messages", x => x.key);
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
                    finished_status = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_task_budgets", x => x.task_id);
                });

            migrationBuilder.CreateTable(
                name: "tool_call_counts",
                columns: table => new
                {
                    task_id = table.Column<Guid>(type: "uuid", nullable: false),
                    tool = table.Column<string>(type: "text", nullable: false),
                    arguments_hash = table.Column<string>(type: "text", nullable: false),
                    count = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_tool_call_counts", x => new { x.task_id, x.tool, x.arguments_hash });
                });

            migrationBuilder.CreateIndex(
                name: "IX_approvals_status_expires_at",
                table: "approvals",
                columns: new[] { "status", "expires_at" });

            migrationBuilder.CreateIndex(
                name: "IX_approvals_task_id_step_id",
                table: "approvals",
                columns: new[] { "task_id", "step_id" });

            migrationBuilder.CreateIndex(
                name: "IX_approvals_tenant_id_status",
                table: "approvals",
                columns: new[] { "tenant_id", "status" });

            migrationBuilder.CreateIndex(
                name: "IX_audit_entries_tenant_id_task_id",
                table: "audit_entries",
                columns: new[] { "tenant_id", "task_id" });

            migrationBuilder.CreateIndex(
                name: "IX_task_budgets_tenant_id_day",
                table: "task_budgets",
                columns: new[] { "tenant_id", "day" });
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
                name: "policies");

            migrationBuilder.DropTable(
                name: "processed_messages");

            migrationBuilder.DropTable(
                name: "task_budgets");

            migrationBuilder.DropTable(
                name: "tool_call_counts");
        }
    }
}
