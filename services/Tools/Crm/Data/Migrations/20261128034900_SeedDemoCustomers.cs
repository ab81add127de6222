using Agents.Tools.Crm.Data;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Tools.Crm.Data.Migrations
{
    /// <summary>
    /// Demo customers. Tenant <c>demo</c> is the one the README's demo uses; tenant <c>acme</c> reuses
    /// the id C-1001 for a different person, to show tenant isolation.
    /// </summary>
    [DbContext(typeof(CrmDbContext))]
    [Migration("20261128034900_SeedDemoCustomers")]
    public partial class SeedDemoCustomers : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
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
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DELETE FROM customers WHERE (tenant_id, id) IN (('demo','C-1001'),('demo','C-1002'),('demo','C-1003'),('demo','C-1004'),('demo','C-1005'),('acme','C-1001'),('acme','C-2001'));");
        }
    }
}
