using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Planner.Data.Migrations
{
    /// <inheritdoc />
    public partial class TemplateRollouts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "rollout",
                table: "plan_versions",
                type: "character varying(16)",
                maxLength: 16,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "template_rollouts",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    name = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    stable_version = table.Column<int>(type: "integer", nullable: false),
                    candidate_version = table.Column<int>(type: "integer", nullable: false),
                    percent = table.Column<int>(type: "integer", nullable: false),
                    updated_by = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_template_rollouts", x => new { x.tenant_id, x.name });
                    table.CheckConstraint("ck_template_rollouts_percent", "percent BETWEEN 0 AND 100");
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "template_rollouts");

            migrationBuilder.DropColumn(
                name: "rollout",
                table: "plan_versions");
        }
    }
}
