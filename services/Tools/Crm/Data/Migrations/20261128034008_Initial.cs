using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

#pragma warning disable CA1814 // Prefer jagged arrays over multidimensional

namespace Agents.Tools.Crm.Data.Migrations
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "customers",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    id = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    email = table.Column<string>(type: "character varying(320)", maxLength: 320, nullable: false),
                    plan = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    region = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    customer_since = table.Column<DateOnly>(type: "date", nullable: false),
                    open_issues = table.Column<List<string>>(type: "text[]", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_customers", x => new { x.tenant_id, x.id });
                });

            migrationBuilder.InsertData(
                table: "customers",
                columns: new[] { "id", "tenant_id", "customer_since", "email", "name", "open_issues", "plan", "region" },
                values: new object[,]
                {
                    { "C-1001", "acme", new DateOnly(2018, 4, 1), "wile@acme.example", "Wile E. Coyote", new List<string> { "Rocket skates recalled" }, "pro", "us" },
                    { "C-2001", "acme", new DateOnly(2018, 4, 2), "beep@acme.example", "Road Runner", new List<string>(), "free", "us" },
                    { "C-1001", "demo", new DateOnly(2021, 3, 14), "ada@example.com", "Ada Lovelace", new List<string> { "Cannot reset password after SSO change", "Invoice shows duplicate seat charge" }, "enterprise", "eu" },
                    { "C-1002", "demo", new DateOnly(2022, 7, 1), "grace@example.com", "Grace Hopper", new List<string> { "Refund for annual plan downgrade" }, "pro", "us" },
                    { "C-1003", "demo", new DateOnly(2023, 1, 9), "alan@example.com", "Alan Turing", new List<string>(), "free", "eu" },
                    { "C-1004", "demo", new DateOnly(2020, 11, 23), "katherine@example.com", "Katherine Johnson", new List<string> { "Dashboard unavailable during outage" }, "pro", "us" },
                    { "C-1005", "demo", new DateOnly(2019, 5, 30), "edsger@example.com", "Edsger Dijkstra", new List<string> { "Password reset e-mail never arrives", "Export times out", "Wrong VAT on invoice" }, "enterprise", "eu" }
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "customers");
        }
    }
}
