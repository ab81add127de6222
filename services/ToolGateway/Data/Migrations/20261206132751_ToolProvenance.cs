using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.ToolGateway.Data.Migrations
{
    /// <inheritdoc />
    public partial class ToolProvenance : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ArgumentClasses",
                table: "tools",
                type: "jsonb",
                nullable: false,
                defaultValueSql: "'{}'::jsonb");

            migrationBuilder.AddColumn<bool>(
                name: "SendsDataOut",
                table: "tools",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string[]>(
                name: "UntrustedOutputFields",
                table: "tools",
                type: "text[]",
                nullable: false,
                defaultValueSql: "'{}'::text[]");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "ArgumentClasses",
                table: "tools");

            migrationBuilder.DropColumn(
                name: "SendsDataOut",
                table: "tools");

            migrationBuilder.DropColumn(
                name: "UntrustedOutputFields",
                table: "tools");
        }
    }
}
