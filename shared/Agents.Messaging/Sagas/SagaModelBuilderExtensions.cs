using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Agents.Messaging.Sagas;

/// <summary>EF Core mapping helpers for saga state.</summary>
public static class SagaModelBuilderExtensions
{
    /// <summary>
    /// Uses PostgreSQL's <c>xmin</c> system column as the saga row's concurrency token: an update of
    /// a row changed since it was loaded fails and the message is retried against the new state.
    /// </summary>
    public static EntityTypeBuilder<TSaga> HasXminConcurrencyToken<TSaga>(this EntityTypeBuilder<TSaga> builder)
        where TSaga : class, ISaga
    {
        builder.Property<uint>("xmin").HasColumnName("xmin").HasColumnType("xid").IsRowVersion();
        return builder;
    }
}
