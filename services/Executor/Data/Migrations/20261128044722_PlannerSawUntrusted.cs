using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Executor.Data.Migrations
{
    /// <inheritdoc />
    public partial class PlannerSawUntrusted : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "PlannerSawUntrusted",
                table: "task_runs",
                type: "boolean",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "PlannerSawUntrusted",
                table: "task_runs");
        }
    }
}
