using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Executor.Data.Migrations
{
    /// <summary>
    /// Keeps a run's row in one piece: the row is rewritten on every step, and past 2 kB (the default TOAST target)
    /// each rewrite also compressed values and wrote new TOAST chunks and deleted the old ones (about 15 TOAST rows per
    /// 3-step task). Rows now stay uncompressed inline up to a page (<c>toast_tuple_target = 8160</c>); beyond that the
    /// large columns (steps, plan, request, result: <c>STORAGE MAIN</c>) are compressed in the row before anything
    /// moves out of line.
    /// </summary>
    [DbContext(typeof(ExecutorDbContext))]
    [Migration("20261206150000_RunStateInline")]
    public partial class RunStateInline : Migration
    {
        private static readonly string[] Columns = ["Steps", "Plan", "RequestedSteps", "Parameters", "Result"];

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("ALTER TABLE task_runs SET (toast_tuple_target = 8160);");
            foreach (var column in Columns)
            {
                migrationBuilder.Sql($"""ALTER TABLE task_runs ALTER COLUMN "{column}" SET STORAGE MAIN;""");
            }
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("ALTER TABLE task_runs RESET (toast_tuple_target);");
            foreach (var column in Columns)
            {
                migrationBuilder.Sql($"""ALTER TABLE task_runs ALTER COLUMN "{column}" SET STORAGE EXTENDED;""");
            }
        }
    }
}
