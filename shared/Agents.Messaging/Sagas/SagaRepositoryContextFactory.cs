using MassTransit;
using MassTransit.Saga;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.Messaging.Sagas;

/// <summary>
/// Gives MassTransit's saga pipeline a repository context over the scope's
/// <typeparamref name="TDbContext"/>. Inside the inbox (the normal case) the saga joins the inbox
/// transaction, so its state, the inbox record and its outgoing messages commit together; without
/// it, the factory opens its own transaction and retries conflicts itself.
/// </summary>
internal sealed class SagaRepositoryContextFactory<TDbContext, TSaga>(
    TDbContext dbContext,
    ISagaConsumeContextFactory<DbContext, TSaga> consumeContextFactory,
    TimeProvider timeProvider,
    IOptions<DurableMessagingOptions> options) :
    ISagaRepositoryContextFactory<TSaga>,
    IQuerySagaRepositoryContextFactory<TSaga>,
    ILoadSagaRepositoryContextFactory<TSaga>
    where TDbContext : DbContext
    where TSaga : class, ISaga
{
    public Task Send<T>(ConsumeContext<T> context, IPipe<SagaRepositoryContext<TSaga, T>> next)
        where T : class =>
        WithinTransactionAsync(context.CancellationToken, saveAtEnd =>
            next.Send(new DbSagaRepositoryContext<TSaga, T>(dbContext, context, consumeContextFactory, saveAtEnd)));

    public Task SendQuery<T>(ConsumeContext<T> context, ISagaQuery<TSaga> query, IPipe<SagaRepositoryQueryContext<TSaga, T>> next)
        where T : class =>
        WithinTransactionAsync(context.CancellationToken, async saveAtEnd =>
        {
            var instances = await dbContext.Set<TSaga>().AsTracking().Where(query.FilterExpression).ToListAsync(context.CancellationToken);
            var repositoryContext = new DbSagaRepositoryContext<TSaga, T>(dbContext, context, consumeContextFactory, saveAtEnd);
            await next.Send(new LoadedSagaRepositoryQueryContext<TSaga, T>(repositoryContext, instances));
        });

    public Task<T> Execute<T>(Func<LoadSagaRepositoryContext<TSaga>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class =>
        asyncMethod(new DbSagaQueryContext<TSaga>(dbContext, cancellationToken));

    public Task<T> Execute<T>(Func<QuerySagaRepositoryContext<TSaga>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class =>
        asyncMethod(new DbSagaQueryContext<TSaga>(dbContext, cancellationToken));

    public void Probe(ProbeContext context) => context.Add("persistence", "agents-postgresql");

    /// <summary>
    /// Runs <paramref name="callback"/> in a transaction: the inbox's, when the message is consumed inside it (the
    /// callback learns that the inbox saves at its end), or one of its own, committed here (the callback saves).
    /// </summary>
    private async Task WithinTransactionAsync(CancellationToken cancellationToken, Func<bool, Task> callback)
    {
        if (dbContext.Database.CurrentTransaction is not null)
        {
            await callback(true);
            return;
        }

        var limit = Math.Max(1, options.Value.ConcurrencyRetryLimit);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // A failed statement fails the whole message (and its retry starts over): no savepoint around each SaveChanges,
                // which would be two more round trips every time.
                dbContext.Database.AutoSavepointsEnabled = false;
                await using var transaction = await dbContext.Database.BeginTransactionAsync(cancellationToken);
                await callback(false);
                await transaction.CommitAsync(cancellationToken);
                return;
            }
            catch (Exception ex) when (attempt < limit && ConflictDetection.IsRetryableConflict(ex))
            {
                await Task.Delay(ConflictDetection.Backoff(attempt), timeProvider, cancellationToken);
            }
            finally
            {
                dbContext.ChangeTracker.Clear();
            }
        }
    }
}
