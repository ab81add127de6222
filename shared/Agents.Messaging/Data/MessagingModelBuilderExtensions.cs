using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Agents.Messaging.Data;

/// <summary>Adds the durable-messaging tables to a service's EF Core model.</summary>
public static class MessagingModelBuilderExtensions
{
    /// <summary>Table of received messages per consumer (the inbox).</summary>
    public const string InboxTable = "messaging_inbox_state";

    /// <summary>Table of outgoing and scheduled messages (the outbox).</summary>
    public const string OutboxTable = "messaging_outbox_message";

    /// <summary>
    /// Maps <see cref="InboxState"/> and <see cref="OutboxMessage"/>. Call from the service DbContext's
    /// <c>OnModelCreating</c>; the service's EF Core migrations then create the tables and indexes.
    /// </summary>
    public static ModelBuilder AddAgentsMessaging(this ModelBuilder modelBuilder)
    {
        var inbox = modelBuilder.Entity<InboxState>();
        inbox.ToTable(InboxTable);
        inbox.HasKey(x => new { x.MessageId, x.ConsumerId });
        inbox.HasIndex(x => x.Received);
        SnakeCaseColumns(inbox);

        var outbox = modelBuilder.Entity<OutboxMessage>();
        outbox.ToTable(OutboxTable);
        outbox.HasKey(x => x.SequenceNumber);
        outbox.Property(x => x.SequenceNumber).UseIdentityAlwaysColumn();
        outbox.Property(x => x.SourceAddress).HasMaxLength(1024);
        outbox.Property(x => x.DestinationAddress).HasMaxLength(1024);
        outbox.Property(x => x.ResponseAddress).HasMaxLength(1024);
        outbox.Property(x => x.FaultAddress).HasMaxLength(1024);
        outbox.Property(x => x.ContentType).HasMaxLength(256);
        outbox.Property(x => x.HeadersJson).HasColumnType("text");
        outbox.Property(x => x.PropertiesJson).HasColumnType("text");
        outbox.Property(x => x.Body).HasColumnType("text");
        outbox.Ignore(x => x.Headers);
        outbox.Ignore(x => x.Properties);
        outbox.Ignore(x => x.Host);

        // The delivery query reads pending rows in order; the partial index keeps it small however many delivered rows wait for retention.
        outbox.HasIndex(x => x.SequenceNumber).HasDatabaseName("ix_messaging_outbox_message_pending").HasFilter("delivered IS NULL");
        outbox.HasIndex(x => x.DueTime).HasDatabaseName("ix_messaging_outbox_message_due").HasFilter("delivered IS NULL AND due_time IS NOT NULL");
        outbox.HasIndex(x => x.ScheduleTokenId).HasFilter("schedule_token_id IS NOT NULL");
        outbox.HasIndex(x => x.Delivered).HasFilter("delivered IS NOT NULL");
        SnakeCaseColumns(outbox);
        return modelBuilder;
    }

    private static void SnakeCaseColumns<T>(EntityTypeBuilder<T> builder)
        where T : class
    {
        foreach (var property in builder.Metadata.GetDeclaredProperties())
        {
            property.SetColumnName(ToSnakeCase(property.Name));
        }
    }

    internal static string ToSnakeCase(string name)
    {
        var result = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c) && i > 0)
            {
                result.Append('_');
            }

            result.Append(char.ToLowerInvariant(c));
        }

        return result.ToString();
    }
}
