using Agents.Tools.Crm.Data;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Tools.Crm.Data.Migrations
{
    /// <summary>
    /// The demo tenant's five customers again for tenant <c>bench</c>, the tenant the platform benchmark
    /// (benchmarks/Agents.Platform.Benchmarks) runs in with its own policy and budgets.
    /// </summary>
    [DbContext(typeof(CrmDbContext))]
    [Migration("20261128060000_SeedBenchmarkCustomers")]
    public partial class SeedBenchmarkCustomers : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                """
                INSERT INTO customers (tenant_id, id, name, email, plan, region, customer_since, open_issues)
                SELECT 'bench', id, name, email, plan, region, customer_since, open_issues FROM customers
                WHERE tenant_id = 'demo' AND id IN ('C-1001', 'C-1002', 'C-1003', 'C-1004', 'C-1005')
                ON CONFLICT DO NOTHING;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DELETE FROM customers WHERE tenant_id = 'bench';");
        }
    }
}
