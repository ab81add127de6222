using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Executor.Data.Migrations
{
    /// <summary>
    /// Every committed change of a task's row notifies channel <c>agents_task_changed</c> with the task id, so that event
    /// streams (in any executor replica) wake at once instead of polling. PostgreSQL delivers a notification only when
    /// its transaction commits, which is exactly when the change can be read.
    /// </summary>
    [DbContext(typeof(ExecutorDbContext))]
    [Migration("20261206080000_TaskChangeNotifications")]
    public partial class TaskChangeNotifications : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION agents_notify_task_changed() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('agents_task_changed', NEW."Id"::text);
                    RETURN NULL;
                END $$;
                CREATE TRIGGER tasks_notify_changed AFTER INSERT OR UPDATE ON tasks
                    FOR EACH ROW EXECUTE FUNCTION agents_notify_task_changed();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS tasks_notify_changed ON tasks;
                DROP FUNCTION IF EXISTS agents_notify_task_changed();
                """);
        }
    }
}
