using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Executor.Data.Migrations
{
    /// <summary>The trace id of a task's run (the submission's W3C trace id), shown by the task API.</summary>
    [DbContext(typeof(ExecutorDbContext))]
    [Migration("20261206110000_TaskTraceId")]
    public partial class TaskTraceId : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "TraceId",
                table: "tasks",
                type: "character varying(32)",
                maxLength: 32,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(name: "TraceId", table: "tasks");
        }
    }
}
