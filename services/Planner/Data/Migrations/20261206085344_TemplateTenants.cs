using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Planner.Data.Migrations
{
    /// <inheritdoc />
    public partial class TemplateTenants : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropPrimaryKey(
                name: "PK_workflow_templates",
                table: "workflow_templates");

            migrationBuilder.AddColumn<string>(
                name: "tenant_id",
                table: "workflow_templates",
                type: "character varying(128)",
                maxLength: 128,
                nullable: false,
                defaultValue: "");

            // Templates stored through the API before templates had tenants belong to the tenant that wrote them
            // (created_by is "tenant/user"); the seeded built-ins stay built-in (tenant "").
            migrationBuilder.Sql("UPDATE workflow_templates SET tenant_id = split_part(created_by, '/', 1) WHERE created_by <> 'seed' AND position('/' in created_by) > 1;");

            migrationBuilder.AddColumn<bool>(
                name: "retired",
                table: "workflow_templates",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddPrimaryKey(
                name: "PK_workflow_templates",
                table: "workflow_templates",
                columns: new[] { "tenant_id", "name", "version" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // Without tenants only one template may hold a name and version: keep the built-ins' and the first writer's.
            migrationBuilder.Sql("DELETE FROM workflow_templates t WHERE retired OR EXISTS (SELECT 1 FROM workflow_templates o WHERE o.name = t.name AND o.version = t.version AND o.tenant_id < t.tenant_id);");

            migrationBuilder.DropPrimaryKey(
                name: "PK_workflow_templates",
                table: "workflow_templates");

            migrationBuilder.DropColumn(
                name: "tenant_id",
                table: "workflow_templates");

            migrationBuilder.DropColumn(
                name: "retired",
                table: "workflow_templates");

            migrationBuilder.AddPrimaryKey(
                name: "PK_workflow_templates",
                table: "workflow_templates",
                columns: new[] { "name", "version" });
        }
    }
}
