using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Governance.Data.Migrations
{
    /// <inheritdoc />
    public partial class LoopCountsDistinctSteps : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "step_ids",
                table: "tool_call_counts",
                type: "text",
                nullable: false,
                defaultValue: "");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "step_ids",
                table: "tool_call_counts");
        }
    }
}
