using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Governance.Data.Migrations
{
    /// <inheritdoc />
    public partial class RetentionIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "IX_processed_messages_processed_at",
                table: "processed_messages",
                column: "processed_at");

            migrationBuilder.CreateIndex(
                name: "IX_model_reservations_day",
                table: "model_reservations",
                column: "day",
                filter: "settled_at IS NULL");

            migrationBuilder.CreateIndex(
                name: "IX_model_reservations_reserved_at",
                table: "model_reservations",
                column: "reserved_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_processed_messages_processed_at",
                table: "processed_messages");

            migrationBuilder.DropIndex(
                name: "IX_model_reservations_day",
                table: "model_reservations");

            migrationBuilder.DropIndex(
                name: "IX_model_reservations_reserved_at",
                table: "model_reservations");
        }
    }
}
