using System;
using Microsoft.EntityFrameworkCore.Migrations;

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
                    table.PrimaryKey("PK_catalog_tools", x => x.name);
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
                    table.PrimaryKey("PK_plan_versions", x => new { x.plan_id, x.version });
                });

            migrationBuilder.CreateTable(
                name: "workflow_templates",
                columns: table => new
                {
                    name = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false),
                    description = table.Column<string>(type: "text", nullable: false),
                    parameters_json = table.Column<string>(type: "jsonb", nullable: false),
                    steps_json = table.Column<string>(type: "jsonb", nullable: false),
                    created_by = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_workflow_templates", x => new { x.name, x.version });
                });

            migrationBuilder.CreateIndex(
                name: "IX_plan_versions_task_id_version",
                table: "plan_versions",
                columns: new[] { "task_id", "version" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_plan_versions_tenant_id_task_id",
                table: "plan_versions",
                columns: new[] { "tenant_id", "task_id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "catalog_tools");

            migrationBuilder.DropTable(
                name: "plan_versions");

            migrationBuilder.DropTable(
                name: "workflow_templates");
        }
    }
}
