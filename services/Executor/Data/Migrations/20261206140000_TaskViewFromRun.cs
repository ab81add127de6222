using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Executor.Data.Migrations
{
    /// <summary>
    /// The run's plan, steps, usage, limits and result live only in the saga's row (<c>task_runs</c>); the task row stops
    /// carrying a copy rewritten on every step. Event streams are woken by each new entry of a task's event log instead of
    /// by every update of the task row, which now changes only when the run changes state.
    /// </summary>
    [DbContext(typeof(ExecutorDbContext))]
    [Migration("20261206140000_TaskViewFromRun")]
    public partial class TaskViewFromRun : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            foreach (var column in Columns)
            {
                migrationBuilder.DropColumn(name: column, table: "tasks");
            }

            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS tasks_notify_changed ON tasks;
                CREATE OR REPLACE FUNCTION agents_notify_task_event() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('agents_task_changed', NEW."TaskId"::text);
                    RETURN NULL;
                END $$;
                CREATE TRIGGER task_events_notify_changed AFTER INSERT ON task_events
                    FOR EACH ROW EXECUTE FUNCTION agents_notify_task_event();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS task_events_notify_changed ON task_events;
                DROP FUNCTION IF EXISTS agents_notify_task_event();
                CREATE TRIGGER tasks_notify_changed AFTER INSERT OR UPDATE ON tasks
                    FOR EACH ROW EXECUTE FUNCTION agents_notify_task_changed();
                """);
            foreach (var column in Columns)
            {
                migrationBuilder.AddColumn<string>(name: column, table: "tasks", type: "jsonb", nullable: true);
            }
        }

        private static readonly string[] Columns = ["Plan", "Steps", "Result", "Usage", "Limits"];
    }
}
