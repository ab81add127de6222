using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Tools.Crm.Data.Migrations
{
    /// <summary>
    /// The CRM's customers, with the demo, acme and bench tenants' sample customers.
    /// </summary>
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

            // Demo customers. Tenant demo is the one the README's demo uses; tenant acme reuses the id C-1001 for a
            // different person, to show tenant isolation; tenant bench (the platform benchmark's) has demo's five.
            migrationBuilder.Sql(
                """
                INSERT INTO customers (tenant_id, id, name, email, plan, region, customer_since, open_issues) VALUES
                ('demo', 'C-1001', 'Ada Lovelace', 'ada@example.com', 'enterprise', 'eu', '2021-03-14', ARRAY['Cannot reset password after SSO change', 'Invoice shows duplicate seat charge']),
                ('demo', 'C-1002', 'Grace Hopper', 'grace@example.com', 'pro', 'us', '2022-07-01', ARRAY['Refund for annual plan downgrade']),
                ('demo', 'C-1003', 'Alan Turing', 'alan@example.com', 'free', 'eu', '2023-01-09', ARRAY[]::text[]),
                ('demo', 'C-1004', 'Katherine Johnson', 'katherine@example.com', 'pro', 'us', '2020-11-23', ARRAY['Dashboard unavailable during outage']),
                ('demo', 'C-1005', 'Edsger Dijkstra', 'edsger@example.com', 'enterprise', 'eu', '2019-05-30', ARRAY['Password reset e-mail never arrives', 'Export times out', 'Wrong VAT on invoice']),
                ('acme', 'C-1001', 'Wile E. Coyote', 'wile@acme.example', 'pro', 'us', '2018-04-01', ARRAY['Rocket skates recalled']),
                ('acme', 'C-2001', 'Road Runner', 'beep@acme.example', 'free', 'us', '2018-04-02', ARRAY[]::text[]);
                INSERT INTO customers (tenant_id, id, name, email, plan, region, customer_since, open_issues)
                SELECT 'bench', id, name, email, plan, region, customer_since, open_issues FROM customers WHERE tenant_id = 'demo';
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "customers");


        }
    }
}
