using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agents.Memory.Data.Migrations
{
    /// <inheritdoc />
    public partial class PendingEmbeddings : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AlterColumn<float[]>(
                name: "embedding",
                table: "memories",
                type: "real[]",
                nullable: true,
                oldClrType: typeof(float[]),
                oldType: "real[]");

            migrationBuilder.AddColumn<Guid>(
                name: "embedding_claim",
                table: "memories",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "embedding_claimed_until",
                table: "memories",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_memories_pending_embedding",
                table: "memories",
                column: "created_at",
                filter: "embedding IS NULL AND stale_at IS NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_memories_pending_embedding",
                table: "memories");

            migrationBuilder.DropColumn(
                name: "embedding_claim",
                table: "memories");

            migrationBuilder.DropColumn(
                name: "embedding_claimed_until",
                table: "memories");

            migrationBuilder.AlterColumn<float[]>(
                name: "embedding",
                table: "memories",
                type: "real[]",
                nullable: false,
                defaultValue: new float[0],
                oldClrType: typeof(float[]),
                oldType: "real[]",
                oldNullable: true);
        }
    }
}
