using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Governance.Data.Migrations
{
    /// <inheritdoc />
    public partial class AuthorizationResponses : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "response",
                table: "processed_messages",
                type: "text",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "response",
                table: "processed_messages");
        }
    }
}
