using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.ToolGateway.Data.Migrations
{
    /// <inheritdoc />
    public partial class ToolLife : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "RetiredAt",
                table: "tools",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "RetiredBy",
                table: "tools",
                type: "character varying(401)",
                maxLength: 401,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "RetiredAt",
                table: "tools");

            migrationBuilder.DropColumn(
                name: "RetiredBy",
                table: "tools");
        }
    }
}
